// Step 11: day two. The doctor and revoke run as a user runs them: the built
// scripts, in the stack's directory, with the engine's environment and a home
// whose ~/.kube/config holds the admin context plus the user made by the
// stack's own setCredentialsCommand and setContextCommand, logged in through
// kubelogin's browser flow. The doctor must pass on the healthy cluster, and
// fail naming the right fix for each fault made here; revoke must end one
// user's silent refresh and nobody else's.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { CHECKS } from "../../doctor/checks";
import { OFFLINE_SESSIONS, REFRESH_TOKENS, type DexOfflineSession, type DexRefreshToken } from "../../doctor/revocation";
import { makeCa } from "../../lab/pki";
import { stackFileConfig } from "../../lab/stack-file";
import { jwtClaims } from "../../lab/dex";
import { runAsync } from "../../lab/engine";
import { ned, paige } from "../../lab/github-people";
import { expectLoginAsked } from "../../lab/kubelogin";
import { run, sleep, start, stop, waitFor } from "../../lab/processes";
import { expectThat } from "../../lab/report";
import type { ModeContext } from "./context";
import { deployedDex, type EngineContext } from "../../lab/deployment";
import { acceptRoute } from "../../lab/world";

const DOCTOR = join(__dirname, "..", "..", "doctor", "main.js");
const REVOKE = join(__dirname, "..", "..", "doctor", "revoke.js");

/** The user's machine: the environment the doctor and revoke run in, whose HOME holds ~/.kube/config. */
interface UserMachine {
    env: NodeJS.ProcessEnv;
}

export async function dayTwoSteps(ctx: EngineContext, mode: ModeContext): Promise<void> {
    const user = await userMachine(ctx, mode);
    await doctorSteps(ctx, mode, user);
    await revokeSteps(ctx, mode, user);
}

async function userMachine(ctx: EngineContext, mode: ModeContext): Promise<UserMachine> {
    const home = join(ctx.runDir, "day-two-home");
    mkdirSync(join(home, ".kube"), { recursive: true });
    copyFileSync(ctx.cluster.contextKubeconfig(`admin@${ctx.stack}`), join(home, ".kube", "config"));
    // kubelogin opens the login page in the default browser, where ned signs in to GitHub whenever asked.
    const env: NodeJS.ProcessEnv = { ...ctx.engine.env, HOME: home, KUBECONFIG: undefined, ...mode.browser.env(ned), PATH: `${mode.browser.dir}:${ctx.engine.env.PATH}` };

    await ctx.report.check("11. the user made by setCredentialsCommand and setContextCommand logs in through the browser flow", () => {
        // The cluster entry the context names, as the user's kubeconfig already has it.
        const cluster = /--cluster=(\S+)/.exec(mode.outputs.setContextCommand)?.[1] ?? ctx.stack;
        const made = run("sh", ["-c", `kubectl config set-cluster ${cluster} --server=${ctx.cluster.server} --certificate-authority=${mode.pki.ca.certFile} --embed-certs && ${mode.outputs.setCredentialsCommand} && ${mode.outputs.setContextCommand}`], env);
        expectThat(made.status === 0, made.stderr);
        const whoami = run("kubectl", ["--context", `oidc@${ctx.stack}`, "auth", "whoami", "-o", "json"], env);
        expectThat(whoami.status === 0, whoami.stderr);
        const username = JSON.parse(whoami.stdout).status.userInfo.username;
        expectThat(username === `oidc:${ned.tokenEmail}`, `logged in as ${username}`);
        return username;
    });
    return { env };
}

interface DoctorRun {
    status: number;
    failing: Map<string, { detail: string; fix: string }>;
    lines: string[];
}

async function doctor(ctx: EngineContext, user: UserMachine): Promise<DoctorRun> {
    const result = await runAsync(process.execPath, [DOCTOR, "--stack", ctx.stack], { cwd: ctx.projectDir, env: user.env }, 300_000);
    const lines = result.stdout.trim().split("\n");
    const failing = new Map<string, { detail: string; fix: string }>();
    lines.forEach((line, i) => {
        const failed = /^✘ (.+?): (.*)$/.exec(line);
        if (failed) failing.set(failed[1], { detail: failed[2], fix: /^ +fix: (.*)$/.exec(lines[i + 1] ?? "")?.[1] ?? "" });
    });
    return { status: result.status, failing, lines };
}

