// Step 14: who gets in is decided by Dex's own GitHub connector, as the
// program configures it, against the GitHub stand-in people sign in to
// (github.com in the prod run, an Enterprise Server in the local ones): the
// allowed team's members get in with the team in their groups and their
// preferred-domain email as username; everyone else is refused by Dex. A
// removal from the team through the stack config ends access at the next
// refresh, and GitHub failing during a refresh fails closed.
import { durationSeconds } from "../../config/fields";
import { jwtClaims } from "../../lab/dex";
import { ALLOWED_GROUP, mallory, ned, olive, oscar, paige, rita, type GitHubPerson } from "../../lab/github-people";
import { expectLoginAsked, type Session } from "../../lab/kubelogin";
import { GHES_HOST, GHES_PORT } from "../../lab/namespace";
import { sleep, waitFor } from "../../lab/processes";
import { expectThat } from "../../lab/report";
import { configuredTeams, setTeams, type ModeContext } from "./context";
import { onStack, type EngineContext } from "../../lab/deployment";

/** The host Dex's API calls must reach: api.github.com, or the Enterprise Server's own name and port. */
function apiHost(mode: ModeContext): string {
    return mode.githubForm === "github.com" ? "api.github.com" : `${GHES_HOST}:${GHES_PORT}`;
}

/** `kubectl auth whoami` for a person who has to sign in, with the one browser run it took. */
function signIn(mode: ModeContext, session: Session) {
    const before = mode.browser.visits().length;
    const result = mode.kubectl(session.kubeconfig, "auth", "whoami", "-o", "json");
    const visits = mode.browser.visits().slice(before);
    expectThat(visits.length === 1, `${visits.length} browser runs for one login`);
    return { result, visit: visits[0] };
}

/** Signs `who` in and returns their username, groups and token claims, checking the login went through. */
function admitted(mode: ModeContext, who: GitHubPerson) {
    const session = mode.session(who, `github-${who.login}`);
    const { result, visit } = signIn(mode, session);
    expectThat(result.status === 0 && visit.error === undefined, `${who.login} was not let in: ${visit.error ?? ""} ${result.stderr}`);
    const info = JSON.parse(result.stdout).status.userInfo as { username: string; groups: string[] };
    return { ...info, claims: jwtClaims(session.tokens().id_token), session };
}

/**
 * The first line Dex logs that matches; Dex's output reaches its log file
 * through this process, so lines written during a synchronous kubectl land
 * only once the event loop runs again.
 */
function dexLogLine(mode: ModeContext, what: string, matches: (line: string) => boolean): Promise<string> {
    return waitFor(what, () => mode.dex.log().split("\n").find(matches), 5_000);
}

/** The error a Dex log line carries. */
function logged(line: string): string {
    return /err=("(?:[^"\\]|\\.)*"|\S+)/.exec(line)?.[1] ?? line;
}

/** Signs `who` in and expects Dex to refuse them; returns Dex's page and the reason it logged. */
async function refused(mode: ModeContext, who: GitHubPerson): Promise<string> {
    const { result, visit } = signIn(mode, mode.session(who, `github-${who.login}`));
    expectThat(result.status !== 0, `${who.login} got in: ${result.stdout}`);
    const last = visit.pages[visit.pages.length - 1];
    expectThat(new URL(last.url).origin === mode.outputs.issuerUrl && new URL(last.url).pathname === "/callback", `the refusal did not come from Dex's callback: ${last.url}`);
    const reason = await dexLogLine(mode, `Dex's refusal of ${who.login}`, (l) => l.includes("not in required orgs or teams") && l.includes(who.login));
    return `Dex's page: ${visit.error?.replace(/^.*?answered /, "")}; Dex's log: ${logged(reason)}`;
}

