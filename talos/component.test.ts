// The Talos component on each stack: a rendered patch always, and talosctl
// apply and revert only when nodes are configured.
import { expect } from "chai";
import { byKind, one } from "../test/support/resources";
import { runStack, type StackRun } from "../test/support/stack";
import { STACKS } from "../test/support/stacks";
import { readApiServerOidc, type ApiServerOidcSettings } from "./read";

for (const [stack, expected] of Object.entries(STACKS)) {
    describe(`Talos patch component on ${stack}`, () => {
        let run: StackRun;
        before(async () => {
            run = await runStack(stack, expected.userKeys);
        });

        it("only renders the Talos patch unless nodes are configured, then applies and reverts it with talosctl", async () => {
            expect(byKind(run.resources, "Command")).to.have.length(0);
            const withNodes = await runStack(stack, expected.userKeys, { "platform-auth:talosNodes": JSON.stringify(["10.0.0.2", "10.0.0.3"]) });
            const command = one(withNodes.resources, "Command").inputs;
            expect(command.environment.TALOS_NODES).to.equal("10.0.0.2 10.0.0.3");
            // The CA file is a separate, apply-once part of the plan; the settings themselves are the output's.
            const withoutCa = ({ caPem: _, ...settings }: ApiServerOidcSettings) => settings;
            expect(readApiServerOidc(command.environment.TALOS_PATCH).map(withoutCa)).to.deep.equal(readApiServerOidc(withNodes.outputs.talosPatch).map(withoutCa));
            expect(command.create).to.include('talosctl patch machineconfig --nodes "$node" --mode "$mode" "$@"');
            expect(command.delete).to.include('"$TALOS_REVERT_PATCH"');
            expect(command.update, "an update would re-apply without reverting").to.equal(undefined);
            // Every input is a trigger, so any change replaces; deleting first reverts the old settings before the new apply.
            expect(command.triggers).to.deep.equal([{ create: command.create, delete: command.delete, interpreter: command.interpreter, environment: command.environment }]);
            expect(one(withNodes.resources, "Command").deleteBeforeReplace).to.equal(true);
        });
    });
}
