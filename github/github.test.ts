// The GitHub side on each stack: the managed teams, whose membership is the
// stack config's whole; teams that existed before the stack, adopted and never
// deleted; and the values for registering the OAuth app by hand (the API
// cannot create one).
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import { expect } from "chai";
import { byKind, one } from "../test/support/resources";
import { ProgramFailed, runStack, type StackRun } from "../lab/stack";
import { STACKS } from "../test/support/stacks";
import type { LiveTeam, TeamLookup } from "./adopt";

/** The import ID and retainOnDelete each registered resource asked for, by name; the mock's recorder leaves them out. */
const options = new Map<string, { importId: string; retainOnDelete: boolean }>();
const register = MockMonitor.prototype.registerResource;
MockMonitor.prototype.registerResource = function (this: MockMonitor, req: any, callback: any) {
    options.set(req.getName(), { importId: req.getImportid(), retainOnDelete: req.getRetainondelete() });
    return register.call(this, req, callback);
};

/** GitHub holding one team by this slug, as the program looks it up before any resource. */
const holding = (slug: string, team: LiveTeam): TeamLookup => async (asked) => (asked === slug ? team : undefined);
const adopted = JSON.stringify([{ slug: "platform", existing: true, members: [{ username: "devantler", role: "maintainer" }, { username: "ned" }] }]);

