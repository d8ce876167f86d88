// End-to-end: the program on the real Pulumi engine and the real programs
// users run. Each run deploys one stack with `pulumi up` to a loopback control
// plane (etcd, kube-apiserver configured from the stack's Talos patch,
// kube-controller-manager, kube-scheduler and a kwok node) with a GitHub
// stand-in, then logs in through what Pulumi created: Dex started from the
// cluster's Secrets, kubelogin from `pulumi stack output`. The issuers keep
// their real names, resolved to loopback in a private mount namespace; the
// machine's /etc/hosts is never edited.
//
// This file is the entry: tools, runs, the namespace, and the order of the
// steps; each step's checks live in steps/.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readApiServerOidc } from "../talos/read";
import { makeCa, makeLeaf, type KeyPair } from "../lab/pki";
import { runStack } from "../lab/stack";
import { REPO_ROOT, stackFileConfig, USER_KEYS } from "../lab/stack-file";
import { anonymousAccessStep, kubectlIn } from "../lab/control-plane";
import { installBrowser } from "../lab/browser-standin";
import { copyProgram, makeEngine } from "../lab/engine";
import { ALLOWED_TEAM_MEMBERS, ned } from "../lab/github-people";
import { openSession } from "../lab/kubelogin";
import { GHES_HOST, GHES_PORT, GITHUB_ADDRESS, insideNamespace, issuerHosts, reexecInNamespace } from "../lab/namespace";
import { killAllNow, stopAll } from "../lab/processes";
import { expectThat, Report } from "../lab/report";
import { adoptionSteps } from "./steps/adoption";
import { admissionSteps } from "./steps/admission";
import { artifactSteps } from "./steps/artifacts";
import { browserSteps, certificateWarningStep } from "./steps/browser";
import { requireChromium, startChromium } from "../lab/chromium";
import { deviceCodeFromAnotherStep } from "./steps/device-flow";
import type { ModeContext } from "./steps/context";
import { configureStack, stackOutputs, type EngineContext } from "../lab/deployment";
import { deploySteps, plainSecretRefusalStep, preflightRefusalStep } from "./steps/deploy";
import { dayTwoSteps } from "./steps/day-two";
import { faultSteps } from "./steps/faults";
import { gitHubLoginSteps, gitHubOutageSteps, teamRemovalStep } from "./steps/github-login";
import { yamlNamesStep } from "./steps/yaml-names";
import { loginSteps, negativeSteps } from "./steps/login";
import { refreshSteps } from "./steps/refresh";
import { dexRightsStep, handAddedMemberSteps, killedUpSteps, orgCapitalsStep, preExistingTeamStep } from "./steps/teams";
import { destroySteps, noOpPreviewStep, policySteps, rotationSteps } from "./steps/update";
import { talosDestroyedStep, talosDriftSteps, talosFirstApplySteps, talosLoginStep, talosMigrationSteps, talosUpdateSteps, operatorPatches } from "./steps/talos";
import { generatedConfig, startTalosNodes, type TalosNodes } from "../lab/talos-nodes";
import { buildTools, type Tools } from "../lab/tools";
import { installGatewayApi, startWorkloadRuntime } from "../lab/workloads";
import { issuerLoaded, operatorKeys, startControlPlane, startDeployedDex, startGitHub } from "../lab/world";


interface Run {
    title: string;
    stack: string;
    /** Overrides the stack file's talosVersion, to cover the other apiserver mode. */
    talosVersion?: string;
    /** Turns the device flow on (and with it Dex's approval screen); the other runs keep the default, off. */
    deviceFlow?: true;
}

const RUNS: Run[] = [
    { title: "local stack, Talos ≤1.13 (oidc-* flags), device flow on", stack: "local", deviceFlow: true },
    { title: "local stack, Talos ≥1.14 (AuthenticationConfiguration)", stack: "local", talosVersion: "v1.14" },
    { title: "prod stack (publicly trusted issuer), Talos ≤1.13", stack: "prod" },
];

/** Where each run's screenshots go (the repo's .artifacts/, ignored by git): every page a person saw in Chromium. */
const ARTIFACTS = join(REPO_ROOT, ".artifacts", "e2e");

/**
 * ID tokens of 10 s; a refresh token unused for 30 s needs a new login (as pulumi config set --path keys).
 * The absolute limit stays long: no step waits for it, and it must not end a session a step measures.
 */
const E2E_TOKEN_LIFETIMES = { "tokenLifetimes.idToken": "10s", "tokenLifetimes.refreshTokenIdle": "30s", "tokenLifetimes.refreshTokenAbsolute": "1h" };

