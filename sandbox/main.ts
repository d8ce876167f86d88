// `npm run sandbox`: the whole login path on this machine, with no Talos
// cluster, no GitHub app and no Pulumi account. It builds what it needs
// (cached), then, in a private mount namespace where the sandbox's names
// resolve for its own programs, starts the world the e2e uses too (lab/): a
// control plane configured from the sandbox stack's Talos patch, a GitHub
// stand-in with a demo org, the real `pulumi up` on a `sandbox` stack with a
// file backend and a passphrase under .sandbox/, and Dex as the stack
// deployed it. Everything stays up until Ctrl-C or `npm run sandbox -- down`.
//   npm run sandbox            start (in the foreground)
//   npm run sandbox -- shell   a shell where the sandbox's names resolve, set up for kubectl and pulumi
//   npm run sandbox -- down    stop a running sandbox from another shell
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join, relative } from "node:path";
import { parse } from "yaml";
import { makeCa, makeLeaf } from "../lab/pki";
import { parsedStackConfig, renderedStack, REPO_ROOT, USER_KEYS } from "../lab/stack-file";
import { readKubeconfigFile } from "../kubeconfig/read";
import { kubectlIn } from "../lab/control-plane";
import { makeEngine } from "../lab/engine";
import { ned, paige } from "../lab/github-people";
import { insideNamespace, reexecInNamespace } from "../lab/namespace";
import { killAllNow, sleep, stopAll } from "../lab/processes";
import { Report } from "../lab/report";
import { configureStack, stackOutputs, type EngineContext } from "../lab/deployment";
import { buildTools } from "../lab/tools";
import { installGatewayApi, startWorkloadRuntime } from "../lab/workloads";
import type { GitHubStandIn } from "../lab/github";
import { acceptRoute, issuerLoaded, operatorKeys, startControlPlane, startDeployedDex, startGitHub } from "../lab/world";

export const STATE = join(REPO_ROOT, ".sandbox");
const STACK = "sandbox";
const STACK_FILE = join(REPO_ROOT, `Pulumi.${STACK}.yaml`);
const PID_FILE = join(STATE, "pid");
/** What a shell needs to reach the sandbox: PATH, KUBECONFIG and the engine's settings. */
export const ENV_FILE = join(STATE, "env.json");
/** The stack file's settings the sandbox itself needs: its names, ports and gateway. */
const TEMPLATE = parse(readFileSync(join(REPO_ROOT, "sandbox", `Pulumi.${STACK}.yaml`), "utf8")).config as Record<string, any>;
const DOMAIN = TEMPLATE["platform-auth:domain"] as string;
const GITHUB = new URL(TEMPLATE["github:baseUrl"]);
/** The ports the sandbox takes on this machine: Dex, GitHub, and kubelogin's two for the person's login. */
export const PORTS = [443, Number(GITHUB.port), 8000, 18000];
/** The Node the program needs: package.json's engines. */
const NODE_ENGINE = (JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")).engines.node as string).replace(/^>=/, "");
/** The Go the tool builds need (their wrapper modules say `go 1.26`). */
const GO_MINOR = 26;
const WHY_ROOT =
    "the sandbox runs as root: its programs (Dex, the apiserver, kubelogin) resolve dex.<domain> and github.<domain> through a private mount namespace with its own /etc/hosts (the machine's is never edited, and browsers resolve *.localhost themselves), and Dex listens on port 443 as the issuer's URL says";

/** A refusal to start: its message alone, no stack trace. */
class SandboxError extends Error {}

function say(line: string): void {
    console.log(`sandbox: ${line}`);
}

export function alive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch {
        return false;
    }
}

/** The running sandbox's pid: the file's, if that process is still the sandbox (a killed one's pid may have been reused). */
function runningPid(): number | undefined {
    if (!existsSync(PID_FILE)) return undefined;
    const pid = Number(readFileSync(PID_FILE, "utf8"));
    if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return undefined;
    const command = existsSync(`/proc/${pid}/cmdline`) ? readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0") : [];
    return command.includes(__filename) && command.includes("inside") ? pid : undefined;
}

/** Removes what a sandbox leaves on disk; its processes and namespace end with it. */
function removeState(): void {
    rmSync(STATE, { recursive: true, force: true });
    rmSync(STACK_FILE, { force: true });
}

