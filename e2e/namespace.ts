// The e2e and the engine benchmark run in private mount and network
// namespaces: the issuers' names resolve to loopback, every port (Dex's 443,
// kubelogin's 8000 and 18000) is the run's own, and nothing they start can
// reach beyond loopback, however a program is configured.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stackFileConfig } from "../test/support/stack";

const INSIDE_NAMESPACE = "PLATFORM_AUTH_E2E_NAMESPACE";

/** dex.<domain> of every stack. */
export function issuerHosts(): string[] {
    return ["local", "prod"].map((stack) => `dex.${stackFileConfig(stack)["platform-auth:domain"]}`);
}

export function insideNamespace(): boolean {
    return process.env[INSIDE_NAMESPACE] === "1";
}

/** Runs `script` again inside the namespaces; its exit status becomes this process's. Tools must be built before: inside, there is no network. */
export function reexecInNamespace(script: string): void {
    const hostsDir = mkdtempSync(join(tmpdir(), "platform-auth-hosts-"));
    const hosts = join(hostsDir, "hosts");
    writeFileSync(hosts, `${readFileSync("/etc/hosts", "utf8")}\n127.0.0.1 ${issuerHosts().join(" ")}\n`);
    const result = spawnSync(
        "unshare",
        ["--mount", "--net", "--propagation", "private", "--", "sh", "-c", 'ip link set lo up && mount --bind "$1" /etc/hosts && shift && exec "$@"', "sh", hosts, process.execPath, script],
        { env: { ...process.env, [INSIDE_NAMESPACE]: "1" }, stdio: "inherit" },
    );
    rmSync(hostsDir, { recursive: true, force: true });
    process.exitCode = result.status ?? 1;
}
