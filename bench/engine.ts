// The real engine's `pulumi preview` of an unchanged stack against the same
// engine previewing a program with only the same providers (the baseline), on
// a loopback cluster with a GitHub stand-in. The two previews alternate, so
// both see the same machine state; the median ratio and both medians print.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { kubectlIn } from "../lab/control-plane";
import { copyFixture, copyProgram, makeEngine } from "../lab/engine";
import { insideNamespace, reexecInNamespace } from "../lab/namespace";
import { killAllNow, stopAll } from "../lab/processes";
import { median, Report } from "../lab/report";
import { configureStack, type EngineContext } from "../lab/deployment";
import { buildTools } from "../lab/tools";
import { installGatewayApi, startWorkloadRuntime } from "../lab/workloads";
import { startControlPlane, startGitHub } from "../lab/world";
import { makeCa } from "../lab/pki";
import { parsedStackConfig, renderedStack, REPO_ROOT, stackFileConfig, USER_KEYS } from "../lab/stack-file";

const SAMPLES = 7;
/** The prod stack, whose stack file pins Talos v1.13. */
const STACK = "prod";


async function main(): Promise<void> {
    // The apiserver here trusts the prod issuer by name: keep it, and everything else, on loopback.
    if (!insideNamespace()) {
        buildTools(REPO_ROOT);
        return reexecInNamespace(__filename);
    }
    const tools = buildTools(REPO_ROOT);
    const runDir = mkdtempSync(join(tmpdir(), "platform-auth-bench-"));
    const expected = renderedStack(parsedStackConfig(STACK, USER_KEYS));
    // GitHub as github.com, its CA standing in for the public roots the provider trusts.
    const githubCa = makeCa("bench GitHub CA");
    const github = await startGitHub(stackFileConfig(STACK)["platform-auth:githubOrg"], githubCa, expected.callbackUrl);
    try {
        const kubectl = kubectlIn(tools.kubectl);
        const { cluster } = await startControlPlane(tools, expected, runDir, {});
        await startWorkloadRuntime(tools, cluster, kubectl, runDir);
        await installGatewayApi(tools, cluster, kubectl, { name: "platform", namespace: "kube-system" }, runDir);
        const engine = makeEngine(join(runDir, "engine"), tools.path, { KUBECONFIG: cluster.contextKubeconfig(`admin@${STACK}`), GITHUB_TOKEN: "bench-token", SSL_CERT_FILE: githubCa.certFile });
        const ctx: EngineContext = {
            engine, stack: STACK, cluster, kubectl, kubectlBinary: tools.kubectl, github, runDir, report: new Report(),
            projectDir: copyProgram(REPO_ROOT, join(runDir, "program"), { [STACK]: readFileSync(join(REPO_ROOT, `Pulumi.${STACK}.yaml`), "utf8") }),
        };
        await configureStack(ctx, USER_KEYS);
        const must = async (dir: string, args: string[]) => {
            const result = await engine.pulumi(dir, [...args, "--non-interactive"]);
            if (result.status !== 0) throw new Error(`pulumi ${args.join(" ")} failed: ${result.stdout}${result.stderr}`);
        };
        await must(ctx.projectDir, ["up", "--yes", "--skip-preview", "--stack", STACK]);
        const baseline = copyFixture(REPO_ROOT, "providers-only", join(runDir, "baseline"));
        await must(baseline, ["stack", "init", "baseline"]);
        for (const [key, value] of [["kubernetes:context", `admin@${STACK}`], ["github:owner", stackFileConfig(STACK)["github:owner"]]]) {
            await must(baseline, ["config", "set", "--stack", "baseline", key, value]);
        }
        await must(baseline, ["up", "--yes", "--skip-preview", "--stack", "baseline"]);

        const timed = async (dir: string, stack: string) => {
            const started = process.hrtime.bigint();
            await must(dir, ["preview", "--expect-no-changes", "--stack", stack]);
            return Number(process.hrtime.bigint() - started) / 1e6;
        };
        const program: number[] = [];
        const empty: number[] = [];
        // One untimed round warms the plugin and module caches of both.
        await timed(ctx.projectDir, STACK);
        await timed(baseline, "baseline");
        for (let i = 0; i < SAMPLES; i++) {
            program.push(await timed(ctx.projectDir, STACK));
            empty.push(await timed(baseline, "baseline"));
        }
        console.log(`real engine: pulumi preview of an unchanged ${STACK} stack vs the same providers alone (median of ${SAMPLES} interleaved runs)`);
        console.log(`${STACK}: ${(median(program) / median(empty)).toFixed(2)}x  (program ${median(program).toFixed(0)} ms, providers only ${median(empty).toFixed(0)} ms)`);
    } finally {
        await github.close();
        await stopAll();
        rmSync(runDir, { recursive: true, force: true });
    }
}

process.on("exit", killAllNow);
main().catch((error) => {
    console.error(error);
    killAllNow();
    process.exitCode = 1;
});