export async function gitHubLoginSteps(mode: ModeContext): Promise<void> {
    const { report, github, githubForm: form } = mode;
    const host = apiHost(mode);

    await report.check(`14. ${form}: a member of the allowed team gets in, groups ${ALLOWED_GROUP}, username the verified ${ned.tokenEmail.split("@")[1]} email, not the public or primary one`, () => {
        const { username, groups, claims } = admitted(mode, ned);
        expectThat(username === `oidc:${ned.tokenEmail}` && claims.email !== ned.publicEmail, `username ${username}, public email ${ned.publicEmail}`);
        expectThat(claims.groups?.includes(ALLOWED_GROUP) && groups.includes(`oidc:${ALLOWED_GROUP}`), `token groups ${JSON.stringify(claims.groups)}, apiserver groups ${groups.join(" ")}`);
        const asked = github.calls().filter((c) => c.who === ned.login && c.host === host).map((c) => c.path);
        expectThat(["/user", "/user/emails", "/user/teams"].every((p) => asked.includes(p)), `Dex asked ${host} for ${asked.join(", ")}`);
        return `${username}, groups ${JSON.stringify(claims.groups)}; Dex read ${[...new Set(asked)].join(", ")} at ${host}`;
    });
    await report.check(`14. ${form}: a member of the org outside the allowed teams is refused by Dex`, () => refused(mode, oscar));
    await report.check(`14. ${form}: someone outside the org is refused by Dex`, async () => {
        const text = await refused(mode, mallory);
        const membership = github.calls().filter((c) => c.who === mallory.login && c.path.includes("members/mallory")).map((c) => `${c.path} ${c.status}`);
        expectThat(membership.length > 0, "Dex never asked GitHub about mallory's org membership");
        return `${text}; GitHub: ${membership.join(", ")}`;
    });
    // GitHub Enterprise Server cannot verify emails, so Dex counts every address as verified there.
    const oliveEmail = form === "github.com" ? olive.tokenEmail : olive.emails.find((e) => !e.verified)!.email;
    await report.check(`14. ${form}: a team member without a verified ${ned.tokenEmail.split("@")[1]} email gets ${oliveEmail} as username, and reads through the team alone`, () => {
        const { username, groups, session } = admitted(mode, olive);
        expectThat(username === `oidc:${oliveEmail}`, `username ${username}`);
        const reads = mode.kubectl(session.kubeconfig, "auth", "can-i", "list", "pods").stdout.trim();
        const secrets = mode.kubectl(session.kubeconfig, "auth", "can-i", "get", "secrets").stdout.trim();
        expectThat(reads === "yes" && secrets === "no" && groups.includes(`oidc:${ALLOWED_GROUP}`), `list pods: ${reads}, get secrets: ${secrets}, groups ${groups.join(" ")}`);
        // Her user name alone, without the team, is bound to nothing.
        const alone = mode.kubectl(mode.cluster.adminKubeconfig, "auth", "can-i", "list", "pods", `--as=${username}`).stdout.trim();
        expectThat(alone === "no", `${username} without the team may list pods: ${alone}`);
        const emails = olive.emails.map((e) => `${e.email}${e.verified ? "" : " (unverified)"}${e.primary ? " (primary)" : ""}`).join(", ");
        return `GitHub lists ${emails}; ${username}, groups ${groups.join(" ")}: list pods ${reads} (as ${username} alone: ${alone}), get secrets ${secrets}`;
    });
    await report.check(`14. ${form}: someone in more teams than one page of /user/teams holds still gets the allowed team`, () => {
        const { groups, claims } = admitted(mode, paige);
        expectThat(claims.groups?.includes(ALLOWED_GROUP) && groups.includes(`oidc:${ALLOWED_GROUP}`), `groups ${JSON.stringify(claims.groups)}`);
        const pages = github.calls().filter((c) => c.who === paige.login && c.path === "/user/teams").map((c) => c.query || "(first page)");
        expectThat(pages.some((q) => /page=2/.test(q)), `Dex read only ${pages.join(", ")}`);
        return `${paige.otherOrgTeams} teams of another org first; Dex read ${pages.join(", ")}; groups ${JSON.stringify(claims.groups)}`;
    });
}

/** The ID token lifetime Dex runs with, in milliseconds. */
const idTokenMs = (mode: ModeContext) => durationSeconds(mode.dex.config.expiry.idTokens) * 1000;

