// End-to-end: the program's own artifacts on the real programs users run.
// Dex, kube-apiserver (configured from the Talos patch, in both Talos modes),
// kube-controller-manager, kubectl and kubelogin, all on loopback. The issuer
// keeps its real name, https://dex.platform.lan, resolved to loopback in a
// private mount namespace; the machine's /etc/hosts is never edited.
import { spawnSync } from "node:child_process";
import { createSign, generateKeyPairSync } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Agent, request, type AgentOptions } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { makeCa, makeLeaf, type KeyPair } from "../test/support/pki";
import { dexConfigOf, reveal } from "../test/support/resources";
import { REPO_ROOT, runStack, stackFileConfig, USER_KEYS, type StackRun } from "../test/support/stack";
import { makeClusterPki, startCluster, writeKubeconfig, type Cluster, type Pki } from "./cluster";
import { jwtClaims, passwordGrantToken, startDex, type DexRuntime, type StaticUser } from "./dex";
import { killAllNow, run, sleep, stop, stopAll, waitFor, type CommandResult } from "./processes";
import { buildTools, type Tools } from "./tools";

const INSIDE_NAMESPACE = "PLATFORM_AUTH_E2E_NAMESPACE";

const ned: StaticUser = { email: "ned@devantler.tech", username: "ned", password: "ned-password", groups: ["devantler-tech:platform"] };
const mallory: StaticUser = { email: "mallory@example.com", username: "mallory", password: "mallory-password", groups: ["devantler-tech:outsiders"] };

/** Prints each check as it runs and counts them, per mode and in total. */
class Report {
    passed = 0;
    failed = 0;
    constructor(
        private readonly prefix = "",
        private readonly parent?: Report,
    ) {}

    scoped(prefix: string): Report {
        return new Report(prefix, this);
    }

    private count(ok: boolean): void {
        for (let r: Report | undefined = this; r; r = r.parent) ok ? r.passed++ : r.failed++;
    }

    /** Records one check; `check` returns a detail line or throws. */
    async check(name: string, check: () => Promise<string | void> | string | void): Promise<void> {
        try {
            const detail = await check();
            this.count(true);
            console.log(`  ✔ ${this.prefix}${name}${detail ? `: ${detail}` : ""}`);
        } catch (error) {
            this.count(false);
            console.log(`  ✘ ${this.prefix}${name}: ${(error as Error).message}`);
        }
    }

    note(text: string): void {
        console.log(`  · ${this.prefix}${text}`);
    }
}

function expectThat(condition: boolean, message: string): void {
    if (!condition) throw new Error(message);
}

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
            await runMode(mode, tools, issuerCa, dexTls, runDir, scoped);
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

