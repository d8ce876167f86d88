// Delivers the apiserver's OIDC settings to Talos control-plane nodes. The patch
// is always an output (for ksail or talosctl users); when nodes are configured
// the node agent (agent.ts) applies the settings with talosctl, composing them
// with what each node holds, node by node, and reverts them on destroy.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { TalosVersion } from "../config/types";
import type { OidcContract } from "../contract/contract";
import { AGENT, settingsDigest } from "./inspect";
import { talosPatchYaml } from "./plan";

export interface TalosApiServerPatchArgs {
    contract: OidcContract;
    version: TalosVersion;
    /** The address the issuer's name resolves to on the nodes, written to their /etc/hosts. */
    issuerAddress?: string;
    /** The node agent's environment (plan.ts, agentEnvironment); none means "render only". */
    agent?: Record<string, string>;
    /** PLATFORM_AUTH_TALOS_REPAIR=1: re-apply the settings to the nodes that lost them. */
    repair?: boolean;
}

export class TalosApiServerPatch extends pulumi.ComponentResource {
    readonly patchYaml: string;
    /** The digest of the settings the nodes were given, once the apply succeeded (inspect.ts, settingsDigest). */
    readonly appliedSettings?: pulumi.Output<string>;

    /** `opts.dependsOn` holds the apply back until what the settings point at (Dex, the RBAC) exists. */
    constructor(name: string, args: TalosApiServerPatchArgs, opts?: pulumi.ComponentResourceOptions) {
        super("platform-auth:auth:TalosApiServerPatch", name, {}, opts);
        this.patchYaml = talosPatchYaml(args.contract, args.version, args.issuerAddress);
        if (args.agent) {
            const environment = args.agent;
            // No triggers: a change is an update, which the provider runs with `create`
            // (and the previous run's stdout), so nodes are never all reverted first. Only a
            // forced replacement reverts: first, or the old delete would revert the new apply.
            const apply = new command.local.Command(
                `${name}-apply`,
                { create: `${AGENT} apply`, delete: `${AGENT} revert`, environment },
                { parent: this, dependsOn: opts?.dependsOn, deleteBeforeReplace: true },
            );
            // Only after a successful apply: a failed one must not make its settings look applied.
            this.appliedSettings = apply.stdout.apply(() => settingsDigest(environment));
            // Drift is found before any resource (program.ts); a repair re-applies the nodes that lack
            // the settings after the apply, as the Command, unchanged, would not run.
            if (args.repair) {
                command.local
                    .runOutput({ command: `${AGENT} repair`, environment: apply.stdout.apply(() => ({ ...environment, TALOS_DRY_RUN: String(pulumi.runtime.isDryRun()) })) }, { parent: this })
                    .apply(({ stdout = "" }) => stdout && pulumi.log.info(stdout, this));
            }
        }
        this.registerOutputs({ patchYaml: this.patchYaml, appliedSettings: this.appliedSettings });
    }
}
