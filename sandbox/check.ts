// CI's look at the sandbox, as a new user meets it: starts that cannot work
// are refused first (a port in use, an old node, no Go or an old one, no
// root, a second sandbox); over a killed sandbox's state, `npm run sandbox` comes up; the
// lines it prints to try run as printed, in `npm run sandbox --
// shell`'s namespace, the first one logging in through the printed kubeconfig
// in Chromium (the sandbox's CA imported, as the README tells a person),
// signing in to GitHub; `npm run sandbox -- down`
// stops it; and nothing is left: no process it started, no mount, no state.
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "../lab/stack-file";
import { requireChromium, startChromium } from "../lab/chromium";
import { ned } from "../lab/github-people";
import { stopAll } from "../lab/processes";
import { expectThat, Report } from "../lab/report";
import { alive, PORTS, shellArgs, STATE } from "./main";

const MAIN = join(__dirname, "main.js");
/** The screenshots of the person's login (the README's strip is made from them). */
const SHOTS = join(REPO_ROOT, ".artifacts", "sandbox");

/** The sandbox's process and everything below it. */
function descendants(pid: number): number[] {
    const children = spawnSync("ps", ["-o", "pid=", "--ppid", String(pid)], { encoding: "utf8" }).stdout.split("\n").map(Number).filter((n) => n > 0);
    return [pid, ...children.flatMap(descendants)];
}

/** `npm run sandbox` that must refuse to start with `message`, before anything starts. */
function refusal(env: NodeJS.ProcessEnv, message: RegExp, wrap: string[] = []): string {
    const [command, ...args] = [...wrap, process.execPath, MAIN];
    const result = spawnSync(command, args, { cwd: REPO_ROOT, env, encoding: "utf8", timeout: 60_000 });
    const line = (result.stdout + result.stderr).split("\n").find((l) => message.test(l));
    expectThat(result.status !== 0 && line !== undefined, `exit ${result.status}: ${result.stdout}${result.stderr}`);
    return line!;
}

/** Starts that cannot work are refused before anything starts, each saying why and what to do. */
async function badStartSteps(report: Report): Promise<void> {
    await report.check("sandbox: a port in use is refused, naming the port", async () => {
        const blocker = createServer();
        const port = PORTS[1];
        await new Promise<void>((resolve) => blocker.listen(port, "127.0.0.1", resolve));
        try {
            return refusal(process.env, new RegExp(`port\\(s\\) ${port} on 127\\.0\\.0\\.1 are in use`));
        } finally {
            await new Promise((resolve) => blocker.close(resolve));
        }
    });
    const fakeGo = mkdtempSync(join(tmpdir(), "platform-auth-old-go-"));
    const fakeNode = mkdtempSync(join(tmpdir(), "platform-auth-old-node-"));
    writeFileSync(join(fakeNode, "node"), "#!/bin/sh\necho v20.1.0\n");
    chmodSync(join(fakeNode, "node"), 0o755);
    // A PATH with only node on it: no go.
    const noGo = mkdtempSync(join(tmpdir(), "platform-auth-no-go-"));
    symlinkSync(process.execPath, join(noGo, "node"));
    writeFileSync(join(fakeGo, "go"), "#!/bin/sh\necho go1.21.13\n");
    chmodSync(join(fakeGo, "go"), 0o755);
    try {
        await report.check("sandbox: an old node on PATH (which Pulumi would run the program with) is refused, naming the set-up", () => refusal({ ...process.env, PATH: `${fakeNode}:${process.env.PATH}` }, /`node` on PATH, which is v20\.1\.0; it needs .* eval "\$\(bash scripts\/setup\.sh\)"/));
        await report.check("sandbox: without Go it is refused, naming Go and where to get it", () => refusal({ ...process.env, PATH: noGo }, /`go` is not on PATH\. Install it/));
        await report.check("sandbox: an old Go is refused, naming the version found", () => refusal({ ...process.env, PATH: `${fakeGo}:${process.env.PATH}` }, /Go 1\.\d+ or newer is needed .* is go1\.21\.13/));
    } finally {
        rmSync(fakeGo, { recursive: true, force: true });
        rmSync(noGo, { recursive: true, force: true });
        rmSync(fakeNode, { recursive: true, force: true });
    }
    await report.check("sandbox: without root it is refused, saying why it needs root", () => refusal(process.env, /runs as root: .*private mount namespace.*Run it as root/, ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]));
}