async function runMode(mode: Mode, tools: Tools, issuerCa: KeyPair & { dir: string }, dexTls: KeyPair, runDir: string, report: Report): Promise<void> {
    // 1. Artifacts, from the program itself.
    const program = await runStack("local", { ...USER_KEYS, issuerCaPem: issuerCa.certPem }, { "platform-auth:talosVersion": mode.talosVersion });
    const issuer = program.outputs.issuerUrl;
    const producedDex = dexConfigOf(program.resources);
    const pki = makeClusterPki(makeCa("e2e cluster CA", mkdirP(join(runDir, "pki"))));
    const env = { ...process.env, PATH: [...tools.path, process.env.PATH].join(":"), HOME: mkdirP(join(runDir, "home")) };
    const kubectl = (kubeconfig: string, ...args: string[]) => run(tools.kubectl, ["--kubeconfig", kubeconfig, ...args], env);

    await report.check("1. artifacts come from the program", () => `issuer ${issuer}, client ${program.outputs.kubectlClientId}, apiserver audience ${program.outputs.apiServerAudience}, patch mode ${program.outputs.talosPatchMode}`);
    await report.check("1. setCredentialsCommand creates exactly the kubeconfigUser entry", () => {
        const kubeconfig = join(runDir, "set-credentials.kubeconfig");
        writeFileSync(kubeconfig, "apiVersion: v1\nkind: Config\n");
        const created = run("sh", ["-c", program.outputs.setCredentialsCommand], { ...env, KUBECONFIG: kubeconfig });
        expectThat(created.status === 0, `the command failed: ${created.stderr}`);
        const user = JSON.parse(run(tools.kubectl, ["config", "view", "--raw", "-o", "json"], { ...env, KUBECONFIG: kubeconfig }).stdout).users[0];
        const expected = parse(program.outputs.kubeconfigUser);
        expectThat(user.name === expected.name, `user ${user.name} != ${expected.name}`);
        for (const field of ["apiVersion", "command", "args", "interactiveMode"]) {
            expectThat(JSON.stringify(user.user.exec[field]) === JSON.stringify(expected.user.exec[field]), `exec.${field} differs: ${JSON.stringify(user.user.exec[field])}`);
        }
        return `${user.user.exec.args.length} exec args`;
    });

    // 2. The control plane, configured from the patch.
    const cluster = await startCluster(tools, pki, program.outputs.talosPatch, runDir);
    await report.check("2. kube-apiserver runs with the patch's authentication settings", () =>
        (cluster.apiServer.process.spawnargs.filter((a) => /^--(oidc-|authentication-config)/.test(a)).join(" ")),
    );

    // 3. Apply the RBAC; dry-run everything else.
    const manifests = kubernetesManifests(program);
    await applyAndDryRun(manifests, cluster, kubectl, runDir, report);

    // Dex runs as its own ServiceAccount, so its storage RBAC is exercised too.
    const dexToken = kubectl(cluster.adminKubeconfig, "create", "token", "dex", "-n", "dex", "--duration=2h");
    expectThat(dexToken.status === 0, `could not mint Dex's ServiceAccount token: ${dexToken.stderr}`);
    const dexRuntime: DexRuntime = {
        kubeconfig: writeKubeconfig(join(runDir, "dex.kubeconfig"), cluster.server, pki.ca.certPem, { name: "dex", user: { token: dexToken.stdout.trim() } }, "dex"),
        tlsCert: dexTls.certFile,
        tlsKey: dexTls.keyFile,
        users: [ned, mallory],
        env: podEnvironment(manifests, "dex"),
    };
    let dex = await startDex(tools.dex, producedDex, dexRuntime, runDir, issuerCa.certPem);

    // 4. Log in with the snippet, as a user would.
    const user = parse(program.outputs.kubeconfigUser);
    const oidcKubeconfig = (who: StaticUser, password = who.password) =>
        writeKubeconfig(join(runDir, `oidc-${who.username}.kubeconfig`), cluster.server, pki.ca.certPem, withPasswordGrant(user, who.email, password));
    const nedConfig = oidcKubeconfig(ned);
    await waitFor("the apiserver to accept OIDC tokens", () => (kubectl(nedConfig, "auth", "whoami", "-o", "json").status === 0 ? true : undefined), 90_000, cluster.apiServer).catch((error) => {
        throw new Error(`${error.message}\n${kubectl(nedConfig, "auth", "whoami").stderr}`);
    });
    await loginChecks(nedConfig, kubectl, report);

    // 5. Negative cases.
    await negativeChecks(program, cluster, pki, issuerCa.certPem, oidcKubeconfig(mallory), kubectl, report, runDir);

    // 6. Refresh: short-lived ID tokens are renewed silently until the refresh token's lifetime ends.
    await stop(dex);
    dex = await startDex(tools.dex, producedDex, { ...dexRuntime, expiry: { idTokens: "10s", refreshTokens: { validIfNotUsedFor: "40s", absoluteLifetime: "40s", reuseInterval: "3s" } } }, runDir, issuerCa.certPem, "dex-short-expiry");
    await refreshChecks(cluster, pki, kubectl, oidcKubeconfig, env.HOME, report, runDir);

    // 7. Faults.
    await stop(dex);
    dex = await startDex(tools.dex, producedDex, dexRuntime, runDir, issuerCa.certPem, "dex-restarted");
    clearTokenCache(env.HOME);
    const freshConfig = oidcKubeconfig(ned);
    expectThat(kubectl(freshConfig, "get", "pods").status === 0, "a fresh login failed before the fault checks");
    const token = cachedTokens(env.HOME).id_token;
    await stop(dex);
    await report.check("7. with Dex stopped, break-glass (admin client cert) still writes", () => {
        const created = kubectl(cluster.adminKubeconfig, "create", "configmap", "break-glass-probe", "-n", "default", "--from-literal=ok=yes");
        expectThat(created.status === 0, created.stderr);
        return created.stdout.trim();
    });
    await report.check("7. with Dex stopped, OIDC reads keep working on a still-valid token", () => {
        const pods = kubectl(freshConfig, "get", "pods", "-n", "default");
        expectThat(pods.status === 0, pods.stderr);
        expectThat(cachedTokens(env.HOME).id_token === token, "kubelogin fetched a new token, so Dex was not needed to be down");
    });

    // 9. Performance, while the token is valid and the bindings exist.
    await report.check("9. OIDC authentication overhead (median authorized read, OIDC token / admin client cert)", () => measureOverhead(cluster, pki, token));

    await report.check("7. deleting the bindings revokes OIDC access at once", () => {
        const deleted = kubectl(cluster.adminKubeconfig, "delete", "clusterrolebinding", "oidc-view", "oidc-cluster-reader");
        expectThat(deleted.status === 0, deleted.stderr);
        const pods = kubectl(freshConfig, "get", "pods", "-n", "default");
        expectThat(pods.status !== 0 && /forbidden/i.test(pods.stderr), `still allowed: ${pods.stdout}${pods.stderr}`);
        return firstLine(pods.stderr);
    });
}