for (const [stack, expected] of Object.entries(STACKS)) {
    describe(`GitHub teams on ${stack}`, () => {
        let run: StackRun;
        before(async () => {
            run = await runStack(stack, expected.userKeys);
        });

        it("manages the allowed team with exactly the configured members (authoritative), creating it and free to delete it", () => {
            expect(byKind(run.resources, "Team").map((t) => t.inputs.name)).to.deep.equal(["platform"]);
            expect(byKind(run.resources, "TeamMembership"), "per-member resources never remove anyone").to.deep.equal([]);
            expect(one(run.resources, "TeamMembers").inputs.members).to.deep.equal([{ username: "devantler", role: "maintainer" }]);
            expect(options.get("github-platform")).to.deep.equal({ importId: "", retainOnDelete: false });
        });

        it("adopts a team marked existing as GitHub holds it, never deletes it, and makes only its membership the stack's", async () => {
            const github = holding("platform", { id: "77", description: "Operations", privacy: "secret" });
            const adoptedRun = await runStack(stack, expected.userKeys, { "platform-auth:githubTeams": adopted }, undefined, {}, github);
            expect(one(adoptedRun.resources, "Team").inputs).to.include({ name: "platform", description: "Operations", privacy: "secret" });
            expect(options.get("github-platform")).to.deep.equal({ importId: "77", retainOnDelete: true });
            expect(options.get("github-platform-members")?.retainOnDelete, "its members are left as last managed").to.equal(true);
            expect(one(adoptedRun.resources, "TeamMembers").inputs.members).to.deep.equal([{ username: "devantler", role: "maintainer" }, { username: "ned", role: "member" }]);
        });

        it("adopts, rather than creates again, a team GitHub has that the last deployment did not record (an interrupted up), and does not keep it on destroy", async () => {
            const github = holding("platform", { id: "78", description: "Read-only kubectl access through Dex (platform-auth).", privacy: "closed" });
            const resumed = await runStack(stack, expected.userKeys, {}, undefined, {}, github);
            expect(options.get("github-platform")).to.deep.equal({ importId: "78", retainOnDelete: false });
            const recorded = { "pulumi:pulumi:StackReference": () => ({ githubTeamIds: { platform: "78" } }) };
            await runStack(stack, expected.userKeys, {}, undefined, recorded, github);
            expect(options.get("github-platform"), "a team the last deployment recorded is the stack's already").to.deep.equal({ importId: "", retainOnDelete: false });
            expect(await resumed.value(resumed.outputs.githubTeamIds)).to.deep.equal({ platform: "github-platform-id" });
        });

        it("reads its own last deployment only when GitHub already holds a configured team: a fresh stack's first up, whose checkpoint the backend is still writing, never does", async () => {
            const reads: unknown[] = [];
            const counting = { "pulumi:pulumi:StackReference": (inputs: Record<string, unknown>) => (reads.push(inputs), {}) };
            const held = holding("platform", { id: "80", description: "Read-only kubectl access through Dex (platform-auth).", privacy: "closed" });
            for (const preview of [true, false]) {
                reads.length = 0;
                await runStack(stack, expected.userKeys, {}, undefined, counting, undefined, undefined, preview);
                expect(reads, `a fresh stack (no team in GitHub, no Talos node), ${preview ? "preview" : "update"}`).to.have.length(0);
                await runStack(stack, expected.userKeys, {}, undefined, counting, held, undefined, preview);
                expect(reads, `a team found in GitHub, ${preview ? "preview" : "update"}`).to.have.length(1);
            }
        });

        it("refuses a team of the same name made by hand (another description), naming githubTeams[0].existing, rather than taking it over", async () => {
            const github = holding("platform", { id: "79", description: "The platform people", privacy: "closed" });
            const failure = await runStack(stack, expected.userKeys, {}, undefined, {}, github).then(
                () => expect.fail("a team made by hand was taken over"),
                (error: unknown) => error as ProgramFailed,
            );
            expect(failure.message).to.match(/platform-auth:githubTeams\[0\]\.existing: team "platform" already exists in GitHub and was not made by this stack .*set `existing: true` to adopt it/);
        });

        it("refuses, before any resource, a team GitHub cannot be asked about, naming the team", async () => {
            const outage: TeamLookup = async () => {
                throw new Error("GET /orgs/devantler-tech/teams/platform: 502 Bad Gateway");
            };
            const failure = await runStack(stack, expected.userKeys, {}, undefined, {}, outage).then(
                () => expect.fail("a GitHub outage was taken for a missing team"),
                (error: unknown) => error as ProgramFailed,
            );
            expect(failure.message).to.match(/platform-auth:githubTeams\[0\]: team "platform" could not be read from GitHub \(GET .*502 Bad Gateway\); check github:baseUrl and GITHUB_TOKEN/);
        });

        it("refuses, before any resource, a team marked existing that GitHub does not have, naming the key", async () => {
            const failure = await runStack(stack, expected.userKeys, { "platform-auth:githubTeams": adopted }).then(
                () => expect.fail("a missing existing team was accepted"),
                (error: unknown) => error as ProgramFailed,
            );
            expect(failure.message).to.match(/platform-auth:githubTeams\[0\]\.existing: team "platform" is not in GitHub; create it, or remove `existing`/);
            expect(failure.resources.filter((r) => !r.type.startsWith("pulumi:providers:"))).to.deep.equal([]);
        });

        it("refuses, before any resource, a githubOrg in other capitals than GitHub's login, naming the exact login", async () => {
            const asked: string[] = [];
            const spelling = async (org: string) => (asked.push(org), "devantler-tech");
            const failure = await runStack(stack, expected.userKeys, { "platform-auth:githubOrg": "DevAntler-Tech", "github:owner": "DevAntler-Tech", "platform-auth:readOnlyGroups": JSON.stringify(["DevAntler-Tech:platform"]) }, undefined, {}, undefined, spelling).then(
                () => expect.fail("an org spelled in other capitals was accepted"),
                (error: unknown) => error as ProgramFailed,
            );
            expect(asked).to.deep.equal(["DevAntler-Tech"]);
            expect(failure.message).to.match(/platform-auth:githubOrg: is "DevAntler-Tech", but GitHub spells the org "devantler-tech".*pulumi config set githubOrg devantler-tech/);
            expect(failure.resources.filter((r) => !r.type.startsWith("pulumi:providers:"))).to.deep.equal([]);
            await runStack(stack, expected.userKeys, {}, undefined, {}, undefined, spelling);
        });

        it("says exactly what to register as the OAuth app", () => {
            expect(run.outputs.githubOAuthApp).to.deep.equal({ homepageUrl: `https://dex.${expected.domain}`, callbackUrl: `https://dex.${expected.domain}/callback` });
        });
    });
}
