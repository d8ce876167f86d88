// Starting, waiting for and stopping the real programs. Every process started
// here is remembered by PID and killed when the suite ends, however it ends.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createWriteStream, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";

export interface Service {
    name: string;
    process: ChildProcess;
    logFile: string;
}

const running = new Set<Service>();

/** Starts `command` in the background, logging to `<runDir>/<name>.log`. */
export function start(name: string, command: string, args: string[], runDir: string, env: NodeJS.ProcessEnv = process.env): Service {
    const logFile = join(runDir, `${name}.log`);
    const log = createWriteStream(logFile, { flags: "a" });
    const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
    const service = { name, process: child, logFile };
    running.add(service);
    child.on("exit", () => running.delete(service));
    return service;
}

/** Stops one service and waits for it to be gone. */
export async function stop(service: Service): Promise<void> {
    if (service.process.exitCode !== null || service.process.signalCode !== null) return;
    const exited = new Promise((resolve) => service.process.once("exit", resolve));
    service.process.kill("SIGTERM");
    const timer = setTimeout(() => service.process.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
}

export async function stopAll(): Promise<void> {
    await Promise.all([...running].map(stop));
}

/** Last-chance cleanup for an abrupt exit: SIGKILL by PID, synchronously. */
export function killAllNow(): void {
    for (const service of running) {
        if (service.process.pid !== undefined) {
            try {
                process.kill(service.process.pid, "SIGKILL");
            } catch {
                // already gone
            }
        }
    }
}

function logTail(service: Service, lines = 30): string {
    return readFileSync(service.logFile, "utf8").split("\n").slice(-lines).join("\n");
}

/** Polls `check` until it returns a value, or fails naming what it waited for. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000, service?: Service): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    while (Date.now() < deadline) {
        if (service && service.process.exitCode !== null) {
            throw new Error(`${service.name} exited (code ${service.process.exitCode}) while waiting for ${what}:\n${logTail(service)}`);
        }
        try {
            const value = await check();
            if (value !== undefined) return value;
        } catch (error) {
            lastError = error;
        }
        await sleep(250);
    }
    throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${lastError ? `: ${String(lastError)}` : ""}${service ? `\n${logTail(service)}` : ""}`);
}

export function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = createServer();
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const address = server.address();
            server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
        });
    });
}

export interface CommandResult {
    status: number;
    stdout: string;
    stderr: string;
}

/** Runs a command to completion (kubectl, kubelogin, openssl). */
export function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env, input?: string): CommandResult {
    const result = spawnSync(command, args, { env, input, encoding: "utf8", timeout: 120_000 });
    if (result.error) throw result.error;
    return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}