function mkdirP(path: string): string {
    mkdirSync(path, { recursive: true });
    return path;
}

function firstLine(text: string): string {
    return text.trim().split("\n")[0];
}

/** The kubeconfigUser entry unchanged except for kubelogin's password-grant flags. */
function withPasswordGrant(user: any, username: string, password: string) {
    const copy = structuredClone(user);
    copy.user.exec.args.push("--grant-type=password", `--username=${username}`, `--password=${password}`);
    return copy;
}

interface Manifest {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace?: string };
    [key: string]: any;
}

/** Every Kubernetes object the program registers, as plain manifests. */
function kubernetesManifests(program: StackRun): Manifest[] {
    return program.resources.filter((r) => r.type.startsWith("kubernetes:")).map((r) => reveal<Manifest>(r.inputs));
}

type Kubectl = (kubeconfig: string, ...args: string[]) => CommandResult;

/** The environment the kubelet would give the Deployment's container, resolving secretKeyRefs against the program's Secrets. */
function podEnvironment(manifests: Manifest[], deploymentName: string): Record<string, string> {
    const deployment = manifests.find((x) => x.kind === "Deployment" && x.metadata.name === deploymentName)!;
    const secret = (name: string) => manifests.find((x) => x.kind === "Secret" && x.metadata.name === name)?.stringData ?? {};
    return Object.fromEntries(
        deployment.spec.template.spec.containers[0].env.map((e: any) => [e.name, e.value ?? secret(e.valueFrom.secretKeyRef.name)[e.valueFrom.secretKeyRef.key]]),
    );
}

