// Delivers the apiserver's OIDC settings to Talos control-plane nodes. The patch
// is always an output (for ksail or talosctl users); when nodes are configured
// the node agent (agent.ts) applies the settings with talosctl, composing them
// with what each node holds, node by node, and reverts them on destroy.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { TalosVersion } from "../config/types";
import type { OidcContract } from "../contract/contract";
import { REFUSAL } from "./compose";
import { ownedSettings, talosPatchDocuments } from "./plan";
import { toYamlStream } from "./render";

export interface TalosApiServerPatchArgs {
    contract: OidcContract;
    version: TalosVersion;
    /** Control-plane node addresses; empty means "render only". */
    nodes: string[];
    /** The address the issuer's name resolves to on the nodes, written to their /etc/hosts. */
    issuerAddress?: string;
    /** talosMigration: the 1.13 flags may be replaced by the 1.14 document. */
    migrationConfirmed: boolean;
    /** The stack's kubernetes:context: the agent reads each node's apiserver metrics with its credentials. */
    kubernetesContext: string;
}

/**
 * How the command provider runs the agent: Node runs the TypeScript file as it
 * is, from the project directory, where the engine runs its providers.
 */
export const AGENT = "node --disable-warning=MODULE_TYPELESS_PACKAGE_JSON talos/agent.ts";

export class TalosApiServerPatch extends pulumi.ComponentResource {
    readonly patchYaml: string;

    /** `opts.dependsOn` holds the apply back until what the settings point at (Dex, the RBAC) exists. */
    constructor(name: string, args: TalosApiServerPatchArgs, opts?: pulumi.ComponentResourceOptions) {
        super("platform-auth:auth:TalosApiServerPatch", name, {}, opts);
        this.patchYaml = toYamlStream(talosPatchDocuments(args.contract, args.version, args.issuerAddress));
        if (args.nodes.length > 0) {
            const environment = {
                TALOS_NODES: args.nodes.join(" "),
                TALOS_OWNED: JSON.stringify(ownedSettings(args.contract, args.version, args.issuerAddress, args.migrationConfirmed)),
                TALOS_KUBE_CONTEXT: args.kubernetesContext,
            };
            // Every preview reads the nodes: it refuses an unconfirmed 1.13 -> 1.14 migration
            // before anything changes, and says what else each node holds and keeps.
            const inspected = logged(command.local.runOutput({ command: `${AGENT} inspect`, environment }, { parent: this }), this);
            // No triggers: a change is an update, which the provider runs with `create`
            // (and the previous run's stdout), so nodes are never all reverted first. Only a
            // forced replacement reverts: first, or the old delete would revert the new apply.
            const apply = new command.local.Command(
                `${name}-apply`,
                { create: `${AGENT} apply`, delete: `${AGENT} revert`, environment: inspected.apply(() => environment) },
                { parent: this, dependsOn: opts?.dependsOn, deleteBeforeReplace: true },
            );
            // The Command cannot read the nodes back, so a check reads them on every run,
            // after the apply: in a preview it runs only while the Command is unchanged.
            logged(
                command.local.runOutput({
                    command: `${AGENT} drift`,
                    environment: apply.stdout.apply(() => ({ ...environment, TALOS_DRY_RUN: String(pulumi.runtime.isDryRun()) })),
                }, { parent: this }),
                this,
            );
        }
        this.registerOutputs({ patchYaml: this.patchYaml });
    }
}

/** The agent's report, in the engine's output under this resource; a refusal ends the run with its message alone. */
function logged(result: pulumi.Output<command.local.RunResult>, resource: pulumi.Resource): pulumi.Output<string> {
    return result.apply(({ stdout = "" }) => {
        const refusals = stdout.split("\n").filter((line) => line.startsWith(REFUSAL));
        if (refusals.length > 0) throw new pulumi.RunError(refusals.map((line) => `talos: ${line.slice(REFUSAL.length)}`).join("\n"));
        if (stdout) pulumi.log.info(stdout, resource);
        return stdout;
    });
}
