// The Talos component on each stack: a rendered patch always; talosctl apply
// and revert only when nodes are configured, after Dex and the RBAC, as an
// update (never a replacement that reverts every node first).
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import { expect } from "chai";
import { byKind, one } from "../test/support/resources";
import { runStack, type StackRun } from "../lab/stack";
import { stackFileConfig } from "../lab/stack-file";
import { STACKS } from "../test/support/stacks";
import { AGENT } from "./inspect";
import { readApiServerOidc } from "./read";

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

        it("only renders the Talos patch unless nodes are configured, then hands the node agent the settings the output sets", () => {
            expect(byKind(run.resources, "Command")).to.have.length(0);
            const command = one(withNodes.resources, "Command").inputs;
            expect(command.environment.TALOS_NODES).to.equal("10.0.0.2 10.0.0.3");
            expect(command.environment.TALOS_KUBE_CONTEXT).to.equal(stackFileConfig(stack)["kubernetes:context"]);
            const owned = JSON.parse(command.environment.TALOS_OWNED);
            const [settings] = readApiServerOidc(withNodes.outputs.talosPatch);
            expect([owned.issuerUrl, owned.audience]).to.deep.equal([settings.issuerUrl, settings.audiences[0]]);
            expect([command.create, command.delete]).to.deep.equal([`${AGENT} apply`, `${AGENT} revert`]);
        });

        it("a change updates the command in place (no triggers), so no step reverts every node first", () => {
            const command = one(withNodes.resources, "Command");
            expect(command.inputs.triggers).to.equal(undefined);
            // Only a forced replacement replaces; reverting after the new apply would leave every node without OIDC.
            expect(command.deleteBeforeReplace).to.equal(true);
            // The provider runs `create` on update, handing it the previous run's stdout (the agent reads it).
            expect(command.inputs.update).to.equal(undefined);
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
