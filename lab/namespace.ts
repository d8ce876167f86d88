// The e2e and the engine benchmark run in private mount and network
// namespaces: the issuers' names resolve to loopback, and so do GitHub's
// (github.com, api.github.com, and an Enterprise Server's name) on an address
// of their own; every port (Dex's 443, kubelogin's 8000 and 18000) is the
// run's own, and nothing they start can reach beyond loopback, however a
// program is configured. /etc is an overlay private to the namespace, so that
// files a pod would have mounted (Dex's GitHub CA) can sit at their paths.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stackFileConfig } from "./stack-file";

const INSIDE_NAMESPACE = "PLATFORM_AUTH_E2E_NAMESPACE";

/** Where the GitHub stand-in listens; its names resolve here. */
export const GITHUB_ADDRESS = "127.0.0.4";
/** The GitHub Enterprise Server's name in the local runs, and its port: not 443, as a server may have (Dex's egress must allow it). */
export const GHES_HOST = "github.platform.lan";
export const GHES_PORT = 8443;
export const GITHUB_HOSTS = ["github.com", "api.github.com", GHES_HOST];

/** dex.<domain> of every stack. */
export function issuerHosts(): string[] {
    return ["local", "prod"].map((stack) => `dex.${stackFileConfig(stack)["platform-auth:domain"]}`);
}

export function insideNamespace(): boolean {
    return process.env[INSIDE_NAMESPACE] === "1";
}

/** Who shares the namespaces' view: the e2e's own network with loopback only, or the machine's, which the sandbox shares with the person's browser. */
export interface NamespaceOptions {
    privateNetwork: boolean;
    /** `/etc/hosts` lines added inside. */
    hosts: string[];
    /** Arguments for the script inside. */
    args?: string[];
}

const e2eNamespace = (): NamespaceOptions => ({
    privateNetwork: true,
    hosts: [`127.0.0.1 ${issuerHosts().join(" ")}`, `${GITHUB_ADDRESS} ${GITHUB_HOSTS.join(" ")}`],
});

/**
 * Runs `script` again inside the namespaces; its exit status becomes this
 * process's. A signal for this process (Ctrl-C reaches both; `kill` or
 * `timeout` only this one) goes on to the one inside, which cleans up.
 * Tools must be built before: inside a private network there is no network.
 */
export function reexecInNamespace(script: string, options: NamespaceOptions = e2eNamespace()): Promise<void> {
    const dir = mkdtempSync(join(tmpdir(), "platform-auth-etc-"));
    const names = `\n${options.hosts.join("\n")}\n`;
    // The overlay's upper layer lives on a tmpfs that goes with the namespace.
    const setUp = `${options.privateNetwork ? "ip link set lo up && " : ""}mount -t tmpfs tmpfs "$1" && mkdir "$1/upper" "$1/work" && mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1/upper,workdir=$1/work" /etc && printf "%s" "$2" >> /etc/hosts && shift 2 && exec "$@"`;
    const unshare = ["--mount", ...(options.privateNetwork ? ["--net"] : []), "--propagation", "private"];
    // unshare and sh exec into the script: the child is the process inside.
    const child = spawn("unshare", [...unshare, "--", "sh", "-c", setUp, "sh", dir, names, process.execPath, script, ...(options.args ?? [])], {
        env: { ...process.env, [INSIDE_NAMESPACE]: "1" },
        stdio: "inherit",
    });
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    process.on("SIGINT", forward).on("SIGTERM", forward);
    return new Promise((resolve) => {
        child.on("close", (code) => {
            rmSync(dir, { recursive: true, force: true });
            process.exitCode = code ?? 1;
            resolve();
        });
    });
}