function portFree(port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const server = createServer();
        server.once("error", () => resolve(false));
        server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
    });
}

/** Everything that would make a start fail half-way, checked before anything starts. */
async function preflight(): Promise<void> {
    if (process.platform !== "linux") throw new SandboxError(`the sandbox needs Linux (mount namespaces); this is ${process.platform}. Use a Linux VM or container.`);
    if (process.getuid?.() !== 0) throw new SandboxError(`${WHY_ROOT}. Run it as root: sudo -E env "PATH=$PATH" npm run sandbox`);
    // Pulumi runs the program with the `node` on PATH, not the one running this.
    const node = spawnSync("node", ["--version"], { encoding: "utf8" }).stdout?.trim() ?? "";
    const [nodeMajor, nodeMinor] = (/^v(\d+)\.(\d+)/.exec(node) ?? []).slice(1).map(Number);
    const [needMajor, needMinor] = NODE_ENGINE.split(".").map(Number);
    if (!(nodeMajor > needMajor || (nodeMajor === needMajor && nodeMinor >= needMinor))) {
        throw new SandboxError(`Pulumi runs the program with the \`node\` on PATH, which is ${node || "missing"}; it needs ${NODE_ENGINE} or newer. Set up first: eval "$(bash scripts/setup.sh)"`);
    }
    const go = spawnSync("go", ["env", "GOVERSION"], { encoding: "utf8" });
    if (go.error || go.status !== 0) throw new SandboxError(`Go 1.${GO_MINOR} or newer is needed to build the sandbox's programs from the Go module proxy, and \`go\` is not on PATH. Install it from https://go.dev/dl/.`);
    const minor = Number(/^go1\.(\d+)/.exec(go.stdout.trim())?.[1] ?? 0);
    if (minor < GO_MINOR) throw new SandboxError(`Go 1.${GO_MINOR} or newer is needed to build the sandbox's programs; \`go\` here is ${go.stdout.trim()}.`);
    const running = runningPid();
    if (running !== undefined) throw new SandboxError(`a sandbox is already running (pid ${running}); use it (\`npm run sandbox -- shell\`), or stop it with \`npm run sandbox -- down\`.`);
    if (existsSync(STATE) || existsSync(STACK_FILE)) {
        say(`a sandbox that was killed left ${STATE}${existsSync(STACK_FILE) ? ` and ${STACK_FILE}` : ""}: removing what it left, and starting afresh`);
        removeState();
    }
    const taken: number[] = [];
    for (const port of PORTS) if (!(await portFree(port))) taken.push(port);
    if (taken.length > 0) throw new SandboxError(`port(s) ${taken.join(", ")} on 127.0.0.1 are in use by another program (the sandbox needs ${PORTS.join(", ")}: Dex, GitHub, and kubelogin's login callbacks); stop it and start again. \`ss -ltnp\` names it.`);
}

async function up(): Promise<void> {
    await preflight();
    say(WHY_ROOT);
    say("building what it needs, or reusing it (cached by version; minutes each on a cold cache)");
    buildTools(REPO_ROOT);
    await reexecInNamespace(__filename, { privateNetwork: false, hosts: [`127.0.0.1 dex.${DOMAIN} ${GITHUB.hostname}`], args: ["inside"] });
}