/** The doctor fails exactly the checks in `expected`, each with a fix that names `expected[check]`. */
async function expectDoctorRed(ctx: EngineContext, user: UserMachine, expected: Record<string, string>): Promise<string> {
    const result = await doctor(ctx, user);
    expectThat(result.status === 1, `exit ${result.status}:\n${result.lines.join("\n")}`);
    expectThat(JSON.stringify([...result.failing.keys()].sort()) === JSON.stringify(Object.keys(expected).sort()), `failed: ${[...result.failing.keys()].join("; ")}\n${result.lines.join("\n")}`);
    for (const [check, named] of Object.entries(expected)) {
        expectThat(result.failing.get(check)!.fix.includes(named), `the fix for "${check}" does not name ${named}: ${result.failing.get(check)!.fix}`);
    }
    return [...result.failing].map(([check, f]) => `${check}: ${f.detail}`).join("; ");
}

async function doctorSteps(ctx: EngineContext, mode: ModeContext, user: UserMachine): Promise<void> {
    const { report, cluster, engine, projectDir, stack } = ctx;
    const exposure = JSON.parse(stackFileConfig(stack)["platform-auth:exposure"]);
    await report.check("11. doctor: with no Gateway controller the route is not Accepted, and the fix names the Gateway", () =>
        expectDoctorRed(ctx, user, { [CHECKS.route]: `Gateway ${exposure.gatewayNamespace}/${exposure.gatewayName}` }),
    );
    // The e2e's GatewayClass names a controller that does not run, so nothing else would ever
    // write the route's status: write it as that controller would, with the admin kubeconfig.
    acceptRoute(ctx);
    await report.check("11. doctor: every check passes on the healthy cluster", async () => {
        const result = await doctor(ctx, user);
        const checks = result.lines.filter((line) => /^[✔✘–] /.test(line));
        // Every check ran and passed: the route's and the Ingress's are one check, by exposure.
        expectThat(result.status === 0 && checks.length === Object.keys(CHECKS).length - 1 && checks.every((l) => l.startsWith("✔")), result.lines.join("\n"));
        return result.lines.at(-1);
    });

    await mode.dex.stop();
    await report.check("11. doctor: with Dex stopped, the issuer is unreachable and the fix points at Dex's pods", () => expectDoctorRed(ctx, user, { [CHECKS.discovery]: "deploy/dex" }));
    await mode.dex.restart("dex-after-doctor");

    const pulumi = async (command: string[], ...args: string[]) => {
        // The stack flags go before `args`, which may end in `-- <value>`.
        const result = await engine.pulumi(projectDir, [...command, "--stack", stack, "--non-interactive", ...args]);
        expectThat(result.status === 0, `pulumi ${command.join(" ")} failed: ${result.stderr || result.stdout}`);
    };
    const setIssuerCa = (pem: string) => pulumi(["config", "set"], "issuerCaPem", "--", pem);
    await setIssuerCa(makeCa("a CA that did not sign the issuer").certPem);
    await pulumi(["up", "--yes", "--skip-preview"]);
    await report.check("11. doctor: with issuerCaPem set to a CA that did not sign the issuer, the fix names issuerCaPem, and the user's entry is drift", () =>
        expectDoctorRed(ctx, user, { [CHECKS.discovery]: "issuerCaPem", [CHECKS.kubeconfig]: "setCredentialsCommand" }),
    );
    await setIssuerCa(mode.issuerCaPem);
    await pulumi(["up", "--yes", "--skip-preview"]);

    const original = cluster.apiServer.process.spawnargs.slice(1);
    await restartApiServer(ctx, "kube-apiserver-other-audience", otherAudience(original, ctx.runDir));
    await report.check("11. doctor: with the apiserver expecting another audience, the cached login is refused and the fix names talosPatch", () =>
        expectDoctorRed(ctx, user, { [CHECKS.whoami]: "talosPatch" }),
    );
    await restartApiServer(ctx, "kube-apiserver-restored", original);
    // The apiserver fetches the issuer's discovery in the background; until then it refuses every token.
    await waitFor("the restored apiserver to accept OIDC tokens", () => (run("kubectl", ["--context", `oidc@${stack}`, "auth", "whoami"], user.env).status === 0 ? true : undefined), 90_000, cluster.apiServer);
}

const OTHER_AUDIENCE = "another-cluster";

/** The apiserver's arguments with its OIDC audience swapped for one no token of this stack carries, in either Talos mode. */
function otherAudience(args: string[], runDir: string): string[] {
    const changed = args.map((arg) => {
        if (arg.startsWith("--oidc-client-id=")) return `--oidc-client-id=${OTHER_AUDIENCE}`;
        if (!arg.startsWith("--authentication-config=")) return arg;
        const config = parse(readFileSync(arg.slice("--authentication-config=".length), "utf8"));
        config.jwt.forEach((jwt: { issuer: { audiences: string[] } }) => (jwt.issuer.audiences = [OTHER_AUDIENCE]));
        const file = join(runDir, "authentication-config-other-audience.yaml");
        writeFileSync(file, stringify(config));
        return `--authentication-config=${file}`;
    });
    expectThat(changed.join(" ") !== args.join(" "), "the apiserver has no OIDC audience to change");
    return changed;
}

