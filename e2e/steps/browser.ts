// Step 4b: logging in as people do, with the outputs as written. The browser
// flow (kubelogin's authorization code with PKCE, its redirect caught on
// localhost:8000, or on 18000 when 8000 is taken), the token cache that spares
// a second login, the device flow for sessions without a browser, and the
// standalone kubeconfig file, all through Dex and GitHub's sign-in form with a
// stand-in for the person (../browser-standin.ts). Where the apiserver lowercases emails
// (Talos ≥1.14), a mixed-case email too.
import { spawn } from "node:child_process";
import { writeFileSync, mkdirSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { parse } from "yaml";
import { KUBECTL_CLIENT_NAME } from "../../dex/config";
import { readKubeconfigFile } from "../../kubeconfig/read";
import { readApiServerOidc } from "../../talos/read";
import type { Visit } from "../../lab/browser-standin";
import type { Chromium } from "../../lab/chromium";
import { jwtClaims } from "../../lab/dex";
import { ned, nedMixed, oscar, type GitHubPerson } from "../../lab/github-people";
import { cachedTokens } from "../../lab/kubelogin";
import { run, type CommandResult } from "../../lab/processes";
import { expectThat } from "../../lab/report";
import type { ModeContext } from "./context";

/** What this step needs beyond the mode's context: the kubectl binary, the users' environment (kubelogin on PATH), a directory of its own, and the person's real browser. */
export interface BrowserStepTools {
    kubectl: string;
    env: NodeJS.ProcessEnv;
    runDir: string;
    /** Chromium, trusting what the person imported: every login of this step goes through it. */
    browser: Chromium;
}

/** kubelogin's two loopback ports, in the order it tries them. */
const PORTS = [8000, 18000];

export async function browserSteps({ outputs, cluster, pki, report }: ModeContext, { kubectl, env, runDir, browser }: BrowserStepTools): Promise<void> {
    let people = 0;
    // deviceFlow on: Dex asks every login for approval, and the stack has a headless user.
    const approval = outputs.kubeconfigUserHeadless !== undefined;
    /** A person at their own machine: their own HOME (so their own token cache), kubelogin on PATH, and the stand-in as default browser. */
    const personAs = (who: GitHubPerson) => {
        const home = join(runDir, `person-${++people}`);
        mkdirSync(home);
        const personEnv = { ...env, ...browser.env(who), HOME: home, PATH: `${browser.dir}:${env.PATH}` };
        return { home, env: personEnv, kubectl: (kubeconfig: string, ...args: string[]) => run(kubectl, ["--kubeconfig", kubeconfig, ...args], personEnv) };
    };
    /** The kubeconfigUser output with nothing added but the browser to open. */
    const withBrowser = (name: string) => {
        const user = parse(outputs.kubeconfigUser);
        user.user.exec.args.push(`--browser-command=${browser.command}`);
        return cluster.kubeconfig(name, user);
    };
    const whoami = (result: CommandResult): string => {
        expectThat(result.status === 0, result.stderr);
        return JSON.parse(result.stdout).status.userInfo.username;
    };
    const newVisit = (before: number): Visit => {
        const visits = browser.visits();
        expectThat(visits.length === before + 1, `${visits.length - before} browser runs, expected one`);
        const visit = visits[visits.length - 1];
        expectThat(visit.error === undefined, `the browser stopped: ${visit.error}\n${trail(visit)}`);
        return visit;
    };
    /** `kubectl auth whoami` that needs the person to log in; their side first: when they got nowhere, their pages say why better than kubectl can. */
    const login = (person: ReturnType<typeof personAs>, kubeconfig: string) => {
        const before = browser.visits().length;
        const result = person.kubectl(kubeconfig, "auth", "whoami", "-o", "json");
        const visit = newVisit(before);
        return { visit, username: whoami(result) };
    };

    const ned1 = personAs(ned);
    const nedConfig = withBrowser("browser-ned");
    for (const [index, port] of PORTS.entries()) {
        const taken = PORTS.slice(0, index);
        await report.check(`4b. in Chromium, the browser flow: authorization code with PKCE through Dex and GitHub's sign-in form, redirect on localhost:${port}${taken.length ? ` (${taken.join(", ")} taken)` : ""}`, async () => {
            await Promise.all(PORTS.map((p) => listen(p).then(close)));
            const blockers = await Promise.all(taken.map(listen));
            try {
                const { visit, username } = login(index === 0 ? ned1 : personAs(ned), nedConfig);
                expectThat(username === `oidc:${ned.tokenEmail}`, `username ${username}`);
                return `${username}: ${authCodeTrail(visit, port, outputs.kubectlClientId, approval)}`;
            } finally {
                await Promise.all(blockers.map(close));
            }
        });
    }
    await report.check("4b. a second kubectl call reuses kubelogin's token cache: no new login", () => {
        const before = browser.visits().length;
        const pods = ned1.kubectl(nedConfig, "get", "pods");
        expectThat(pods.status === 0, pods.stderr);
        expectThat(browser.visits().length === before, "the browser was opened again");
        return `${before} browser runs so far, none for this call`;
    });

    const headlessNed = personAs(ned);
    const headless = outputs.kubeconfigUserHeadless;
    if (headless === undefined) {
        await report.check("4b. in Chromium, device flow off (the default): kubelogin's device-code login is refused by Dex's token endpoint, and the printed link by Dex's /auth, before GitHub", async () => {
            const before = browser.visits().length;
            const user = parse(outputs.kubeconfigUser);
            user.user.exec.args.push("--grant-type=device-code", "--skip-open-browser");
            const config = cluster.kubeconfig("headless-by-hand", user);
            const result = await runReadingUrl(kubectl, ["--kubeconfig", config, "auth", "whoami", "-o", "json"], headlessNed.env, (url) => (run(browser.command, [url], headlessNed.env), true));
            expectThat(result.status !== 0 && /unsupported_grant_type/.test(result.stderr), `kubelogin was not refused the grant: exit ${result.status}, ${result.stderr.slice(-300)}`);
            const visit = browser.visits().slice(before).pop();
            expectThat(visit !== undefined && /Unregistered redirect_uri/.test(visit.error ?? ""), `the link was not refused by Dex: ${visit?.error} ${visit ? trail(visit) : ""}`);
            expectThat(!visit!.pages.some((p) => new URL(p.url).pathname === "/login/oauth/authorize"), `GitHub was reached: ${trail(visit!)}`);
            return `kubelogin: ${firstLineMatching(result.stderr, /unsupported_grant_type/)}; the link: ${visit!.error!.slice(0, 120)}`;
        });
    } else {
        await report.check("4b. in Chromium, headless: the device flow, the person opening the printed URL on another device and granting access on Dex's approval page", async () => {
            const before = browser.visits().length;
            const config = cluster.kubeconfig("headless-ned", parse(headless));
            const result = await runReadingUrl(kubectl, ["--kubeconfig", config, "auth", "whoami", "-o", "json"], headlessNed.env, (url) => run(browser.command, [url], headlessNed.env).status === 0);
            const visit = newVisit(before);
            const username = whoami(result);
            expectThat(username === `oidc:${ned.tokenEmail}`, `username ${username}`);
            const verification = new URL(visit.opened);
            expectThat(verification.origin === outputs.issuerUrl && verification.searchParams.has("user_code"), `kubelogin printed ${visit.opened}`);
            expectThat(visit.pages.some((p) => p.form?.includes("user_code")), "Dex never showed the user code to confirm");
            expectThat(visit.pages.some((p) => p.form?.includes("approval") && p.text?.includes(KUBECTL_CLIENT_NAME)), `Dex never asked to grant ${KUBECTL_CLIENT_NAME} access: ${trail(visit)}`);
            const last = visit.pages[visit.pages.length - 1];
            expectThat(new URL(last.url).pathname === "/device/callback" && last.status === 200, `ended on ${last.status} ${last.url}`);
            return `${username}: ${trail(visit)}`;
        });

        await report.check("4b. the browser user shares the headless user's token cache: no second login", () => {
            const before = browser.visits().length;
            const username = whoami(headlessNed.kubectl(nedConfig, "auth", "whoami", "-o", "json"));
            expectThat(browser.visits().length === before, "the browser was opened");
            return username;
        });
    }

    await report.check("4b. in Chromium, the kubeconfig output stands alone: as written, it reaches the cluster and logs in through the default browser", () => {
        expectThat(outputs.kubeconfig !== undefined, "no kubeconfig output: the stack needs apiServerUrl and apiServerCaPem");
        const file = readKubeconfigFile(outputs.kubeconfig!);
        expectThat(file.server === cluster.server && file.caPem === pki.ca.certPem, `the file points at ${file.server}, not the cluster at ${cluster.server} with its CA`);
        const path = join(runDir, "standalone.kubeconfig");
        writeFileSync(path, outputs.kubeconfig!);
        const { visit, username } = login(personAs(ned), path);
        expectThat(username === `oidc:${ned.tokenEmail}`, `username ${username}`);
        return `context ${file.context}: ${username}, ${authCodeTrail(visit, PORTS[0], outputs.kubectlClientId, approval)}`;
    });

    await report.check("4b. in Chromium, a person outside the allowed teams signs in to GitHub and is refused by Dex, whose page says so", () => {
        const person = personAs(oscar);
        const before = browser.visits().length;
        // They give up at Dex's page, and with them the kubelogin that waits for them.
        const result = run(kubectl, ["--kubeconfig", withBrowser("browser-oscar"), "auth", "whoami"], { ...person.env, STANDIN_GIVE_UP: "1" });
        const visit = browser.visits()[before];
        expectThat(result.status !== 0 && visit !== undefined, `oscar got in: ${result.stdout}`);
        expectThat(visit.pages.some((p) => p.form?.includes("password")) && /Authentication failed/.test(visit.error ?? ""), `not refused by Dex after GitHub's sign-in: ${visit.error} ${trail(visit)}`);
        return visit.error!;
    });

    if (readApiServerOidc(outputs.talosPatch)[0].username.lowercase) {
        await report.check("4b. in Chromium, a mixed-case email maps to the lowercase oidc: user", () => {
            const person = personAs(nedMixed);
            const { username } = login(person, withBrowser("browser-ned-mixed"));
            const email = jwtClaims(cachedTokens(join(person.home, ".kube", "cache", "oidc-login")).id_token).email;
            expectThat(email === nedMixed.tokenEmail && username === `oidc:${nedMixed.tokenEmail.toLowerCase()}`, `token email ${email}, username ${username}`);
            return `token email ${email}, username ${username}`;
        });
    }
}

/** A browser that was never told to trust the issuer's CA stops at Chromium's certificate warning for Dex, as the docs say. */
export async function certificateWarningStep(report: ModeContext["report"], untrusting: Chromium, issuerUrl: string): Promise<void> {
    await report.check("4b. in Chromium without the issuer's CA imported: Dex's page is Chromium's certificate warning (NET::ERR_CERT_AUTHORITY_INVALID)", () => {
        run(untrusting.command, [`${issuerUrl}/.well-known/openid-configuration`], { ...process.env, ...untrusting.env(ned) });
        const [visit] = untrusting.visits().slice(-1);
        expectThat(/ERR_CERT_AUTHORITY_INVALID/.test(visit?.error ?? ""), `no certificate warning: ${visit?.error}`);
        return visit.error!;
    });
}

/** Checks a browser run of the authorization-code flow end to end and summarises it. */
function authCodeTrail(visit: Visit, port: number, clientId: string, approval: boolean): string {
    const local = `http://localhost:${port}`;
    expectThat(visit.opened === `${local}/`, `kubelogin opened ${visit.opened}`);
    const auth = visit.pages.map((p) => new URL(p.url)).find((u) => u.pathname === "/auth");
    const params = Object.fromEntries(auth?.searchParams ?? []);
    expectThat(params.client_id === clientId && params.redirect_uri === local, `the authorization request: ${auth}`);
    expectThat(params.code_challenge_method === "S256" && (params.code_challenge ?? "").length >= 43, `no PKCE in ${auth}`);
    const signIn = visit.pages.find((p) => p.form?.includes("password"));
    expectThat(signIn !== undefined && new URL(signIn.url).pathname === "/login/oauth/authorize", `GitHub's sign-in form never asked for the password: ${trail(visit)}`);
    const asked = visit.pages.some((p) => p.form?.includes("approval"));
    expectThat(asked === approval, approval ? "Dex did not ask for approval, which deviceFlow turns on" : "Dex showed its approval screen, which the config skips");
    const lastPage = visit.pages[visit.pages.length - 1];
    const last = new URL(lastPage.url);
    expectThat(last.origin === local && last.searchParams.has("code"), `the code did not come back to ${local}: ${last}`);
    expectThat(/Authenticated/.test(lastPage.text ?? ""), `kubelogin's last page does not say the person is authenticated: ${lastPage.text}`);
    return trail(visit);
}

function firstLineMatching(text: string, pattern: RegExp): string {
    return text.split("\n").find((line) => pattern.test(line))?.trim() ?? "";
}

export function trail(visit: Visit): string {
    return visit.pages.map((p) => `${new URL(p.url).host}${new URL(p.url).pathname}${p.form ? ` [${p.form.join(", ")}]` : ""}`).join(" → ");
}

/**
 * Runs a command, calling `open` with the URL it prints for the person to
 * visit, as a person at the terminal would; stops it when they got nowhere.
 */
function runReadingUrl(command: string, args: string[], env: NodeJS.ProcessEnv, open: (url: string) => boolean): Promise<CommandResult> {
    return new Promise((resolve, reject) => {
        const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
        const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
        let [stdout, stderr, opened] = ["", "", false];
        child.stdout.on("data", (chunk) => (stdout += chunk));
        child.stderr.on("data", (chunk) => {
            stderr += chunk;
            const url = /Please visit the following URL in your browser: (\S+)\n/.exec(stderr)?.[1];
            if (url !== undefined && !opened) {
                opened = true;
                if (!open(url)) child.kill();
            }
        });
        child.on("error", reject);
        child.on("close", (code) => {
            clearTimeout(timer);
            resolve({ status: code ?? -1, stdout, stderr });
        });
    });
}

/** Listens on 127.0.0.1:`port`, failing if something else has it. */
function listen(port: number): Promise<Server> {
    return new Promise((resolve, reject) => {
        const server = createServer();
        server.once("error", (error) => reject(new Error(`127.0.0.1:${port} is taken by something else on this machine: ${error.message}`)));
        server.listen(port, "127.0.0.1", () => resolve(server));
    });
}

function close(server: Server): Promise<void> {
    return new Promise((resolve) => server.close(() => resolve()));
}