async function applyAndDryRun(manifests: Manifest[], cluster: Cluster, kubectl: Kubectl, runDir: string, report: Report): Promise<void> {
    const file = (name: string, objects: Manifest[]) => {
        const path = join(runDir, `${name}.yaml`);
        writeFileSync(path, objects.map((o) => stringify(o)).join("---\n"));
        return path;
    };
    const isOidcRbac = (m: Manifest) => m.metadata.name === "cluster-reader" || m.metadata.name.startsWith("oidc-");
    // Dex needs its namespace, ServiceAccount and storage RBAC for real to run at all.
    const isDexRuntime = (m: Manifest) => ["Namespace", "ServiceAccount", "Role", "RoleBinding"].includes(m.kind) || (m.kind.startsWith("ClusterRole") && m.metadata.name === "dex-storage-crds");
    const rest = manifests.filter((m) => !isOidcRbac(m) && !isDexRuntime(m));

    await report.check("3. the program's read-only RBAC applies", () => {
        const applied = kubectl(cluster.adminKubeconfig, "apply", "--server-side", "-f", file("oidc-rbac", manifests.filter(isOidcRbac)));
        expectThat(applied.status === 0, applied.stderr);
        return applied.stdout.trim().split("\n").join("; ");
    });
    await report.check("3. Dex's namespace (Pod Security: restricted), ServiceAccount and storage RBAC apply", () => {
        const applied = kubectl(cluster.adminKubeconfig, "apply", "--server-side", "-f", file("dex-runtime", manifests.filter(isDexRuntime)));
        expectThat(applied.status === 0, applied.stderr);
        const labels = JSON.parse(kubectl(cluster.adminKubeconfig, "get", "namespace", "dex", "-o", "json").stdout).metadata.labels;
        expectThat(labels["pod-security.kubernetes.io/enforce"] === "restricted", "the dex namespace does not enforce restricted");
        return `${manifests.filter(isDexRuntime).length} objects`;
    });

    const api = kubectl(cluster.adminKubeconfig, "api-resources", "-o", "name").stdout.split("\n");
    const available = rest.filter((m) => m.apiVersion.includes("/") ? api.some((r) => r.endsWith(`.${m.apiVersion.split("/")[0]}`)) : true);
    for (const missing of rest.filter((m) => !available.includes(m))) {
        report.note(`not dry-run: ${describeManifest(missing)} (its CRD, from Gateway API, is not installed on this offline apiserver)`);
    }
    await report.check("3. every other object passes a server-side dry-run", () => {
        const dryRun = kubectl(cluster.adminKubeconfig, "apply", "--server-side", "--dry-run=server", "-f", file("dry-run", available));
        expectThat(dryRun.status === 0, dryRun.stderr);
        expectThat(!/PodSecurity|would violate/i.test(dryRun.stderr), `Pod Security warnings: ${dryRun.stderr}`);
        return available.map(describeManifest).join(", ");
    });
    await report.check("3. Dex's pod is admitted where Pod Security `restricted` is enforced", () => {
        const deployment = available.find((x) => x.kind === "Deployment")!;
        const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "dex-pod-security-probe", namespace: "dex", labels: deployment.spec.template.metadata.labels }, spec: deployment.spec.template.spec };
        const created = kubectl(cluster.adminKubeconfig, "create", "--dry-run=server", "-f", file("dex-pod", [pod as Manifest]));
        expectThat(created.status === 0, created.stderr);
        const privileged = { ...pod, spec: { ...pod.spec, containers: pod.spec.containers.map((c: any) => ({ ...c, securityContext: { ...c.securityContext, allowPrivilegeEscalation: true } })) } };
        const refused = kubectl(cluster.adminKubeconfig, "create", "--dry-run=server", "-f", file("dex-pod-escalating", [privileged as Manifest]));
        expectThat(refused.status !== 0 && /forbidden.*PodSecurity/i.test(refused.stderr), `a weakened pod was not refused, so the check proves nothing: ${refused.stderr}`);
        return "restricted admits it; the same pod with privilege escalation is refused";
    });
}

function describeManifest(manifest: Manifest): string {
    return `${manifest.kind}/${manifest.metadata.name}`;
}

async function loginChecks(config: string, kubectl: Kubectl, report: Report): Promise<void> {
    await report.check("4. kubectl auth whoami", () => {
        const whoami = kubectl(config, "auth", "whoami", "-o", "json");
        expectThat(whoami.status === 0, whoami.stderr);
        const info = JSON.parse(whoami.stdout).status.userInfo;
        expectThat(info.username === `oidc:${ned.email}`, `username ${info.username}`);
        expectThat(info.groups.includes("oidc:devantler-tech:platform"), `groups ${info.groups}`);
        return `Username ${info.username}, Groups [${info.groups.join(" ")}]`;
    });
    const matrix: [string, string[], "yes" | "no"][] = [
        ["can-i list pods", ["list", "pods"], "yes"],
        ["can-i get secrets", ["get", "secrets"], "no"],
        ["can-i create deployments", ["create", "deployments"], "no"],
        ["can-i create pods/exec", ["create", "pods", "--subresource=exec"], "no"],
        ["can-i create pods/portforward", ["create", "pods", "--subresource=portforward"], "no"],
        ["can-i get nodes", ["get", "nodes"], "yes"],
        ["can-i list refreshtokens.dex.coreos.com", ["list", "refreshtokens.dex.coreos.com", "-n", "dex"], "no"],
        ["can-i get signingkeies.dex.coreos.com", ["get", "signingkeies.dex.coreos.com", "-n", "dex"], "no"],
    ];
    for (const [name, args, expected] of matrix) {
        await report.check(`4. ${name} is ${expected}`, () => {
            const answer = kubectl(config, "auth", "can-i", ...args).stdout.trim();
            expectThat(answer === expected, `answered ${answer}`);
        });
    }
    await report.check("4. kubectl get nodes and pods across namespaces work", () => {
        for (const args of [["get", "nodes"], ["get", "pods", "-A"]]) {
            const result = kubectl(config, ...args);
            expectThat(result.status === 0, result.stderr);
        }
    });
    await report.check("4. reading Dex's objects (refresh tokens, keys) is Forbidden", () => {
        const result = kubectl(config, "get", "refreshtokens.dex.coreos.com", "-n", "dex");
        expectThat(result.status !== 0 && /forbidden/i.test(result.stderr), `${result.stdout}${result.stderr}`);
        return firstLine(result.stderr);
    });
}

