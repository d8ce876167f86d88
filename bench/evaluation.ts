// How long the program takes to evaluate under the mock engine, relative to
// merely importing the SDKs it uses. Each sample is a fresh Node process, and
// the two kinds of sample alternate, so both see the same machine state.
import { spawnSync } from "node:child_process";
import { median } from "../lab/report";
import { makeCa } from "../lab/pki";

const SAMPLES = 7;
const SDKS = ["@pulumi/pulumi", "@pulumi/kubernetes", "@pulumi/github", "@pulumi/command"];

/** One timed sample; modules load inside the timer, so nothing is warm before it starts. */
async function child(kind: string, stack?: string): Promise<void> {
    const started = process.hrtime.bigint();
    for (const sdk of SDKS) require(sdk);
    if (kind === "stack") {
        const { runStack } = require("../lab/stack") as typeof import("../lab/stack");
        const { USER_KEYS } = require("../lab/stack-file") as typeof import("../lab/stack-file");
        await runStack(stack!, { ...USER_KEYS, issuerCaPem: process.env.BENCH_CA_PEM! });
    }
    process.stdout.write(String(Number(process.hrtime.bigint() - started) / 1e6));
}

function sample(caPem: string, ...args: string[]): number {
    const result = spawnSync(process.execPath, [__filename, "--child", ...args], { encoding: "utf8", env: { ...process.env, BENCH_CA_PEM: caPem } });
    if (result.status !== 0) throw new Error(`benchmark child failed: ${result.stderr}`);
    return Number(result.stdout);
}


function main(): void {
    console.log(`evaluation time under the mock engine vs a bare import of ${SDKS.join(", ")} (median of ${SAMPLES} interleaved runs)`);
    const caPem = makeCa("bench CA").certPem;
    for (const stack of ["local", "prod"]) {
        const bare: number[] = [];
        const program: number[] = [];
        for (let i = 0; i < SAMPLES; i++) {
            bare.push(sample(caPem, "bare"));
            program.push(sample(caPem, "stack", stack));
        }
        const ratio = median(program) / median(bare);
        console.log(`${stack}: ${ratio.toFixed(2)}x  (program ${median(program).toFixed(0)} ms, bare import ${median(bare).toFixed(0)} ms)`);
    }
}

const childIndex = process.argv.indexOf("--child");
if (childIndex >= 0) void child(process.argv[childIndex + 1], process.argv[childIndex + 2]);
else main();
