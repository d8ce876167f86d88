// Delivers the apiserver's OIDC settings to Talos control-plane nodes. The patch
// is always an output (for ksail or talosctl users); when nodes are configured
// it is also applied with talosctl, node by node, and reverted on destroy.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { TalosVersion } from "../config/types";
import type { OidcContract } from "../contract/contract";
import { talosApplyPlan, talosPatchDocuments } from "./plan";
import { toYamlStream } from "./render";
import { talosApplyEnvironment, talosctlApplyScript, talosctlDriftCheckScript, talosctlMigrationCheckScript, talosctlRevertScript } from "./scripts";

export interface TalosApiServerPatchArgs {
    contract: OidcContract;
    version: TalosVersion;
    /** Control-plane node addresses; empty means "render only". */
    nodes: string[];
    /** The address the issuer's name resolves to on the nodes, written to their /etc/hosts. */
    issuerAddress?: string;
    /** talosMigration: the 1.13 flags may be replaced by the 1.14 document. */
    migrationConfirmed: boolean;
}

export class TalosApiServerPatch extends pulumi.ComponentResource {
    readonly patchYaml: string;

    /** `opts.dependsOn` holds the apply back until what the settings point at (Dex, the RBAC) exists. */
    constructor(name: string, args: TalosApiServerPatchArgs, opts?: pulumi.ComponentResourceOptions) {
        super("platform-auth:auth:TalosApiServerPatch", name, {}, opts);
        this.patchYaml = toYamlStream(talosPatchDocuments(args.contract, args.version, args.issuerAddress));
        if (args.nodes.length > 0) {
            const plan = talosApplyPlan(args.contract, args.version, args.issuerAddress);
            const environment = talosApplyEnvironment(plan, args.nodes, args.migrationConfirmed);
            // Refuses an unconfirmed 1.13 -> 1.14 migration in the preview already; the
            // apply waits for it, and refuses again per node.
            const migrationChecked =
                plan.migrateFrom.length > 0
                    ? command.local.runOutput({ command: talosctlMigrationCheckScript(plan), environment }, { parent: this }).apply(() => environment)
                    : environment;
            // No triggers: a change is an update, which the provider runs with `create`
            // (and the previous run's stdout), so nodes are never all reverted first. Only a
            // forced replacement reverts: first, or the old delete would revert the new apply.
            const apply = new command.local.Command(
                `${name}-apply`,
                { create: talosctlApplyScript(plan), delete: talosctlRevertScript(plan), interpreter: ["/bin/sh", "-c"], environment: migrationChecked },
                { parent: this, dependsOn: opts?.dependsOn, deleteBeforeReplace: true },
            );
            // The Command cannot read the nodes back, so a check reads them on every run,
            // after the apply: in a preview it runs only while the Command is unchanged.
            command.local.runOutput(
                {
                    command: talosctlDriftCheckScript(plan),
                    environment: apply.stdout.apply(() => ({
                        ...environment,
                        TALOS_REPAIR: process.env.PLATFORM_AUTH_TALOS_REPAIR === "1" ? "1" : "",
                        TALOS_DRY_RUN: String(pulumi.runtime.isDryRun()),
                    })),
                },
                { parent: this },
            ).apply((result) => result.stdout && pulumi.log.info(result.stdout, this));
        }
        this.registerOutputs({ patchYaml: this.patchYaml });
    }
}
