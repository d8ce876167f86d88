// Runs the real program under Pulumi's mock engine, with a stack's real
// Pulumi.<stack>.yaml plus the user-set keys, and records every resource.
import * as pulumi from "@pulumi/pulumi";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import { PROJECT } from "../config/types";
import { platformAuth, type ClusterAccess } from "../program";
import { programObjects } from "../preflight/existing";
import type { TeamLookup } from "../github/adopt";
import type { OrgLookup } from "../github/org";
import { stackFileConfig } from "./stack-file";

export interface RecordedResource {
    type: string;
    name: string;
    inputs: Record<string, any>;
    deleteBeforeReplace: boolean;
    /** The provider reference (`<urn>::<id>`) the resource was registered with, if any. */
    provider?: string;
}

/**
 * The mock engine hands `newResource` no resource options, so read the one
 * that matters for ordering (deleteBeforeReplace) off the registration request.
 */
const deleteBeforeReplace = new Map<string, boolean>();
const registerResource = MockMonitor.prototype.registerResource;
MockMonitor.prototype.registerResource = function (this: MockMonitor, req: any, callback: any) {
    deleteBeforeReplace.set(`${req.getType()}::${req.getName()}`, req.getDeletebeforereplace());
    return registerResource.call(this, req, callback);
};

export type Outputs = Awaited<ReturnType<typeof platformAuth>>;

const PROGRAM_OBJECT_PATHS = new Set((["httproute", "ingress"] as const).flatMap((kind) => programObjects(kind).map((object) => object.path)));

/** A fresh cluster: it serves whatever the exposure preflight asks about and holds none of the program's objects; tests of the preflight pass their own. */
export const readyCluster: ClusterAccess = () => async (path) =>
    PROGRAM_OBJECT_PATHS.has(path)
        ? { status: 404, body: JSON.stringify({ kind: "Status", reason: "NotFound" }) }
        : { status: 200, body: JSON.stringify(path.endsWith("/v1") ? { resources: [{ name: "httproutes" }] } : {}) };

export interface StackRun {
    resources: RecordedResource[];
    outputs: Outputs;
    /** Resolves an output (or plain value) the program returned. */
    value<T>(input: pulumi.Input<T>): Promise<T>;
}

/**
 * Runs the program for `stack`. `userKeys` are the hand-set keys (without the
 * project prefix); `overrides` replace stack-file values (undefined removes one).
 */
export async function runStack(
    stack: string,
    userKeys: Record<string, string>,
    overrides: Record<string, string | undefined> = {},
    cluster: ClusterAccess = readyCluster,
    /** Answers to invokes by token, and the stack's last outputs (pulumi:pulumi:StackReference); any other invoke echoes its inputs. */
    answers: Record<string, (inputs: Record<string, unknown>) => Record<string, unknown>> = {},
    /** GitHub's teams as the program finds them before any resource: by default, none yet. */
    teams: TeamLookup = async () => undefined,
    /** The org's login as GitHub spells it: by default, as configured. */
    org: OrgLookup = async (name) => name,
    /** A preview (the default), or an update. */
    preview = true,
): Promise<StackRun> {
    const resources: RecordedResource[] = [];
    await pulumi.runtime.setMocks(
        {
            newResource(args) {
                // The stack's own last outputs (github teams read them back): none, unless a test answers them.
                if (args.type === "pulumi:pulumi:StackReference") return { id: args.name, state: { ...args.inputs, outputs: answers[args.type]?.(args.inputs) ?? {} } };
                resources.push({ type: args.type, name: args.name, inputs: args.inputs, deleteBeforeReplace: deleteBeforeReplace.get(`${args.type}::${args.name}`) ?? false, provider: args.provider });
                return { id: `${args.name}-id`, state: args.inputs };
            },
            call: (args) => answers[args.token]?.(args.inputs) ?? args.inputs,
        },
        PROJECT,
        stack,
        preview,
        // The diy backend's organization, as the e2e's engine has it.
        "organization",
    );
    const config: Record<string, string> = { ...stackFileConfig(stack) };
    for (const [key, value] of Object.entries({ ...userKeys, ...overrides })) {
        const fullKey = key.includes(":") ? key : `${PROJECT}:${key}`;
        if (value === undefined) delete config[fullKey];
        else config[fullKey] = value;
    }
    pulumi.runtime.setAllConfig(config, [`${PROJECT}:githubClientSecret`]);
    let outputs: Outputs;
    try {
        outputs = await platformAuth(cluster, teams, org);
    } catch (error) {
        await settle();
        throw new ProgramFailed(error as Error, resources);
    }
    await settle();
    return {
        resources,
        outputs,
        value: <T>(input: pulumi.Input<T>) =>
            new Promise<T>((resolve) => pulumi.output(input).apply((v) => resolve(v as T))),
    };
}

/** The program threw; `resources` is what it had registered by then. */
export class ProgramFailed extends Error {
    constructor(
        readonly error: Error,
        readonly resources: RecordedResource[],
    ) {
        super(error.message);
    }
}

/** Waits until the mock engine has answered every registration the program made. */
async function settle(): Promise<void> {
    await pulumi.runtime.disconnect();
}

/** Pulumi's wire signature for a secret value. */
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const SIG_KEY = "4dabf18193072939515e22adb298388d";

export function isSecretValue(value: unknown): value is { value: unknown } {
    return typeof value === "object" && value !== null && (value as Record<string, unknown>)[SIG_KEY] === SECRET_SIG;
}

/** The value with every secret wrapper removed. */
export function reveal<T = any>(value: unknown): T {
    if (isSecretValue(value)) return reveal(value.value);
    if (Array.isArray(value)) return value.map(reveal) as T;
    if (typeof value === "object" && value !== null) {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, reveal(v)])) as T;
    }
    return value as T;
}