async function negativeChecks(program: StackRun, cluster: Cluster, pki: Pki, issuerCaPem: string, malloryConfig: string, kubectl: Kubectl, report: Report, runDir: string): Promise<void> {
    const issuer = program.outputs.issuerUrl;
    const clientId = program.outputs.kubectlClientId;
    const withToken = (name: string, token: string) =>
        writeKubeconfig(join(runDir, `token-${name}.kubeconfig`), cluster.server, pki.ca.certPem, { name, user: { token } });
    const expectUnauthorized = (name: string, token: string) => {
        const result = kubectl(withToken(name, token), "get", "pods");
        expectThat(result.status !== 0 && /Unauthorized/.test(result.stderr), `not refused: ${result.stdout}${result.stderr}`);
        return firstLine(result.stderr);
    };

    await report.check("5. an identity outside the bound users and groups is Forbidden on reads", () => {
        const whoami = JSON.parse(kubectl(malloryConfig, "auth", "whoami", "-o", "json").stdout).status.userInfo.username;
        const result = kubectl(malloryConfig, "get", "pods");
        expectThat(result.status !== 0 && /forbidden/i.test(result.stderr), `${result.stdout}${result.stderr}`);
        return `${whoami}: ${firstLine(result.stderr)}`;
    });
    const scopes = ["openid", "email", "groups"];
    await report.check("5. a Dex token without the apiserver's audience is Unauthorized", async () => {
        const token = await passwordGrantToken(issuer, issuerCaPem, clientId, ned, scopes);
        return `aud ${JSON.stringify(jwtClaims(token).aud)}: ${expectUnauthorized("no-audience", token)}`;
    });
    await report.check("5. (control) the same grant with the audience scope is accepted", async () => {
        const token = await passwordGrantToken(issuer, issuerCaPem, clientId, ned, [...scopes, `audience:server:client_id:${program.outputs.apiServerAudience}`]);
        const result = kubectl(withToken("with-audience", token), "get", "pods");
        expectThat(result.status === 0, result.stderr);
        return `aud ${JSON.stringify(jwtClaims(token).aud)}`;
    });
    const claims = { aud: [program.outputs.apiServerAudience, clientId], email: ned.email, email_verified: true, groups: ned.groups, sub: "forged" };
    await report.check("5. a token from another issuer is Unauthorized", () => expectUnauthorized("other-issuer", forgeJwt({ ...claims, iss: "https://dex.elsewhere.lan" })));
    await report.check("5. a token claiming our issuer but signed by another key is Unauthorized", () => expectUnauthorized("forged", forgeJwt({ ...claims, iss: issuer })));
}

/** A well-formed RS256 ID token signed by a key Dex never had. */
function forgeJwt(claims: Record<string, unknown>): string {
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const now = Math.floor(Date.now() / 1000);
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
    const unsigned = `${encode({ alg: "RS256", typ: "JWT", kid: "forged" })}.${encode({ iat: now, exp: now + 600, ...claims })}`;
    return `${unsigned}.${createSign("RSA-SHA256").update(unsigned).sign(privateKey).toString("base64url")}`;
}

function cacheDir(home: string): string {
    return join(home, ".kube", "cache", "oidc-login");
}

function clearTokenCache(home: string): void {
    rmSync(cacheDir(home), { recursive: true, force: true });
}

/** kubelogin's cached token set (its cache holds one entry per client setup). */
function cachedTokens(home: string): { id_token: string; refresh_token?: string } {
    const entries = readdirSync(cacheDir(home)).filter((f) => !f.endsWith(".lock"));
    expectThat(entries.length === 1, `expected one kubelogin cache entry, found ${entries.length}`);
    return JSON.parse(readFileSync(join(cacheDir(home), entries[0]), "utf8"));
}