/** Dropped from the team in the stack config, and `pulumi up`: their next refresh fails, within one ID token lifetime of GitHub's change. */
export async function teamRemovalStep(ctx: EngineContext, mode: ModeContext): Promise<void> {
    const session = mode.session(rita, "removal");
    const login = mode.kubectl(session.kubeconfig, "get", "pods", "-n", "default");
    expectThat(login.status === 0, `${rita.login} could not log in before the removal: ${login.stderr}`);
    const [allowed, ...others] = await configuredTeams(ctx);
    await setTeams(ctx, [{ ...allowed, members: allowed.members.filter((m) => m.username !== rita.login) }, ...others]);
    let upDone = false;
    const upStarted = Date.now();
    const up = onStack(ctx, "up", "--yes", "--skip-preview").finally(() => (upDone = true));
    // kubectl as rita, with nobody at her browser, until it fails or the up is long over.
    let [lastOk, failedAt, failure] = [Date.now(), 0, ""];
    let upEnded = 0;
    while (failedAt === 0 && (!upDone || Date.now() - (upEnded ||= Date.now()) < 2 * idTokenMs(mode) + 5000)) {
        const result = mode.kubectl(session.withoutLogin, "get", "pods", "-n", "default");
        if (result.status === 0) lastOk = Date.now();
        else [failedAt, failure] = [Date.now(), result.stderr];
        await sleep(250);
    }
    const result = await up;
    await ctx.report.check(`14. ${mode.githubForm}: dropped from the team in the stack config and pulumi up, her next refresh fails, within one ID token lifetime of GitHub's change`, async () => {
        expectThat(result.status === 0, result.stdout + result.stderr);
        const removed = mode.github.memberships().find((m) => m.login === rita.login && m.role === undefined && m.at >= upStarted)?.at;
        expectThat(removed !== undefined, `pulumi up did not remove ${rita.login} from ${allowed.slug}`);
        expectThat(failedAt > 0, `kubectl as ${rita.login} still worked ${Math.round((Date.now() - removed!) / 1000)}s after the removal`);
        expectThat(failedAt >= removed!, `kubectl failed ${failedAt - removed!}ms before the removal, for another reason: ${failure}`);
        const asked = expectLoginAsked({ status: 1, stderr: failure });
        const refusal = await dexLogLine(mode, `Dex's refused refresh for ${rita.login}`, (l) => /failed to refresh identity/.test(l) && l.includes(rita.login) && l.includes("not in required orgs or teams"));
        const ended = (failedAt - removed!) / 1000;
        const lifetime = idTokenMs(mode) / 1000;
        expectThat(ended <= lifetime + 1.5, `access ended ${ended.toFixed(1)}s after the removal, beyond the ${lifetime}s ID token lifetime`);
        return `access ended ${ended.toFixed(1)}s after GitHub removed ${rita.login} (last read ${((lastOk - removed!) / 1000).toFixed(1)}s after it; ID token lifetime ${lifetime}s); Dex: ${logged(refusal)}; ${asked}`;
    });
}

/** GitHub's API failing while a token is refreshed: the refresh fails, nothing is let through; break-glass does not care; it recovers. */
export async function gitHubOutageSteps(mode: ModeContext): Promise<void> {
    const { report, github, kubectl, cluster } = mode;
    const session = mode.session(ned, "outage");
    const login = kubectl(session.kubeconfig, "get", "pods", "-n", "default");
    expectThat(login.status === 0, `could not log in before the outage: ${login.stderr}`);
    const { exp } = jwtClaims(session.tokens().id_token);
    github.breakApi(502);
    try {
        await sleep(Math.max(0, exp * 1000 - Date.now()) + 1000);
        await report.check(`14. ${mode.githubForm}: GitHub's API answering 502 during a refresh fails closed`, async () => {
            const before = github.calls().length;
            const asked = expectLoginAsked(kubectl(session.withoutLogin, "get", "pods", "-n", "default"));
            const answered = github.calls().slice(before).filter((c) => c.who === ned.login).map((c) => `${c.path} ${c.status}`);
            expectThat(answered.some((a) => a.endsWith(" 502")), `Dex did not ask GitHub: ${answered.join(", ") || "no call"}`);
            const failed = await dexLogLine(mode, "Dex's failed refresh", (l) => /failed to refresh identity/.test(l) && l.includes("502"));
            return `GitHub answered ${answered.join(", ")}; Dex: ${logged(failed)}; no new token: ${asked}`;
        });
        await report.check(`14. ${mode.githubForm}: during the outage, break-glass (admin client cert) still writes`, () => {
            const created = kubectl(cluster.adminKubeconfig, "create", "configmap", `outage-probe-${Date.now()}`, "-n", "default", "--from-literal=ok=yes");
            expectThat(created.status === 0, created.stderr);
            return created.stdout.trim();
        });
    } finally {
        github.breakApi(undefined);
    }
    await report.check(`14. ${mode.githubForm}: once GitHub answers again, the same refresh token works`, () => {
        const result = kubectl(session.withoutLogin, "get", "pods", "-n", "default");
        expectThat(result.status === 0, result.stderr);
        return "new ID token through the refresh token, no login";
    });
}