/** The stack file's teams, the e2e's people added to the first: the allowed team that readOnlyGroups binds. */
function withPeople(stack: string): { slug: string; members: { username: string; role?: string }[] }[] {
    const [allowed, ...others] = JSON.parse(stackFileConfig(stack)["platform-auth:githubTeams"]);
    return [{ ...allowed, members: [...allowed.members, ...ALLOWED_TEAM_MEMBERS.map((p) => ({ username: p.login }))] }, ...others];
}

/** The issuer TLS of every stack, signed by one CA: mkcert's on local, "public" trust (SSL_CERT_FILE) on prod. */
interface IssuerTls {
    ca: KeyPair & { dir: string };
    leaf: KeyPair;
}

async function main(): Promise<void> {
    if (!insideNamespace()) {
        requireChromium();
        // Built (or found cached) out here: inside, the network namespace has loopback only.
        console.log("e2e: building or reusing the real components (cached by version)");
        buildTools(REPO_ROOT);
        return reexecInNamespace(__filename);
    }
    const hosts = issuerHosts();
    rmSync(ARTIFACTS, { recursive: true, force: true });
    const tools = buildTools(REPO_ROOT);
    const started = Date.now();
    console.log(`e2e: ${Object.entries(tools.versions).map(([n, v]) => `${n} ${v}`).join(", ")}`);
    const report = new Report();
    const ca = makeCa("mkcert development CA (e2e)");
    const tls: IssuerTls = { ca, leaf: makeLeaf(ca, "dex", `/CN=${hosts[0]}`, hosts.map((h) => `DNS:${h}`).join(",")) };

    // For a quicker look while developing: PLATFORM_AUTH_E2E_RUNS=N runs the first N runs, PLATFORM_AUTH_E2E_ONLY=N the Nth alone.
    const only = Number(process.env.PLATFORM_AUTH_E2E_ONLY ?? 0);
    const runs = only > 0 ? RUNS.slice(only - 1, only) : RUNS.slice(0, Number(process.env.PLATFORM_AUTH_E2E_RUNS ?? RUNS.length));
    for (const [index, run] of runs.entries()) {
        console.log(`\n== ${run.title}`);
        const runDir = mkdtempSync(join(tmpdir(), `platform-auth-e2e-${run.stack}-`));
        const scoped = report.scoped(`[${run.stack}${run.talosVersion ? ` ${run.talosVersion}` : ""}] `);
        try {
            await runOnEngine(run, index === 0, tools, tls, runDir, scoped);
        } catch (error) {
            await scoped.check("the run went to the end", () => {
                throw error;
            });
        } finally {
            await stopAll();
        }
        // Keep the logs of a failed run for inspection; otherwise leave nothing behind.
        if (scoped.failed === 0) rmSync(runDir, { recursive: true, force: true });
        else console.log(`  logs, configs and Pulumi state of this run: ${runDir}`);
    }
    console.log(`\ne2e: the runs took ${Math.round((Date.now() - started) / 1000)}s (tools already built); by step (the time up to each check counts for its step):\n${report.stepTimes()}`);
    console.log(`e2e: screenshots of every page a person saw in Chromium: ${ARTIFACTS}`);
    console.log(`e2e: ${report.passed} passed, ${report.failed} failed`);
    // A suite that checked nothing proves nothing.
    process.exitCode = report.failed === 0 && report.passed > 0 ? 0 : 1;
}