async function refreshChecks(cluster: Cluster, pki: Pki, kubectl: Kubectl, oidcKubeconfig: (who: StaticUser, password?: string) => string, home: string, report: Report, runDir: string): Promise<void> {
    clearTokenCache(home);
    const loggedInAt = Date.now();
    const login = kubectl(oidcKubeconfig(ned), "get", "pods");
    expectThat(login.status === 0, `the first login failed: ${login.stderr}`);
    const first = cachedTokens(home);
    await report.check("6. the login requested offline_access and got a refresh token", () => {
        expectThat(typeof first.refresh_token === "string" && first.refresh_token.length > 0, "no refresh token in kubelogin's cache");
        return `ID token lifetime ${jwtClaims(first.id_token).exp - jwtClaims(first.id_token).iat}s`;
    });
    // From here a password grant would fail, so only the refresh token can keep kubectl working.
    const wrongPassword = oidcKubeconfig(ned, "not-the-password");
    await sleep(Math.max(0, jwtClaims(first.id_token).exp * 1000 - Date.now()) + 2000);
    await report.check("5. a token past its expiry is Unauthorized", () => {
        const result = kubectl(writeKubeconfig(join(runDir, "expired.kubeconfig"), cluster.server, pki.ca.certPem, { name: "expired", user: { token: first.id_token } }), "get", "pods");
        expectThat(result.status !== 0 && /Unauthorized/.test(result.stderr), `${result.stdout}${result.stderr}`);
        return firstLine(result.stderr);
    });
    await report.check("6. after the ID token expires, kubectl keeps working through a silent refresh (no password grant)", () => {
        const result = kubectl(wrongPassword, "get", "pods");
        expectThat(result.status === 0, result.stderr);
        expectThat(cachedTokens(home).id_token !== first.id_token, "the ID token was not renewed");
        return "new ID token obtained with the refresh token";
    });
    await sleep(Math.max(0, loggedInAt + 45_000 - Date.now()));
    await report.check("6. once the refresh token's lifetime is over, a new login is required", () => {
        const refused = kubectl(wrongPassword, "get", "pods");
        expectThat(refused.status !== 0, "kubectl still worked without a new login");
        const relogin = kubectl(oidcKubeconfig(ned), "get", "pods");
        expectThat(relogin.status === 0, `the new login failed: ${relogin.stderr}`);
        return `without a login: ${firstLine(refused.stderr)}; a new login works`;
    });
}

/** Median latency of the same authorized read, OIDC bearer token against client certificate, interleaved. */
async function measureOverhead(cluster: Cluster, pki: Pki, token: string): Promise<string> {
    const url = `${cluster.server}/api/v1/namespaces/default/configmaps`;
    const options: AgentOptions = { keepAlive: true, maxSockets: 1, ca: pki.ca.certPem };
    const oidc = new Agent(options);
    const cert = new Agent({ ...options, cert: readFileSync(pki.admin.certFile), key: readFileSync(pki.admin.keyFile) });
    const timed = (agent: Agent, headers: Record<string, string>) =>
        new Promise<number>((resolve, reject) => {
            const started = process.hrtime.bigint();
            request(url, { agent, headers }, (res) => {
                res.resume();
                res.on("end", () => (res.statusCode === 200 ? resolve(Number(process.hrtime.bigint() - started) / 1e6) : reject(new Error(`HTTP ${res.statusCode}`))));
            }).on("error", reject).end();
        });
    const rounds = 200;
    const samples = { oidc: [] as number[], cert: [] as number[] };
    for (let i = 0; i < rounds + 20; i++) {
        const o = await timed(oidc, { authorization: `Bearer ${token}` });
        const c = await timed(cert, {});
        // The first rounds warm connections and caches on both sides.
        if (i >= 20) {
            samples.oidc.push(o);
            samples.cert.push(c);
        }
    }
    oidc.destroy();
    cert.destroy();
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
    return `${(median(samples.oidc) / median(samples.cert)).toFixed(2)}x (${median(samples.oidc).toFixed(2)} ms vs ${median(samples.cert).toFixed(2)} ms, ${rounds} interleaved reads each)`;
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
