// The Talos component on each stack: a rendered patch always; talosctl apply
// and revert only when nodes are configured, after Dex and the RBAC, as an
// update (never a replacement that reverts every node first).
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import { expect } from "chai";
import { byKind, one } from "../test/support/resources";
import { runStack, type StackRun } from "../test/support/stack";
import { STACKS } from "../test/support/stacks";
import { readApiServerOidc, type ApiServerOidcSettings } from "./read";

/** The URNs each registered resource depends on, by name; the mock engine's recorder leaves them out. */
const dependencies = new Map<string, string[]>();
const register = MockMonitor.prototype.registerResource;
MockMonitor.prototype.registerResource = function (this: MockMonitor, req: any, callback: any) {
    dependencies.set(req.getName(), req.getDependenciesList());
    return register.call(this, req, callback);
};

for (const [stack, expected] of Object.entries(STACKS)) {
    describe(`Talos patch component on ${stack}`, () => {
        let run: StackRun;
        let withNodes: StackRun;
        before(async () => {
            run = await runStack(stack, expected.userKeys);
            withNodes = await runStack(stack, expected.userKeys, { "platform-auth:talosNodes": JSON.stringify(["10.0.0.2", "10.0.0.3"]) });
        });

        it("only renders the Talos patch unless nodes are configured, then applies the same settings with talosctl", () => {
            expect(byKind(run.resources, "Command")).to.have.length(0);
            const command = one(withNodes.resources, "Command").inputs;
            expect(command.environment.TALOS_NODES).to.equal("10.0.0.2 10.0.0.3");
            // The CA file is a separate, apply-once part of the plan; the settings themselves are the output's.
            const withoutCa = ({ caPem: _, ...settings }: ApiServerOidcSettings) => settings;
            expect(readApiServerOidc(command.environment.TALOS_PATCH).map(withoutCa)).to.deep.equal(readApiServerOidc(withNodes.outputs.talosPatch).map(withoutCa));
            expect(command.create).to.include("for node in $TALOS_NODES; do apply_node; done");
            expect(command.delete).to.include("for node in $TALOS_NODES; do revert_node; done");
        });

        it("a change updates the command in place (no triggers), so no step reverts every node first", () => {
            const command = one(withNodes.resources, "Command");
            expect(command.inputs.triggers).to.equal(undefined);
            // Only a forced replacement replaces; reverting after the new apply would leave every node without OIDC.
            expect(command.deleteBeforeReplace).to.equal(true);
            // The provider runs `create` on update, handing it the previous run's stdout.
            expect(command.inputs.update).to.equal(undefined);
            expect(command.inputs.create).to.include("PULUMI_COMMAND_STDOUT");
        });

        it("applies only once Dex and the read-only RBAC exist", () => {
            const urns = dependencies.get("talos-apply") ?? [];
            expect(urns.some((urn) => urn.endsWith("::dex")), "Dex's objects").to.equal(true);
            // The read-only bindings themselves, not Dex's own ClusterRoleBinding.
            expect(urns.some((urn) => urn.endsWith("::rbac-oidc-view")), "the oidc-view binding").to.equal(true);
            expect(urns.some((urn) => urn.endsWith("::rbac-oidc-cluster-reader")), "the oidc-cluster-reader binding").to.equal(true);
        });
    });
}
