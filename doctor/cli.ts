// The I/O the doctor and revoke share: their arguments, and the programs they
// run as the user would (pulumi and kubectl from the caller's PATH and
// environment), HTTPS with the issuer's trust, and the user's files.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { request } from "node:https";
import { homedir } from "node:os";
import { join } from "node:path";
import { getCACertificates } from "node:tls";
import { parseArgs } from "node:util";
import { kubeconfigPaths } from "../preflight/cluster";
import { NOT_FOUND, type CommandResult, type HttpAnswer } from "./checks";
import { parseStackSettings, type StackSettings } from "./stack";

export interface Options {
    stack: string;
    /** The admin context (kubectl --context); the stack's kubernetes:context when not given. */
    context?: string;
    oidcContext?: string;
    serverOnly: boolean;
    positionals: string[];
}

export function parseOptions(argv: string[], usage: string): Options {
    const { values, positionals } = parseArgs({
        args: argv,
        allowPositionals: true,
        options: { stack: { type: "string" }, context: { type: "string" }, "oidc-context": { type: "string" }, "server-only": { type: "boolean", default: false } },
    });
    if (!values.stack) throw new Error(`--stack is required; usage: ${usage}`);
    return { stack: values.stack, context: values.context, oidcContext: values["oidc-context"], serverOnly: values["server-only"] === true, positionals };
}

/** Runs a command to completion; a missing program is an answer (NOT_FOUND), not an exception. */
export function runCommand(command: string, args: string[], timeoutMs = 120_000): CommandResult {
    const result = spawnSync(command, args, { encoding: "utf8", timeout: timeoutMs, stdio: ["ignore", "pipe", "pipe"] });
    const code = (result.error as NodeJS.ErrnoException | undefined)?.code;
    if (code === "ENOENT") return { status: NOT_FOUND, stdout: "", stderr: `${command}: not found on PATH` };
    return { status: result.status ?? -1, stdout: result.stdout ?? "", stderr: result.stderr ?? "", timedOut: code === "ETIMEDOUT" };
}

/** kubectl against the given context. */
export function kubectlIn(context: string): (...args: string[]) => CommandResult {
    return (...args) => runCommand("kubectl", ["--context", context, ...args]);
}

/** The stack's settings from `pulumi config`, or nothing when it cannot be read (the checks then say what to pass). */
export function stackSettings(stack: string): StackSettings {
    const result = runCommand("pulumi", ["config", "--json", "--stack", stack]);
    return result.status === 0 ? parseStackSettings(result.stdout) : {};
}

/** An HTTPS GET trusting only `caPem`, or the system's roots (which honour SSL_CERT_FILE, as kubelogin's do). */
export function httpsGet(url: string, caPem?: string): Promise<HttpAnswer> {
    return new Promise((resolve) => {
        const req = request(url, { ca: caPem ?? getCACertificates("system"), timeout: 10_000 }, (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (chunk) => (body += chunk));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on("timeout", () => req.destroy(Object.assign(new Error("timed out"), { code: "ETIMEDOUT" })));
        req.on("error", (error: NodeJS.ErrnoException) => resolve({ error: error.message, code: error.code }));
        req.end();
    });
}

/** The kubeconfig files kubectl reads, with their text, in kubectl's order. */
export function kubeconfigFiles(): { path: string; text: string }[] {
    return kubeconfigPaths().filter((path) => existsSync(path)).map((path) => ({ path, text: readFileSync(path, "utf8") }));
}

/** kubelogin's token cache files (~/.kube/cache/oidc-login), as text. */
export function tokenCacheFiles(): string[] {
    const dir = join(homedir(), ".kube", "cache", "oidc-login");
    if (!existsSync(dir)) return [];
    return readdirSync(dir).filter((f) => !f.endsWith(".lock")).map((f) => readFileSync(join(dir, f), "utf8"));
}

/** Runs `main` and exits with its status; an exception is printed as one line, not a stack trace. */
export function runMain(main: () => Promise<number>): void {
    main().then(
        (status) => (process.exitCode = status),
        (error) => {
            console.error(`error: ${(error as Error).message}`);
            process.exitCode = 2;
        },
    );
}
