// The real Pulumi engine: the CLI, its Node.js language host and the
// kubernetes and github plugins built from source, run against a copy of the
// program with a file backend in a throwaway PULUMI_HOME. Nothing here talks to
// the Pulumi service: plugins come from PATH (ambient), never downloaded.
import { spawn } from "node:child_process";
import { cpSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { CommandResult } from "./processes";

/** What a user's clone holds of the program; tests and tooling stay behind. */
const PROGRAM_FILES = ["Pulumi.yaml", "package.json", "tsconfig.json", "index.ts", "program.ts"];
export const PROGRAM_FOLDERS = ["config", "contract", "preflight", "dex", "talos", "github", "rbac", "kubeconfig"];

/** Copies the program as a user's clone has it into `dir`, sharing the repo's node_modules. */
export function copyProgram(repoRoot: string, dir: string, stackFiles: Record<string, string>): string {
    mkdirSync(dir, { recursive: true });
    for (const file of PROGRAM_FILES) cpSync(join(repoRoot, file), join(dir, file));
    for (const folder of PROGRAM_FOLDERS) {
        cpSync(join(repoRoot, folder), join(dir, folder), { recursive: true, filter: (src) => !src.endsWith(".test.ts") && !src.endsWith(".go") });
    }
    for (const [stack, text] of Object.entries(stackFiles)) writeFileSync(join(dir, `Pulumi.${stack}.yaml`), text);
    symlinkSync(join(repoRoot, "node_modules"), join(dir, "node_modules"));
    return dir;
}

/** Copies a fixture program from lab/fixtures/<name>, sharing the repo's node_modules. */
export function copyFixture(repoRoot: string, name: string, dir: string): string {
    cpSync(join(repoRoot, "lab", "fixtures", name), dir, { recursive: true });
    symlinkSync(join(repoRoot, "node_modules"), join(dir, "node_modules"));
    return dir;
}

/** The warnings in the output, without the engine's notes about using the plugins built here (ambient, from PATH). */
export function programWarnings(output: string): string[] {
    return output.split("\n").filter((line) => /warning:/i.test(line) && !/using pulumi-[a-z-]+ from \$PATH/.test(line));
}

export interface Engine {
    env: NodeJS.ProcessEnv;
    /** `pulumi <args>` in `cwd`, to completion; never throws on a non-zero exit. `extraEnv` is for this run only. */
    pulumi(cwd: string, args: string[], timeoutMs?: number, extraEnv?: NodeJS.ProcessEnv): Promise<CommandResult>;
}

/** An engine with its own home and file backend under `dir`; `path` puts the built CLI and plugins first. */
export function makeEngine(dir: string, path: string[], extraEnv: NodeJS.ProcessEnv = {}): Engine {
    const backend = join(dir, "state");
    mkdirSync(backend, { recursive: true });
    const env: NodeJS.ProcessEnv = {
        ...process.env,
        ...extraEnv,
        PATH: [...path, process.env.PATH].join(":"),
        PULUMI_HOME: join(dir, "home"),
        PULUMI_BACKEND_URL: `file://${backend}`,
        PULUMI_CONFIG_PASSPHRASE: "platform-auth-e2e",
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        // Ambient plugins (on PATH) are what makes an offline engine work; never ignore them.
        PULUMI_IGNORE_AMBIENT_PLUGINS: undefined,
        NO_COLOR: "1",
    };
    return {
        env,
        pulumi: (cwd, args, timeoutMs = 900_000, extraEnv = {}) => runAsync("pulumi", args, { cwd, env: { ...env, ...extraEnv } }, timeoutMs),
    };
}

/** Runs a command without blocking the event loop, so watchers can observe what it does meanwhile. */
export function runAsync(command: string, args: string[], options: { cwd?: string; env: NodeJS.ProcessEnv }, timeoutMs: number): Promise<CommandResult> {
    return new Promise((resolve, reject) => {
        const child = spawn(command, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (chunk) => (stdout += chunk));
        child.stderr.on("data", (chunk) => (stderr += chunk));
        const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
        child.on("error", reject);
        child.on("close", (code) => {
            clearTimeout(timer);
            resolve({ status: code ?? -1, stdout, stderr });
        });
    });
}
