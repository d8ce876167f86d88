// Delivers the apiserver's OIDC settings to Talos control-plane nodes. The patch
// is always an output (for ksail or talosctl users); when nodes are configured
// the node agent (agent.ts) applies the settings with talosctl, composing them
// with what each node holds, node by node, and reverts them on destroy.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { TalosVersion } from "../config/types";
import type { OidcContract } from "../contract/contract";
import { AGENT, agentReport } from "./inspect";
import { talosPatchDocuments } from "./plan";
import { toYamlStream } from "./render";

export interface TalosApiServerPatchArgs {
    contract: OidcContract;
    version: TalosVersion;
    /** The address the issuer's name resolves to on the nodes, written to their /etc/hosts. */
    issuerAddress?: string;
    /** The node agent's environment (plan.ts, agentEnvironment); none means "render only". */
    agent?: Record<string, string>;
}

export class TalosApiServerPatch extends pulumi.ComponentResource {
    readonly patchYaml: string;

    /** `opts.dependsOn` holds the apply back until what the settings point at (Dex, the RBAC) exists. */
    constructor(name: string, args: TalosApiServerPatchArgs, opts?: pulumi.ComponentResourceOptions) {
        super("platform-auth:auth:TalosApiServerPatch", name, {}, opts);
        this.patchYaml = toYamlStream(talosPatchDocuments(args.contract, args.version, args.issuerAddress));
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
            // The Command cannot read the nodes back, so a check reads them on every run,
            // after the apply: in a preview it runs only while the Command is unchanged.
            command.local
                .runOutput({ command: `${AGENT} drift`, environment: apply.stdout.apply(() => ({ ...environment, TALOS_DRY_RUN: String(pulumi.runtime.isDryRun()) })) }, { parent: this })
                .apply(({ stdout = "" }) => {
                    const report = agentReport(stdout);
                    if (report.notes.length > 0) pulumi.log.info(report.notes.join("\n"), this);
                    // A RunError fails the run (log.error would not fail a preview) with its message alone; nothing
                    // depends on this check, so no resource registration turns it into a stack trace.
                    if (report.refusals.length > 0) throw new pulumi.RunError(report.refusals.map((r) => `talos: ${r.message}`).join("\n"));
                });
        }
        this.registerOutputs({ patchYaml: this.patchYaml });
    }
}
