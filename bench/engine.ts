// The real engine's `pulumi preview` of an unchanged stack against the same
// engine previewing a program with only the same providers (the baseline), on
// a loopback cluster with a GitHub stand-in. The two previews alternate, so
// both see the same machine state; the median ratio and both medians print,
// then where the program's extra time goes: each run writes how long its
// phases took (program.ts, PLATFORM_AUTH_PHASES), the baseline its load.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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

/** PLATFORM_AUTH_BENCH_SAMPLES: fewer, for a quick look while changing the program. */
const SAMPLES = Number(process.env.PLATFORM_AUTH_BENCH_SAMPLES ?? 7);
if (!Number.isInteger(SAMPLES) || SAMPLES < 1) throw new Error(`PLATFORM_AUTH_BENCH_SAMPLES is "${process.env.PLATFORM_AUTH_BENCH_SAMPLES}"; give a whole number of at least 1`);
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

        const phasesFile = join(runDir, "phases.jsonl");
        const timed = async (dir: string, stack: string) => {
            writeFileSync(phasesFile, "");
            const started = process.hrtime.bigint();
            const result = await engine.pulumi(dir, ["preview", "--expect-no-changes", "--stack", stack, "--non-interactive"], undefined, { PLATFORM_AUTH_PHASES: phasesFile });
            if (result.status !== 0) throw new Error(`pulumi preview of ${stack} failed: ${result.stdout}${result.stderr}`);
            const ms = Number(process.hrtime.bigint() - started) / 1e6;
            return { ms, phases: JSON.parse(readFileSync(phasesFile, "utf8").trim().split("\n").pop() ?? "{}") as Record<string, number> };
        };
        const program: Awaited<ReturnType<typeof timed>>[] = [];
        const empty: Awaited<ReturnType<typeof timed>>[] = [];
        // One untimed round warms the plugin and module caches of both.
        await timed(ctx.projectDir, STACK);
        await timed(baseline, "baseline");
        for (let i = 0; i < SAMPLES; i++) {
            program.push(await timed(ctx.projectDir, STACK));
            empty.push(await timed(baseline, "baseline"));
        }
        const [programMs, emptyMs] = [median(program.map((s) => s.ms)), median(empty.map((s) => s.ms))];
        console.log(`real engine: pulumi preview of an unchanged ${STACK} stack vs the same providers alone (median of ${SAMPLES} interleaved runs)`);
        console.log(`${STACK}: ${(programMs / emptyMs).toFixed(2)}x  (program ${programMs.toFixed(0)} ms, providers only ${emptyMs.toFixed(0)} ms)`);
        console.log(phaseTable(program.map((s) => s.phases), median(empty.map((s) => s.phases.load ?? 0)), programMs - emptyMs));
    } finally {
        await github.close();
        await stopAll();
        rmSync(runDir, { recursive: true, force: true });
    }
}

/**
 * The program's phases (medians): its own time line, "load" against the
 * baseline's, then each wait of the questions asked at once (they overlap, so
 * they do not add up), and what is left of the extra time: the engine's part.
 */
function phaseTable(samples: Record<string, number>[], baselineLoad: number, extra: number): string {
    const names = [...new Set(samples.flatMap((sample) => Object.keys(sample)))];
    const of = (name: string) => median(samples.map((sample) => sample[name] ?? 0));
    const line = (name: string, ms: number) => `  ${name.padEnd(56)}${ms.toFixed(0).padStart(7)}`;
    const timeline = names.filter((name) => !name.endsWith("(wait)"));
    const own = timeline.reduce((sum, name) => sum + (name === "load" ? of(name) - baselineLoad : of(name)), 0);
    return [
        `where the ${extra.toFixed(0)} ms of extra time go (median ms per phase):`,
        ...timeline.map((name) => line(name === "load" ? `load (beyond the baseline's ${baselineLoad.toFixed(0)} ms)` : name, name === "load" ? of(name) - baselineLoad : of(name))),
        ...names.filter((name) => name.endsWith("(wait)")).map((name) => line(`  of the questions: ${name}`, of(name))),
        line("the engine's part (registration, diffs: the rest)", extra - own),
    ].join("\n");
}

process.on("exit", killAllNow);
main().catch((error) => {
    console.error(error);
    killAllNow();
    process.exitCode = 1;
});
