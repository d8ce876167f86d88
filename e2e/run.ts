// End-to-end: the program's own artifacts on the real programs users run.
// Dex, kube-apiserver (configured from the Talos patch, in both Talos modes),
// kube-controller-manager, kubectl and kubelogin, all on loopback. The issuer
// keeps its real name, https://dex.platform.lan, resolved to loopback in a
// private mount namespace; the machine's /etc/hosts is never edited.
//
// This file is the entry: tools, modes, the namespace, and the order of the
// steps; each step's checks live in steps/.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeCa, makeLeaf, type KeyPair } from "../test/support/pki";
import { dexConfigOf } from "../test/support/resources";
import { REPO_ROOT, stackFileConfig } from "../test/support/stack";
import { kubectlIn, makeClusterPki, startCluster } from "./control-plane";
import { mallory, ned, runDex, type StaticUser } from "./dex";
import { withPasswordGrant } from "./kubelogin";
import { killAllNow, stopAll } from "./processes";
import { expectThat, Report } from "./report";
import { artifactSteps, kubernetesManifests, podEnvironment } from "./steps/artifacts";
import type { ModeContext } from "./steps/context";
import { faultSteps } from "./steps/faults";
import { loginSteps, negativeSteps } from "./steps/login";
import { rbacSteps } from "./steps/rbac";
import { refreshSteps } from "./steps/refresh";
import { buildTools, type Tools } from "./tools";

const INSIDE_NAMESPACE = "PLATFORM_AUTH_E2E_NAMESPACE";

interface Mode {
    title: string;
    talosVersion: string;
}

const MODES: Mode[] = [
    { title: "Talos ≤1.13 (oidc-* flags)", talosVersion: "v1.13" },
    { title: "Talos ≥1.14 (AuthenticationConfiguration)", talosVersion: "v1.14" },
];

async function main(): Promise<void> {
    const issuerHost = `dex.${stackFileConfig("local")["platform-auth:domain"]}`;
    if (process.env[INSIDE_NAMESPACE] !== "1") return reexecWithHostsEntry(issuerHost);

    console.log("e2e: building or reusing the real components (cached by version)");
    const tools = buildTools(REPO_ROOT);
    console.log(`e2e: ${Object.entries(tools.versions).map(([n, v]) => `${n} ${v}`).join(", ")}`);
    const report = new Report();
    const issuerCa = makeCa("mkcert development CA (e2e)");
    const dexTls = makeLeaf(issuerCa, "dex", `/CN=${issuerHost}`, `DNS:${issuerHost}`);

    for (const mode of MODES) {
        console.log(`\n== ${mode.title}`);
        const runDir = mkdtempSync(join(tmpdir(), `platform-auth-e2e-${mode.talosVersion}-`));
        const scoped = report.scoped(`[${mode.talosVersion}] `);
        try {
            await runMode(mode, tools, issuerCa.certPem, dexTls, runDir, scoped);
        } catch (error) {
            await scoped.check("the mode ran to the end", () => {
                throw error;
            });
        } finally {
            await stopAll();
        }
        // Keep the logs of a failed mode for inspection; otherwise leave nothing behind.
        if (scoped.failed === 0) rmSync(runDir, { recursive: true, force: true });
        else console.log(`  logs and configs of this mode: ${runDir}`);
    }
    console.log(`\ne2e: ${report.passed} passed, ${report.failed} failed`);
    process.exitCode = report.failed === 0 ? 0 : 1;
}

/** Runs this script again in a private mount namespace where the issuer's name resolves to loopback. */
function reexecWithHostsEntry(issuerHost: string): void {
    const hostsDir = mkdtempSync(join(tmpdir(), "platform-auth-hosts-"));
    const hosts = join(hostsDir, "hosts");
    writeFileSync(hosts, `${readFileSync("/etc/hosts", "utf8")}\n127.0.0.1 ${issuerHost}\n`);
    const result = spawnSync(
        "unshare",
        ["--mount", "--propagation", "private", "--", "sh", "-c", 'mount --bind "$1" /etc/hosts && shift && exec "$@"', "sh", hosts, process.execPath, __filename],
        { env: { ...process.env, [INSIDE_NAMESPACE]: "1" }, stdio: "inherit" },
    );
    rmSync(hostsDir, { recursive: true, force: true });
    process.exitCode = result.status ?? 1;
}

async function runMode(mode: Mode, tools: Tools, issuerCaPem: string, dexTls: KeyPair, runDir: string, report: Report): Promise<void> {
    const home = mkdirP(join(runDir, "home"));
    const env = { ...process.env, PATH: [...tools.path, process.env.PATH].join(":"), HOME: home };
    const kubectl = kubectlIn(tools.kubectl, env);

    // 1. Artifacts, from the program itself.
    const program = await artifactSteps(mode.talosVersion, issuerCaPem, env, kubectl, runDir, report);

    // 2. The control plane, configured from the patch.
    const pki = makeClusterPki(makeCa("e2e cluster CA", mkdirP(join(runDir, "pki"))));
    const cluster = await startCluster(tools, pki, program.outputs.talosPatch, runDir);
    await report.check("2. kube-apiserver runs with the patch's authentication settings", () =>
        (cluster.apiServer.process.spawnargs.filter((a) => /^--(oidc-|authentication-config)/.test(a)).join(" ")),
    );

    // 3. Apply the RBAC; dry-run everything else.
    const manifests = kubernetesManifests(program);
    await rbacSteps(manifests, cluster, kubectl, runDir, report);

    // Dex runs as its own ServiceAccount, so its storage RBAC is exercised too.
    const dexToken = kubectl(cluster.adminKubeconfig, "create", "token", "dex", "-n", "dex", "--duration=2h");
    expectThat(dexToken.status === 0, `could not mint Dex's ServiceAccount token: ${dexToken.stderr}`);
    const dex = await runDex(tools.dex, dexConfigOf(program.resources), {
        kubeconfig: cluster.kubeconfig("dex", { name: "dex", user: { token: dexToken.stdout.trim() } }, "dex"),
        tlsCert: dexTls.certFile,
        tlsKey: dexTls.keyFile,
        users: [ned, mallory],
        env: podEnvironment(manifests, "dex"),
    }, runDir, issuerCaPem);

    const context: ModeContext = {
        program, cluster, pki, dex, kubectl, issuerCaPem, home, report,
        oidcKubeconfig: (who: StaticUser, password = who.password) => cluster.kubeconfig(`oidc-${who.username}`, withPasswordGrant(program.outputs.kubeconfigUser, who.email, password)),
    };
    // 4. Log in as a user would; 5. tokens that must be refused; 6. refresh; 7. faults (and 9. overhead).
    await loginSteps(context);
    await negativeSteps(context);
    await refreshSteps(context);
    await faultSteps(context);
}

function mkdirP(path: string): string {
    mkdirSync(path, { recursive: true });
    return path;
}

process.on("exit", killAllNow);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
        killAllNow();
        process.exit(130);
    });
}
main().catch((error) => {
    console.error(error);
    killAllNow();
    process.exitCode = 1;
});
