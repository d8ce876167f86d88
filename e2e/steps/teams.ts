// Step 13: who may read is decided in code review. The stack config is the
// whole truth for each managed team: someone added in GitHub's web UI is
// drift, and the next `up` removes them; a team made by hand before the
// stack is adopted and outlives `destroy`; an `up` killed right after GitHub
// created a team converges with the README's commands. And Dex itself holds
// no cluster-scoped right.
import { spawn, spawnSync } from "node:child_process";
import { expectThat } from "../../lab/report";
import { canonical, configuredTeams, setTeams } from "./context";
import { expectCleanRefusal } from "./deploy";
import { onStack, setConfig, type EngineContext } from "../../lab/deployment";

export async function dexRightsStep(ctx: EngineContext): Promise<void> {
    await ctx.report.check("13. Dex runs with namespaced rights only: its ServiceAccount cannot create CRDs or write anything cluster-wide, and its CRDs are the program's", () => {
        const as = ["--as", "system:serviceaccount:dex:dex"];
        const can = (...args: string[]) => ctx.kubectl(ctx.cluster.adminKubeconfig, "auth", "can-i", ...as, ...args).stdout.trim();
        const verdicts = { "create crds": can("create", "customresourcedefinitions"), "create clusterroles": can("create", "clusterroles"), "write its storage in dex": can("create", "refreshtokens.dex.coreos.com", "-n", "dex"), "write its storage elsewhere": can("create", "refreshtokens.dex.coreos.com", "-n", "default") };
        expectThat(JSON.stringify(Object.values(verdicts)) === JSON.stringify(["no", "no", "yes", "no"]), JSON.stringify(verdicts));
        const owner = ctx.kubectl(ctx.cluster.adminKubeconfig, "get", "crd", "refreshtokens.dex.coreos.com", "-o", "jsonpath={.metadata.managedFields[*].manager}").stdout;
        expectThat(/pulumi/.test(owner) && !/dex/.test(owner), `refreshtokens.dex.coreos.com is written by ${owner}`);
        return `${Object.entries(verdicts).map(([k, v]) => `${k}: ${v}`).join(", ")}; CRD written by ${owner}`;
    });
}

/** A githubOrg in other capitals than GitHub's login (which GitHub's URLs ignore, and Dex does not): refused by the preview, naming the login. */
export async function orgCapitalsStep(ctx: EngineContext): Promise<void> {
    const get = async (key: string) => (await ctx.engine.pulumi(ctx.projectDir, ["config", "get", key, "--stack", ctx.stack])).stdout.trim();
    const org = await get("githubOrg");
    const groups = JSON.parse(await get("readOnlyGroups")) as string[];
    const capitals = org.replace(/(^|-)([a-z])/g, (_, dash: string, letter: string) => dash + letter.toUpperCase());
    // Spelled alike everywhere, as a person who got the capitals wrong would.
    const setOrg = async (name: string) => {
        await setConfig(ctx, "githubOrg", name);
        await setConfig(ctx, "github:owner", name);
        await setConfig(ctx, "readOnlyGroups", "--", JSON.stringify(groups.map((group) => group.replace(/^[^:]+:/, `${name}:`))));
    };
    await setOrg(capitals);
    try {
        await ctx.report.check(`13. githubOrg "${capitals}" (GitHub's login is "${org}") is refused by the preview, naming the exact login, before any change`, async () => {
            const calls = ctx.github.calls().length;
            const preview = await onStack(ctx, "preview");
            const text = preview.stdout + preview.stderr;
            const writes = ctx.github.calls().slice(calls).filter((call) => call.method !== "GET" && !call.path.endsWith("graphql"));
            expectThat(writes.length === 0, `GitHub was written to: ${writes.map((call) => `${call.method} ${call.path}`).join(", ")}`);
            expectThat(preview.status !== 0, "the preview accepted an org in other capitals");
            const line = text.split("\n").find((l) => l.includes(`platform-auth:githubOrg: is "${capitals}", but GitHub spells the org "${org}"`));
            expectThat(line !== undefined, text);
            expectCleanRefusal(text);
            return line!.trim();
        });
    } finally {
        await setOrg(org);
    }
}

/** Someone added in GitHub's web UI shows in the drift preview, and the next `up --refresh` removes them. */
export async function handAddedMemberSteps(ctx: EngineContext): Promise<void> {
    const [team] = await configuredTeams(ctx);
    ctx.github.addMember(team.slug, "added-by-hand");
    await ctx.report.check(`13. someone added to ${team.slug} in GitHub's web UI shows as a change in the drift preview (preview --refresh)`, async () => {
        const preview = await onStack(ctx, "preview", "--refresh", "--diff");
        expectThat(preview.status === 0, preview.stdout + preview.stderr);
        // The refreshed TeamMembers differs from the stack config by exactly that person.
        const lines = preview.stdout.split("\n");
        const change = lines.findIndex((l) => /~ github:index\/teamMembers:TeamMembers/.test(l));
        const person = lines.find((l, i) => i > change && l.includes("added-by-hand"));
        expectThat(change >= 0 && person !== undefined, preview.stdout);
        return `${lines[change].trim()} … ${person!.trim()}`;
    });
    const up = await onStack(ctx, "up", "--refresh", "--yes", "--skip-preview");
    await ctx.report.check(`13. the next up (--refresh) removes them: ${team.slug} has exactly the configured members again`, () => {
        expectThat(up.status === 0, up.stdout + up.stderr);
        const members = ctx.github.teams()[team.slug];
        const wanted = Object.fromEntries(team.members.map((m) => [m.username, m.role ?? "member"]));
        expectThat(canonical(members) === canonical(wanted), `members ${JSON.stringify(members)}, configured ${JSON.stringify(wanted)}`);
        return JSON.stringify(members);
    });
}