/** Inside the namespace: the world, the stack, Dex; then wait. Whatever happens, it ends with nothing left. */
async function inside(): Promise<void> {
    const started = Date.now();
    let stopping = false;
    const stopped = new Promise<void>((resolve) => {
        for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => ((stopping = true), resolve()));
    });
    let github: GitHubStandIn | undefined;
    try {
        mkdirSync(join(STATE, "ca"), { recursive: true });
        writeFileSync(PID_FILE, String(process.pid));
        const runDir = join(STATE, "run");
        mkdirSync(runDir, { recursive: true });
        const tools = buildTools(REPO_ROOT);
        const ca = makeCa("platform-auth sandbox CA", join(STATE, "ca"));
        const issuerTls = makeLeaf(ca, "dex", `/CN=dex.${DOMAIN}`, `DNS:dex.${DOMAIN}`);
        copyFileSync(join(REPO_ROOT, "sandbox", `Pulumi.${STACK}.yaml`), STACK_FILE);
        // github:baseUrl is in the stack file; its CA is a key the operator sets.
        const userKeys = { ...USER_KEYS, issuerCaPem: ca.certPem, githubCaPem: ca.certPem };
        // The patch as the program renders it from the stack's config, as `pulumi up` will.
        const rendered = renderedStack(parsedStackConfig(STACK, userKeys, STACK_FILE));
        say(`starting a control plane configured from the ${STACK} stack's Talos patch`);
        const { cluster, pki } = await startControlPlane(tools, rendered, runDir, {});
        const kubectl = kubectlIn(tools.kubectl);
        await startWorkloadRuntime(tools, cluster, kubectl, runDir);
        const exposure = TEMPLATE["platform-auth:exposure"];
        await installGatewayApi(tools, cluster, kubectl, { name: exposure.gatewayName, namespace: exposure.gatewayNamespace }, runDir);
        github = await startGitHub(TEMPLATE["platform-auth:githubOrg"], ca, rendered.callbackUrl, { address: "127.0.0.1", port: Number(GITHUB.port), hosts: [GITHUB.hostname] });
        // One KUBECONFIG file for the up and the person's shell (the provider records its path):
        // the admin context the stack deploys with, and after the up the login too, made current.
        const shellKubeconfig = join(STATE, "shell.kubeconfig");
        copyFileSync(cluster.contextKubeconfig(`admin@${STACK}`), shellKubeconfig);
        const engine = makeEngine(join(STATE, "engine"), tools.path, { KUBECONFIG: shellKubeconfig, GITHUB_TOKEN: "sandbox-token", SSL_CERT_FILE: ca.certFile });
        const ctx: EngineContext = { engine, projectDir: REPO_ROOT, stack: STACK, cluster, kubectl, kubectlBinary: tools.kubectl, github, report: new Report(), runDir };
        await configureStack(ctx, { ...userKeys, ...operatorKeys(cluster, pki) });
        say(`pulumi up --stack ${STACK}`);
        const deployed = await new Promise<number>((resolve) => spawn("pulumi", ["up", "--yes", "--stack", STACK], { cwd: REPO_ROOT, env: engine.env, stdio: "inherit" }).on("close", (code) => resolve(code ?? 1)));
        if (stopping) return;
        if (deployed !== 0) throw new SandboxError(`pulumi up failed (exit ${deployed}); its output is above`);
        acceptRoute(ctx);
        await startDeployedDex(ctx, kubectl, tools.dex, { leaf: issuerTls, caPem: ca.certPem }, {});
        const outputs = await stackOutputs(ctx);
        // Ready means a login works: the apiserver has Dex's keys.
        await issuerLoaded(cluster, kubectl, outputs.issuerUrl, outputs.apiServerAudience, runDir);
        const kubeconfig = join(STATE, "kubeconfig");
        writeFileSync(kubeconfig, outputs.kubeconfig!);
        const merged = spawnSync(tools.kubectl, ["config", "view", "--flatten"], { env: { ...process.env, KUBECONFIG: `${shellKubeconfig}:${kubeconfig}` }, encoding: "utf8" });
        if (merged.status !== 0) throw new Error(`merging the kubeconfigs failed: ${merged.stderr}`);
        writeFileSync(shellKubeconfig, merged.stdout);
        kubectl(shellKubeconfig, "config", "use-context", readKubeconfigFile(outputs.kubeconfig!).context);
        const shellEnv = {
            ...Object.fromEntries(Object.entries(engine.env).filter(([k]) => k.startsWith("PULUMI_") || ["GITHUB_TOKEN", "SSL_CERT_FILE", "NO_COLOR"].includes(k))),
            PATH: [...tools.path, process.env.PATH].join(":"),
            KUBECONFIG: shellKubeconfig,
        };
        writeFileSync(ENV_FILE, JSON.stringify(shellEnv, null, 2), { mode: 0o600 });
        if (stopping) return;
        printWelcome(relative(REPO_ROOT, kubeconfig), ca.certFile, Math.round((Date.now() - started) / 1000));
        await stopped;
        say("stopping");
    } finally {
        await github?.close();
        await stopAll();
        removeState();
        say("down: every process it started is stopped, and its state is removed");
    }
}