async function main(): Promise<void> {
    const started = Date.now();
    const report = new Report();
    // The person's browser in this check; the sandbox itself needs none of its own.
    requireChromium();
    await badStartSteps(report);
    // A killed sandbox's state: the next start must say it cleans it up.
    mkdirSync(STATE, { recursive: true });
    writeFileSync(join(STATE, "pid"), "999999999");
    const printed: string[] = [];
    const sandbox = spawn(process.execPath, [MAIN], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "inherit"] });
    const exited = new Promise<number>((resolve) => sandbox.on("close", (code) => resolve(code ?? 1)));
    await new Promise<void>((resolve, reject) => {
        let buffer = "";
        sandbox.stdout.on("data", (chunk: Buffer) => {
            process.stdout.write(chunk);
            buffer += chunk.toString();
            const lines = buffer.split("\n");
            buffer = lines.pop()!;
            printed.push(...lines);
            if (lines.includes("sandbox: ready")) resolve();
        });
        exited.then((code) => reject(new Error(`the sandbox exited (${code}) before it was ready`)));
    });
    const pid = Number(readFileSync(join(STATE, "pid"), "utf8"));
    const processes = descendants(pid);
    // Its mounts live in its own mount namespace: gone once no process is in it.
    const namespace = readlinkSync(`/proc/${pid}/ns/mnt`);
    // The lines to try, as printed: `  <command>   # what to expect`.
    const commands = printed.map((l) => /^sandbox: {3}((?:kubectl|pulumi|npm run) [^#]*?)\s*(?:#.*)?$/.exec(l)?.[1]).filter((c): c is string => c !== undefined && !c.includes("sandbox -- shell"));
    const browserDir = mkdtempSync(join(tmpdir(), "platform-auth-sandbox-browser-"));
    rmSync(SHOTS, { recursive: true, force: true });
    const browser = await startChromium(browserDir, [readFileSync(join(STATE, "ca", "ca.pem"), "utf8")], SHOTS);
    const inShell = (command: string) => {
        const { args, env } = shellArgs(command);
        // The person's default browser is Chromium, signing in as ned.
        return spawnSync("nsenter", args, { cwd: REPO_ROOT, env: { ...env, ...browser.env(ned), PATH: `${browser.dir}:${env.PATH}` }, encoding: "utf8", timeout: 300_000 });
    };
    try {
        await report.check("sandbox: a start over a killed sandbox's state says it removes it", () => {
            const line = printed.find((l) => /a sandbox that was killed left .* removing what it left/.test(l));
            expectThat(line !== undefined, printed.slice(0, 5).join("\n"));
            return line!;
        });
        await report.check("sandbox: a second sandbox is refused, naming the running one", () => refusal(process.env, /a sandbox is already running \(pid \d+\)/));
        await report.check(`sandbox: it prints the lines to try (${commands.length})`, () => {
            expectThat(commands.length >= 5 && /^kubectl --kubeconfig \S+ get pods/.test(commands[0]), printed.join("\n"));
            return commands.join(" | ");
        });
        const expectations: [RegExp, (r: ReturnType<typeof inShell>) => string | undefined][] = [
            [/^kubectl --kubeconfig \S+ get pods/, (r) => (r.status === 0 && browser.visits().length === 1 && browser.visits()[0].error === undefined ? undefined : `status ${r.status}, ${browser.visits().length} logins: ${r.stderr}${JSON.stringify(browser.visits())}`)],
            [/^kubectl --kubeconfig \S+ (delete|get secret)/, (r) => (r.status !== 0 && /forbidden/i.test(r.stderr) ? undefined : `not Forbidden: ${r.stdout}${r.stderr}`)],
            [/^pulumi preview/, (r) => (r.status === 0 && /unchanged/.test(r.stdout) && !/to (create|update|delete|replace)/.test(r.stdout) ? undefined : `not a no-op preview: ${r.stdout}${r.stderr}`)],
            [/^npm run doctor/, (r) => (r.status === 0 ? undefined : `exit ${r.status}: ${r.stdout}${r.stderr}`)],
            // It deleted what the login above left in Dex: ned's refresh token.
            [/^npm run revoke/, (r) => (r.status === 0 && /deleted .*refreshtoken/i.test(r.stdout) ? undefined : `exit ${r.status}, nothing deleted: ${r.stdout}${r.stderr}`)],
        ];
        for (const command of commands) {
            await report.check(`sandbox: ${command}${/get pods/.test(command) ? " (logged in through Chromium)" : ""}`, () => {
                const result = inShell(command);
                const expectation = expectations.find(([pattern]) => pattern.test(command));
                expectThat(expectation !== undefined, `a printed line this check does not know: ${command}`);
                const wrong = expectation![1](result);
                expectThat(wrong === undefined, wrong ?? "");
                return (result.stderr.trim().split("\n").find((l) => /forbidden/i.test(l)) ?? result.stdout.trim().split("\n").slice(-1)[0] ?? "").slice(0, 200);
            });
        }
    } finally {
        const down = spawnSync(process.execPath, [MAIN, "down"], { cwd: REPO_ROOT, encoding: "utf8" });
        process.stdout.write(down.stdout + down.stderr);
        const code = await exited;
        await report.check("sandbox: npm run sandbox -- down stops it, and nothing is left: no process it started, no mount, no state", () => {
            expectThat(down.status === 0 && code === 0, `down exit ${down.status}, sandbox exit ${code}`);
            const left = processes.filter(alive);
            expectThat(left.length === 0, `still running: ${left.join(", ")}`);
            const inNamespace = readdirSync("/proc").filter((p) => /^\d+$/.test(p)).filter((p) => {
                try {
                    return readlinkSync(`/proc/${p}/ns/mnt`) === namespace;
                } catch {
                    return false;
                }
            });
            expectThat(inNamespace.length === 0, `processes still in its mount namespace ${namespace}: ${inNamespace.join(", ")}`);
            const overlays = readdirSync(tmpdir()).filter((f) => f.startsWith("platform-auth-etc-"));
            expectThat(overlays.length === 0, `its /etc overlay's mount point is left: ${overlays.join(", ")}`);
            expectThat(!existsSync(STATE) && !existsSync(join(REPO_ROOT, "Pulumi.sandbox.yaml")), "state left behind");
            return `${processes.length} processes stopped; its mount namespace (${namespace}) empty, so its mounts gone; ${STATE} and Pulumi.sandbox.yaml gone`;
        });
        await browser.close();
        await stopAll();
        rmSync(browserDir, { recursive: true, force: true });
    }
    console.log(`sandbox check: screenshots of the login in Chromium: ${SHOTS}`);
    console.log(`sandbox check: ${report.passed} passed, ${report.failed} failed, in ${Math.round((Date.now() - started) / 1000)}s`);
    process.exitCode = report.failed === 0 && report.passed > 0 ? 0 : 1;
}

main().catch((error) => {
    console.error(error);
    spawnSync(process.execPath, [MAIN, "down"], { cwd: REPO_ROOT, stdio: "inherit" });
    process.exitCode = 1;
});