async function runOnEngine(run: Run, withViolatingProgram: boolean, tools: Tools, tls: IssuerTls, runDir: string, report: Report): Promise<void> {
    const home = mkdirP(join(runDir, "home"));
    const privateCa = stackFileConfig(run.stack)["platform-auth:issuerCaRequired"] === "true";
    // A publicly trusted issuer: the test CA stands in for the system roots of the apiserver and kubelogin.
    const trust: Record<string, string> = privateCa ? {} : { SSL_CERT_FILE: tls.ca.certFile };
    const env = { ...process.env, ...trust, PATH: [...tools.path, process.env.PATH].join(":"), HOME: home };
    const kubectl = kubectlIn(tools.kubectl, env);
    const userKeys: Record<string, string> = { ...USER_KEYS, ...(privateCa ? { issuerCaPem: tls.ca.certPem } : {}) };
    const overrides = { ...(run.talosVersion ? { "platform-auth:talosVersion": run.talosVersion } : {}), ...(run.deviceFlow ? { "platform-auth:deviceFlow": "true" } : {}) };

    // 2. The control plane, configured from the stack's patch (step 3 checks the real engine renders the same).
    const expected = await runStack(run.stack, userKeys, overrides);
    const { cluster, pki, minor } = await startControlPlane(tools, expected.outputs, runDir, trust);
    await report.check(`2. kube-apiserver runs with the authentication settings of the Talos ${minor} machine config the patch merges into`, () => {
        const flags = cluster.apiServer.process.spawnargs.filter((a) => /^--(oidc-|authentication-config)/.test(a));
        const issuer = readApiServerOidc(expected.outputs.talosPatch)[0].issuerUrl;
        const configured = minor === "1.14" ? flags.some((f) => f.startsWith("--authentication-config=")) : flags.includes(`--oidc-issuer-url=${issuer}`);
        expectThat(configured, `the apiserver runs without the patch's ${minor === "1.14" ? "authentication config" : `issuer ${issuer}`}: ${flags.join(" ")}`);
        return flags.join(" ");
    });
    await anonymousAccessStep(cluster, minor, report);
    await startWorkloadRuntime(tools, cluster, kubectl, runDir);
    // The local runs also roll the settings out to Talos nodes that hold what others configured.
    const issuerUrl = expected.outputs.issuerUrl;
    const nodes: TalosNodes | undefined = privateCa ? startTalosNodes(tools, pki, cluster, minor, generatedConfig(tools, minor, operatorPatches(minor, issuerUrl), runDir), runDir) : undefined;

    // 3. The real engine deploys the stack. GitHub: the local runs' is an Enterprise Server with a
    // private CA (which the operator's machine trusts, and Dex through githubCaPem); prod's is
    // github.com, trusted like the prod issuer.
    const enterprise = privateCa;
    const githubCa = enterprise ? makeCa("GitHub Enterprise Server CA (e2e)") : tls.ca;
    const github = await startGitHub(stackFileConfig(run.stack)["platform-auth:githubOrg"], githubCa, expected.outputs.githubOAuthApp.callbackUrl, enterprise ? { address: GITHUB_ADDRESS, port: GHES_PORT, hosts: [GHES_HOST] } : undefined);
    try {
        const engine = makeEngine(mkdirP(join(runDir, "engine")), [...tools.path, ...(nodes ? [nodes.bin] : [])], {
            KUBECONFIG: cluster.contextKubeconfig(`admin@${run.stack}`),
            GITHUB_TOKEN: "e2e-token",
            SSL_CERT_FILE: githubCa.certFile,
            PLATFORM_AUTH_TALOS_GATE_SECONDS: "60",
        });
        const projectDir = copyProgram(REPO_ROOT, join(runDir, "program"), { [run.stack]: readFileSync(join(REPO_ROOT, `Pulumi.${run.stack}.yaml`), "utf8") });
        const ctx: EngineContext = { engine, projectDir, stack: run.stack, cluster, kubectl, kubectlBinary: tools.kubectl, github, report, runDir };
        await configureStack(ctx, {
            ...userKeys,
            ...operatorKeys(cluster, pki, enterprise ? { baseUrl: `https://${GHES_HOST}:${GHES_PORT}/api/v3/`, caPem: githubCa.certPem } : undefined),
            githubTeams: JSON.stringify(withPeople(run.stack)),
            // Short lifetimes, so that refreshes, their failures and a removal's end of access come within a run.
            ...E2E_TOKEN_LIFETIMES,
            ...(run.talosVersion ? { talosVersion: run.talosVersion } : {}),
            ...(run.deviceFlow ? { deviceFlow: "true" } : {}),
        });
        // Without the Gateway API the preview stops before anything exists; then install it.
        if (withViolatingProgram) {
            await preflightRefusalStep(ctx);
            await plainSecretRefusalStep(ctx, userKeys.githubClientSecret);
        }
        const exposure = JSON.parse(stackFileConfig(run.stack)["platform-auth:exposure"]);
        await installGatewayApi(tools, cluster, kubectl, { name: exposure.gatewayName, namespace: exposure.gatewayNamespace }, runDir);
        // The first run starts from the manual setup's objects and takes them over first.
        if (run === RUNS[0]) await adoptionSteps(ctx);
        await deploySteps(ctx, expected);

        // 8. Living with it: a no-op preview, rotations that roll Dex, the policy pack.
        await noOpPreviewStep(ctx);
        // The prod run proves what public trust changes (logins without a CA in the kubeconfig); what
        // does not depend on trust (rotations, the policy pack, refresh, faults, Talos nodes) a local
        // run proves once, and the prod run proves the GitHub teams instead.
        if (privateCa) {
            await rotationSteps(ctx, "rotated-github-client-secret-0123456789");
            await policySteps(ctx, withViolatingProgram);
        }

        // 1. What users copy from the outputs, then 4.–7. logging in through what Pulumi created.
        const outputs = await stackOutputs(ctx);
        await artifactSteps(outputs, expected.outputs, env, kubectl, runDir, report);
        await admissionSteps(cluster, kubectl, runDir, report);
        const dex = await startDeployedDex(ctx, kubectl, tools.dex, { leaf: tls.leaf, caPem: tls.ca.certPem }, trust);
        // People's browsers trust the issuer (mkcert installs its CA there) and their GitHub.
        const browser = installBrowser(join(runDir, "browser"), [tls.ca.certPem, githubCa.certPem]);
        const context: ModeContext = {
            outputs, cluster, pki, dex, kubectl, issuerCaPem: tls.ca.certPem, report, browser, github,
            githubForm: enterprise ? "GitHub Enterprise Server" : "github.com",
            session: (who, label) => openSession(cluster, outputs.kubeconfigUser, browser, join(runDir, "token-caches"), who, label),
        };
        // Ready when the apiserver has Dex's keys: the first login is a person's, in Chromium.
        await issuerLoaded(cluster, kubectl, outputs.issuerUrl, outputs.apiServerAudience, runDir);
        // The person's own browser: Chromium, with the issuer's and GitHub's CAs imported (mkcert's, on local); on prod the
        // test CA stands in for the public roots. Another Chromium, told to trust nothing, shows the certificate warning.
        const shots = join(ARTIFACTS, `${run.stack}${run.talosVersion ? `-${run.talosVersion}` : ""}`);
        const chromium = await startChromium(join(runDir, "chromium"), [tls.ca.certPem, githubCa.certPem], shots);
        await browserSteps(context, { kubectl: tools.kubectl, env, runDir, browser: chromium });
        if (run === RUNS[0]) await certificateWarningStep(report, await startChromium(join(runDir, "chromium-untrusting"), [], shots, "chromium-untrusting"), outputs.issuerUrl);
        await chromium.close();
        report.note("from here on the HTTP stand-in signs people in (the login matrix, refusals, refresh, faults, day two, who gets in through GitHub, revoke): Chromium showed each of those pages above");
        await loginSteps(context);
        await negativeSteps(context, runDir);
        if (run.deviceFlow) await deviceCodeFromAnotherStep(context);
        // 14. Who gets in, as Dex's GitHub connector decides: on an Enterprise Server (the second run) and on github.com (prod).
        const githubCases = run === RUNS[1] || !privateCa;
        if (githubCases) {
            await gitHubLoginSteps(context);
            await gitHubOutageSteps(context);
            if (enterprise) await yamlNamesStep(ctx, context, { dexBinary: tools.dex, tls: { leaf: tls.leaf, caPem: tls.ca.certPem }, githubCa, env, runDir });
        }
        if (run === RUNS[0]) await dayTwoSteps(ctx, context);
        // 12. With Dex serving, the Talos nodes: each local run proves its share of the cases once.
        if (nodes) {
            await talosFirstApplySteps(ctx, nodes, minor, issuerUrl);
            await talosLoginStep(ctx, context, nodes, ned);
            const rotatedCa = makeCa("rotated issuer CA (e2e)").certPem;
            if (minor === "1.13") {
                await noOpPreviewStep(ctx);
                await talosUpdateSteps(ctx, nodes, tls.ca.certPem, rotatedCa, false);
                await talosMigrationSteps(ctx, nodes, issuerUrl);
            } else {
                await talosDriftSteps(ctx, nodes);
                await talosUpdateSteps(ctx, nodes, tls.ca.certPem, rotatedCa, true);
            }
        }
        // Refresh and faults depend on neither the Talos form nor the trust: the first run proves them.
        if (run === RUNS[0]) {
            await refreshSteps(context);
            await faultSteps(context);
        } else if (!privateCa) {
            // 13. Who may read, decided in code review; Dex's own rights.
            await dexRightsStep(ctx);
            await orgCapitalsStep(ctx);
            await handAddedMemberSteps(ctx);
            await preExistingTeamStep(ctx);
            await killedUpSteps(ctx);
        }
        if (githubCases) await teamRemovalStep(ctx, context);

        // 10. And gone again.
        await destroySteps(ctx);
        if (nodes) await talosDestroyedStep(ctx, nodes, issuerUrl, minor);
    } finally {
        await github.close();
        await nodes?.close();
    }
}

function mkdirP(path: string): string {
    mkdirSync(path, { recursive: true });
    return path;
}

process.on("exit", killAllNow);
// Outside, a signal goes on to the suite inside the namespaces (reexecInNamespace), which stops what it started.
for (const signal of insideNamespace() ? (["SIGINT", "SIGTERM"] as const) : []) {
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