function printWelcome(kubeconfig: string, caFile: string, seconds: number): void {
    const lines = [
        `ready after ${seconds}s. The standalone kubeconfig output is in ${kubeconfig}.`,
        "",
        `Sign in to the GitHub stand-in as ${ned.login} / ${ned.password} (or ${paige.login} / ${paige.password}).`,
        `Your browser will warn about the certificates of dex.${DOMAIN} and ${GITHUB.host}: the sandbox's own CA (${caFile}) signs them,`,
        "and the sandbox never adds it to your trust store. Accept them, or import that CA into the browser yourself.",
        "",
        "In another terminal, open a shell where the sandbox's names resolve (as the same user as this one; its",
        "KUBECONFIG also holds the login, made current, and the admin context the doctor and revoke use):",
        "  npm run sandbox -- shell",
        "Then try, each line as it is:",
        `  kubectl --kubeconfig ${kubeconfig} get pods -A                  # logs in: open the http://localhost:8000 it prints, sign in to GitHub`,
        `  kubectl --kubeconfig ${kubeconfig} delete pod --all -n dex      # Forbidden: OIDC is read-only`,
        `  kubectl --kubeconfig ${kubeconfig} get secret dex-credentials -n dex   # Forbidden: no Secrets`,
        `  pulumi preview --stack ${STACK}                         # no changes`,
        `  npm run doctor -- --stack ${STACK}                      # every check passes`,
        `  npm run revoke -- --stack ${STACK} ${ned.tokenEmail}   # ends ned's silent refresh`,
        "",
        "Stop it with Ctrl-C here, or `npm run sandbox -- down` from another shell.",
    ];
    lines.forEach((line) => say(line));
    say("ready");
}

/** A shell (or `command`) in the sandbox's mount namespace, with its PATH, KUBECONFIG and engine settings. */
export function shellArgs(command?: string): { args: string[]; env: NodeJS.ProcessEnv } {
    const pid = runningPid();
    if (pid === undefined || !existsSync(ENV_FILE)) throw new SandboxError("no sandbox is running, or it is still starting; start it with `npm run sandbox` and wait for `sandbox: ready`.");
    const env = { ...process.env, ...(JSON.parse(readFileSync(ENV_FILE, "utf8")) as Record<string, string>) };
    return { args: ["-t", String(pid), "-m", `--wd=${REPO_ROOT}`, "--", "bash", ...(command ? ["-c", command] : ["-i"])], env };
}

function shell(): void {
    const { args, env } = shellArgs();
    say("a shell in the sandbox: kubectl, kubelogin and pulumi are on PATH, KUBECONFIG holds the login and the admin context; `exit` leaves it");
    const result = spawnSync("nsenter", args, { cwd: REPO_ROOT, env, stdio: "inherit" });
    process.exitCode = result.status ?? 1;
}

async function down(): Promise<void> {
    const pid = runningPid();
    if (pid === undefined) {
        if (existsSync(STATE) || existsSync(STACK_FILE)) {
            removeState();
            say("no sandbox was running; removed the state a killed one left");
        } else say("no sandbox is running");
        return;
    }
    process.kill(pid, "SIGTERM");
    const deadline = Date.now() + 60_000;
    while (alive(pid) && Date.now() < deadline) await sleep(200);
    if (alive(pid)) throw new SandboxError(`the sandbox (pid ${pid}) did not stop within a minute; \`kill -9 ${pid}\`, then \`npm run sandbox -- down\` removes its state`);
    removeState();
    say("down");
}

async function main(): Promise<void> {
    const [command] = process.argv.slice(2);
    if (command === "inside" && insideNamespace()) return inside();
    if (command === undefined || command === "up") return up();
    if (command === "shell") return shell();
    if (command === "down") return down();
    throw new SandboxError(`unknown command "${command}": use \`npm run sandbox\`, \`npm run sandbox -- shell\` or \`npm run sandbox -- down\``);
}

if (require.main === module) {
    process.on("exit", killAllNow);
    main().catch((error) => {
        console.error(error instanceof SandboxError ? `sandbox: ${error.message}` : error);
        killAllNow();
        process.exitCode = 1;
    });
}