/** Restarts the apiserver on the same port with `args`, as a node re-configured by hand would run it. */
async function restartApiServer({ cluster, kubectl, runDir }: EngineContext, label: string, args: string[]): Promise<void> {
    const binary = cluster.apiServer.process.spawnfile;
    await stop(cluster.apiServer);
    // The later steps wait on the cluster's apiserver: from now on it is this process.
    cluster.apiServer = start(label, binary, args, runDir);
    await waitFor(`${label} /readyz`, () => (kubectl(cluster.adminKubeconfig, "get", "--raw", "/readyz").stdout === "ok" ? true : undefined), 120_000, cluster.apiServer);
    // Ready is not yet serving custom resources: until their storage is initialized, Dex's reads get 429.
    await waitFor(`${label} serving Dex's storage`, () => (kubectl(cluster.adminKubeconfig, "get", "connectors.dex.coreos.com", "-n", "dex").status === 0 ? true : undefined), 60_000, cluster.apiServer);
}

async function revokeSteps(ctx: EngineContext, mode: ModeContext, user: UserMachine): Promise<void> {
    const { report, kubectl, cluster, projectDir, stack } = ctx;
    // The run's ID tokens are short (stack config), so the next silent refresh comes within the test.
    const sessions = [ned, paige].map((who) => {
        const session = mode.session(who, `revoke-${who.login}`);
        const login = mode.kubectl(session.kubeconfig, "auth", "whoami");
        expectThat(login.status === 0, `${who.login} could not log in: ${login.stderr}`);
        return { session, idToken: session.tokens().id_token };
    });
    const [nedEmail, paigeEmail] = [ned.tokenEmail, paige.tokenEmail];
    const list = <T>(resource: string): T[] => JSON.parse(kubectl(cluster.adminKubeconfig, "get", resource, "-n", "dex", "-o", "json").stdout).items;
    const owners = (email: string) => new Set(list<DexRefreshToken>(REFRESH_TOKENS).filter((t) => t.claims?.email === email).map((t) => t.claims?.userID));

    await report.check("11. revoke deletes the user's refresh tokens and offline sessions, nobody else's, and states the ID-token window", async () => {
        const nedIds = owners(nedEmail);
        expectThat(nedIds.size > 0 && owners(paigeEmail).size > 0, "no refresh tokens to revoke: the logins did not ask for offline_access");
        const revoked = await runAsync(process.execPath, [REVOKE, "--stack", stack, nedEmail], { cwd: projectDir, env: user.env }, 120_000);
        expectThat(revoked.status === 0, `${revoked.stdout}${revoked.stderr}`);
        expectThat(owners(nedEmail).size === 0 && owners(paigeEmail).size > 0, `refresh tokens left for ${[...owners(nedEmail)].join(", ") || "nobody"} / paige ${owners(paigeEmail).size}`);
        const sessionsLeft = list<DexOfflineSession>(OFFLINE_SESSIONS).map((s) => s.userID);
        expectThat(!sessionsLeft.some((id) => nedIds.has(id)) && sessionsLeft.length > 0, `offline sessions left for ${sessionsLeft.join(", ")}`);
        // The window is the lifetime Dex was deployed with, read back from the cluster's Secret.
        const lifetime = deployedDex(ctx).config.expiry.idTokens;
        expectThat(revoked.stdout.includes(`up to ${lifetime}`), `no ${lifetime} window in: ${revoked.stdout}`);
        return revoked.stdout.trim().split("\n").slice(-3, -1).join(" ");
    });
    const expiry = Math.max(...sessions.map((s) => jwtClaims(s.idToken).exp * 1000));
    await sleep(Math.max(0, expiry - Date.now()) + 1000);
    const [revoked, other] = sessions;
    await report.check("11. after revoke, the user's next silent refresh fails", () => {
        return expectLoginAsked(mode.kubectl(revoked.session.withoutLogin, "get", "pods"));
    });
    await report.check("11. after revoke, another user's silent refresh keeps working", () => {
        const result = mode.kubectl(other.session.withoutLogin, "auth", "whoami");
        expectThat(result.status === 0, result.stderr);
        expectThat(other.session.tokens().id_token !== other.idToken, "the ID token was not renewed");
        return `${other.session.who.login}: new ID token through the refresh token`;
    });
}
