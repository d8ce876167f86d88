// Delivers the apiserver's OIDC settings to Talos control-plane nodes. The patch
// is always an output (for ksail or talosctl users); when nodes are configured
// it is also applied with talosctl and reverted on destroy.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { TalosVersion } from "../config/types";
import type { OidcContract } from "../contract/contract";
import { talosApplyEnvironment, talosApplyPlan, talosctlApplyScript, talosctlRevertScript, talosPatchDocuments, toYamlStream } from "./render";

export interface TalosApiServerPatchArgs {
    contract: OidcContract;
    version: TalosVersion;
    /** Control-plane node addresses; empty means "render only". */
    nodes: string[];
}

export class TalosApiServerPatch extends pulumi.ComponentResource {
    readonly patchYaml: string;

    constructor(name: string, args: TalosApiServerPatchArgs, opts?: pulumi.ComponentResourceOptions) {
        super("platform-auth:auth:TalosApiServerPatch", name, {}, opts);
        this.patchYaml = toYamlStream(talosPatchDocuments(args.contract, args.version));
        if (args.nodes.length > 0) {
            const plan = talosApplyPlan(args.contract, args.version);
            const inputs = {
                create: talosctlApplyScript(plan),
                delete: talosctlRevertScript(plan),
                interpreter: ["/bin/sh", "-c"],
                environment: talosApplyEnvironment(plan, args.nodes),
            };
            new command.local.Command(
                `${name}-apply`,
                // Any change replaces the command, reverting the old settings (with the old
                // nodes and patch) before applying the new: flags never linger from an old
                // plan, and 1.13 flags never meet the 1.14 document.
                { ...inputs, triggers: [inputs] },
                { parent: this, deleteBeforeReplace: true },
            );
        }
        this.registerOutputs({ patchYaml: this.patchYaml });
    }
}
