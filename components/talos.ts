// Delivers the apiserver's OIDC settings to Talos control-plane nodes. The patch
// is always an output (for ksail or talosctl users); when nodes are configured
// it is also applied with talosctl and reverted on destroy.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { TalosVersion } from "./config";
import type { OidcContract } from "../lib/contract";
import { talosctlPatchScript, talosPatchDocuments, talosRevertDocuments, toYamlStream } from "../lib/talos";

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
            const apply = talosctlPatchScript("TALOS_PATCH");
            new command.local.Command(
                `${name}-apply`,
                {
                    create: apply,
                    // An update re-applies in place; replacing would run the old revert after the new apply.
                    update: apply,
                    delete: talosctlPatchScript("TALOS_REVERT_PATCH"),
                    interpreter: ["/bin/sh", "-c"],
                    environment: {
                        TALOS_NODES: args.nodes.join(" "),
                        TALOS_PATCH: this.patchYaml,
                        TALOS_REVERT_PATCH: toYamlStream(talosRevertDocuments(args.contract, args.version)),
                    },
                },
                { parent: this },
            );
        }
        this.registerOutputs({ patchYaml: this.patchYaml });
    }
}
