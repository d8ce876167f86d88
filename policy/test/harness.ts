// Drives the registered pack the way the CrossGuard server does, over the real
// program's resources (as runStack records them) or synthetic ones.
import type { PolicyResource, PolicyResourceOptions, ResourceValidationArgs, StackValidationArgs } from "@pulumi/policy";
import { makeCa } from "../../lab/pki";
import { reveal, runStack } from "../../lab/stack";
import { USER_KEYS } from "../../lab/stack-file";
import { policies } from "../rules";
import type { Resource } from "../rules/resource";
import { COMMAND_TYPE, TALOS_PATCH_TYPE } from "../rules/tls-issuer";

export interface Violation {
    policy: string;
    message: string;
    urn?: string;
}

const OPTS: PolicyResourceOptions = {
    protect: false,
    ignoreChanges: [],
    aliases: [],
    customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
    additionalSecretOutputs: [],
};
const notApplicable = (reason?: string): never => {
    throw new Error(`notApplicable: ${reason}`);
};

/** Runs every policy of the pack; `config` is per policy name, as `--policy-pack-config` gives it. */
export async function runPack(resources: Resource[], config: Record<string, object> = {}): Promise<Violation[]> {
    const violations: Violation[] = [];
    const stackTags = new Map<string, string>();
    const withUrn = resources.map((r) => ({ ...r, urn: r.urn ?? `urn:pulumi:test::platform-auth::${r.type}::${r.name}` }));
    for (const policy of policies) {
        const getConfig = <T extends object>() => (config[policy.name] ?? {}) as T;
        const report = (message: string, urn?: string) => violations.push({ policy: policy.name, message, urn });
        if ("validateStack" in policy) {
            const policyResources: PolicyResource[] = withUrn.map((r) => ({
                ...r,
                opts: OPTS,
                dependencies: [],
                propertyDependencies: {},
                isType: () => false,
                asType: () => undefined,
            }));
            const args: StackValidationArgs = { resources: policyResources, stackTags, getConfig, notApplicable };
            await policy.validateStack(args, report);
        } else {
            const validations = [policy.validateResource ?? []].flat();
            for (const r of withUrn) {
                const args: ResourceValidationArgs = { ...r, opts: OPTS, stackTags, isType: () => false, asType: () => undefined, getConfig, notApplicable };
                for (const validate of validations) await validate(args, (message) => report(message, r.urn));
            }
        }
    }
    return violations;
}

/**
 * The program's resources as the pack's stack policies see them: secrets already
 * unwrapped by CrossGuard, and each component with the outputs it registered
 * (the engine hands stack policies outputs; the mock records a component's empty inputs).
 * The local stack requires an issuer CA, so it gets a fresh one.
 */
export async function programResources(stack: "local" | "prod", overrides: Record<string, string> = {}): Promise<Resource[]> {
    const keys = stack === "local" ? { ...USER_KEYS, issuerCaPem: makeCa("policy-test").certPem } : USER_KEYS;
    const run = await runStack(stack, keys, overrides);
    const talosOutputs = { patchYaml: run.outputs.talosPatch };
    return run.resources.map((r) => ({
        type: r.type,
        name: r.name,
        props: r.type === TALOS_PATCH_TYPE ? talosOutputs : reveal<Record<string, unknown>>(r.inputs),
    }));
}

/** Where the stack holds the apiserver's Talos patch: the component always, the talosctl Command when nodes are set. */
export function talosPatchHolders(resources: Resource[]): Resource[] {
    return resources.filter((r) => r.type === TALOS_PATCH_TYPE || r.type === COMMAND_TYPE);
}

/** The settings text one holder carries: the patch (YAML), or the node agent's settings (JSON). */
export function patchOf(holder: Resource): string {
    const patch = holder.type === TALOS_PATCH_TYPE ? holder.props.patchYaml : (holder.props.environment as Record<string, unknown>).TALOS_OWNED;
    if (typeof patch !== "string") throw new Error(`${holder.type}/${holder.name} holds no patch text`);
    return patch;
}

/** Rewrites the patch in every holder among `resources`, as an edit to the program would. */
export function editTalosPatch(resources: Resource[], edit: (patch: string) => string): void {
    for (const holder of talosPatchHolders(resources)) {
        if (holder.type === TALOS_PATCH_TYPE) holder.props.patchYaml = edit(patchOf(holder));
        else (holder.props.environment as Record<string, unknown>).TALOS_OWNED = edit(patchOf(holder));
    }
}
