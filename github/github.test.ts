// The GitHub side on each stack: the managed teams, and the values for
// registering the OAuth app by hand (the API cannot create one).
import { expect } from "chai";
import { byKind, one } from "../test/support/resources";
import { runStack, type StackRun } from "../test/support/stack";
import { STACKS } from "../test/support/stacks";

for (const [stack, expected] of Object.entries(STACKS)) {
    describe(`GitHub teams on ${stack}`, () => {
        let run: StackRun;
        before(async () => {
            run = await runStack(stack, expected.userKeys);
        });

        it("manages the allowed GitHub team and its members", () => {
            expect(byKind(run.resources, "Team").map((t) => t.inputs.name)).to.deep.equal(["platform"]);
            expect(one(run.resources, "TeamMembership").inputs).to.include({ username: "devantler", role: "maintainer" });
        });

        it("says exactly what to register as the OAuth app", () => {
            expect(run.outputs.githubOAuthApp).to.deep.equal({ homepageUrl: `https://dex.${expected.domain}`, callbackUrl: `https://dex.${expected.domain}/callback` });
        });
    });
}