/** A team made by hand before the stack, marked `existing`: adopted without a create, its membership made the stack's. */
export async function preExistingTeamStep(ctx: EngineContext): Promise<void> {
    ctx.github.makeTeam("sre", { "old-hand": "maintainer" });
    const teams = [...(await configuredTeams(ctx)), { slug: "sre", existing: true, members: [{ username: "devantler", role: "maintainer" }] }];
    await setTeams(ctx, teams);
    const creates = () => ctx.github.calls().filter((c) => c.method === "POST" && c.path.endsWith("/teams") && c.body?.name === "sre").length;
    const up = await onStack(ctx, "up", "--yes", "--skip-preview");
    await ctx.report.check("13. a team made by hand before the stack, marked existing, is adopted (never created) and its members become the configured ones", () => {
        expectThat(up.status === 0, up.stdout + up.stderr);
        expectThat(creates() === 0, "the stack created the team instead of adopting it");
        expectThat(JSON.stringify(ctx.github.teams().sre) === JSON.stringify({ devantler: "maintainer" }), JSON.stringify(ctx.github.teams().sre));
        return `sre: ${JSON.stringify(ctx.github.teams().sre)}`;
    });
}

/**
 * `pulumi up` killed (SIGKILL to the engine's process group) while GitHub
 * creates a new team: after `pulumi cancel` (the dead engine's lock), the next
 * `up` converges by itself, adopting the team GitHub made instead of asking
 * for it again (GitHub would refuse: "Name must be unique").
 */
export async function killedUpSteps(ctx: EngineContext): Promise<void> {
    await setTeams(ctx, [...(await configuredTeams(ctx)), { slug: "oncall", members: [{ username: "devantler", role: "member" }] }]);
    const hold = ctx.github.holdCreate("oncall");
    const engine = spawn("pulumi", ["up", "--yes", "--skip-preview", "--stack", ctx.stack, "--non-interactive"], { cwd: ctx.projectDir, env: ctx.engine.env, detached: true, stdio: "ignore" });
    await Promise.race([hold.arrived, new Promise((_, reject) => setTimeout(() => reject(new Error("the team was never created")), 120_000))]);
    // The engine and everything it started (its plugins run in process groups of their own), as a crash would end them.
    const tree = descendants(engine.pid!);
    process.kill(-engine.pid!, "SIGKILL");
    tree.forEach((pid) => {
        try {
            process.kill(pid, "SIGKILL");
        } catch {
            // already gone
        }
    });
    await new Promise((resolve) => engine.once("exit", resolve));
    hold.release();
    // docs/operations.md, Troubleshooting: a killed engine leaves its lock behind.
    const cancel = await ctx.engine.pulumi(ctx.projectDir, ["cancel", "--yes", "--stack", ctx.stack]);
    const next = await onStack(ctx, "up", "--yes", "--skip-preview");
    await ctx.report.check("13. after an up killed while GitHub created a team, pulumi cancel and the next up converge: the team adopted, not asked for twice, with its members", () => {
        expectThat(cancel.status === 0, cancel.stdout + cancel.stderr);
        expectThat(next.status === 0, next.stdout + next.stderr);
        const warning = (next.stdout + next.stderr).split("\n").find((l) => l.includes('team "oncall" exists in GitHub as this stack creates it, but its last deployment did not record it'));
        expectThat(warning !== undefined, "the adoption was not said");
        const creates = ctx.github.calls().filter((c) => c.method === "POST" && c.body?.name === "oncall");
        expectThat(creates.length === 1, `${creates.length} creates of oncall`);
        expectThat(JSON.stringify(ctx.github.teams().oncall) === JSON.stringify({ devantler: "member" }), JSON.stringify(ctx.github.teams()));
        return `${warning!.trim().slice(0, 160)}…; members ${JSON.stringify(ctx.github.teams().oncall)}`;
    });
}

/** Every process below `pid`, from `ps`. */
function descendants(pid: number): number[] {
    const rows = spawnSync("ps", ["-e", "-o", "pid=,ppid="], { encoding: "utf8" }).stdout.trim().split("\n").map((row) => row.trim().split(/\s+/).map(Number));
    const below = (parent: number): number[] => rows.filter(([, ppid]) => ppid === parent).flatMap(([child]) => [child, ...below(child)]);
    return below(pid);
}
