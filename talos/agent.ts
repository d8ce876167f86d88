// What `pulumi up` runs on the operator's machine, through the command
// provider, to bring the control-plane nodes to the program's settings with
// talosctl: `node talos/agent.ts <inspect|apply|revert|repair>`. One node at a
// time, and a node is done only when its own apiserver has restarted with the
// settings and has loaded our issuer's keys: cluster health says nothing of
// either (the apiserver loads issuers in the background), and an unrelated
// NotReady node must not stall the rollout. A node that fails the gate gets
// back the config it had, and nothing after it is touched.
//
// Reads TALOS_NODES, TALOS_OWNED (compose.ts's OwnedSettings as JSON),
// TALOS_KUBE_CONTEXT (the stack's kubernetes:context, for the apiserver's
// metrics) and TALOS_DRY_RUN, and from the engine's environment
// PULUMI_COMMAND_STDOUT (the last apply's output) and
// PLATFORM_AUTH_TALOS_GATE_SECONDS.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { applyChange, DIFFERS, migrationRefusal, ownership, patchText, readLiveConfig, REFUSAL, revertChange, specOf, type NodeChange, type OwnedSettings, type Ownership } from "./compose.ts";
import { apiServerMetrics, apiServerPort, gate, gatePrerequisite, restarted, waitFor, type GateEnv } from "./gate.ts";

/** The lines an apply ends with; the next apply reads them back to revert nodes that left the list, and what it owned then. */
const APPLIED_LINE = "talos-nodes: ";
const OWNED_LINE = "talos-owned: ";

interface Env extends GateEnv {
    nodes: string[];
}

function environment(): Env {
    const gateSeconds = Number(process.env.PLATFORM_AUTH_TALOS_GATE_SECONDS || 300);
    if (!(gateSeconds > 0)) throw new Error(`PLATFORM_AUTH_TALOS_GATE_SECONDS is "${process.env.PLATFORM_AUTH_TALOS_GATE_SECONDS}"; give a number of seconds`);
    return {
        nodes: (process.env.TALOS_NODES ?? "").split(" ").filter(Boolean),
        owned: JSON.parse(process.env.TALOS_OWNED ?? "{}") as OwnedSettings,
        context: process.env.TALOS_KUBE_CONTEXT ?? "",
        gateSeconds,
    };
}

/** What the last apply said on its line `prefix`, from the output the provider hands the next run. */
function lastApplied(prefix: string): string | undefined {
    const line = (process.env.PULUMI_COMMAND_STDOUT ?? "").split("\n").filter((l) => l.startsWith(prefix)).pop();
    return line?.slice(prefix.length);
}

function run(command: string, args: string[]): string {
    // A machine config with inline manifests runs past spawnSync's 1 MiB default.
    const result = spawnSync(command, args, { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
    if (result.error) throw new Error(`${command}: ${result.error.message}`);
    if (result.status !== 0) throw new Error(`${command} ${args.slice(0, 4).join(" ")} failed: ${result.stderr.trim()}`);
    return result.stdout;
}

function readNode(node: string) {
    // The running config by its ID: `get machineconfig` also lists `persistent`, which any apply or
    // patch writes, a staged one too, and which sorts first.
    const text = run("talosctl", ["--nodes", node, "get", "machineconfig", "v1alpha1", "-o", "yaml"]);
    return { text, live: readLiveConfig(text) };
}

/** A refusal that names the config key to change (talosMigration); any other failure names talosNodes. */
class Refusal extends Error {
    // No parameter property: Node strips types, it does not compile them.
    readonly key: string;
    constructor(key: string, message: string) {
        super(message);
        this.key = key;
    }
}

function say(line: string): void {
    process.stdout.write(`talos: ${line}\n`);
}

/** Before the Command (and in every preview): refuse an unconfirmed migration or a gate that could never pass, and say what else each node holds. */
async function inspect(env: Env): Promise<void> {
    for (const node of env.nodes) {
        const { live } = readNode(node);
        const refusal = migrationRefusal(node, live, env.owned);
        if (refusal) throw new Refusal("talosMigration", refusal);
        const unreachable = await gatePrerequisite(env, node, apiServerPort(live));
        if (unreachable) throw new Refusal("talosNodes", unreachable);
        const change = applyChange(live, env.owned);
        if (change.kept.length > 0) say(`node ${node}: keeps ${change.kept.join("; ")}`);
        if (change.removed.length > 0) say(`node ${node}: removes what the stack does not set: ${change.removed.join("; ")}`);
        // The program decides whether this is drift (its settings unchanged since the last apply) or an update to come.
        if (change.patches.length > 0) process.stdout.write(`${DIFFERS}${node} (${change.changes.join("; ")})\n`);
    }
}

async function apply(env: Env): Promise<void> {
    // A changed domain or issuerAddress: the entries the last apply made are ours to take off.
    const former = lastApplied(OWNED_LINE);
    if (former) env = { ...env, owned: { ...env.owned, former: JSON.parse(former) as Ownership } };
    for (const [index, node] of env.nodes.entries()) {
        try {
            await applyNode(env, node);
        } catch (error) {
            const untouched = env.nodes.slice(index + 1);
            throw new Error(`${(error as Error).message}. Stopped there: ${index > 0 ? `updated ${env.nodes.slice(0, index).join(", ")}; ` : ""}${untouched.length > 0 ? `did not touch ${untouched.join(", ")}` : "no node after it"}.`);
        }
    }
    for (const node of (lastApplied(APPLIED_LINE) ?? "").split(" ").filter(Boolean)) {
        if (!env.nodes.includes(node)) await revertNode(env, node);
    }
    process.stdout.write(`${APPLIED_LINE}${env.nodes.join(" ")}\n${OWNED_LINE}${JSON.stringify(ownership(env.owned))}\n`);
}

async function applyNode(env: Env, node: string): Promise<void> {
    const { text, live } = readNode(node);
    const refusal = migrationRefusal(node, live, env.owned);
    if (refusal) throw new Refusal("talosMigration", refusal);
    const change = applyChange(live, env.owned);
    if (change.patches.length === 0) return say(`node ${node}: has the settings, unchanged`);
    const port = apiServerPort(live);
    const before = await apiServerMetrics(env, node, port);
    say(`node ${node}: ${change.changes.join("; ")}`);
    try {
        patchNode(node, change);
        const seconds = await gate(env, node, port, clusterCa(env), before, change.restartsApiServer);
        say(`node ${node}: its apiserver accepts ${env.owned.issuerUrl} (keys loaded after ${seconds}s)`);
    } catch (error) {
        // The whole config it had: also undoes a staged file entry, and touches no other node.
        try {
            restoreConfig(node, text);
        } catch (restoreError) {
            throw new Error(`node ${node}: ${(error as Error).message}; restoring its previous config failed too: ${(restoreError as Error).message}`);
        }
        throw new Error(`node ${node}: ${(error as Error).message}; it has its previous config back`);
    }
}

/** `talosctl apply-config` with the config `get machineconfig` showed, kept only as long as the call takes: it holds the node's secrets. */
function restoreConfig(node: string, shown: string): void {
    const dir = mkdtempSync(join(tmpdir(), "talos-agent-"));
    try {
        const file = join(dir, "previous.yaml");
        writeFileSync(file, liveSpec(shown), { mode: 0o600 });
        run("talosctl", ["apply-config", "--nodes", node, "--mode", "auto", "--file", file]);
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
}

async function revertNode(env: Env, node: string): Promise<void> {
    const { live } = readNode(node);
    const change = revertChange(live, env.owned);
    if (change.patches.length === 0) return;
    const port = apiServerPort(live);
    const before = await apiServerMetrics(env, node, port);
    patchNode(node, change);
    say(`node ${node}: ${change.changes.join("; ")}`);
    if (change.restartsApiServer) {
        await waitFor(env, Date.now() + env.gateSeconds * 1000, `node ${node}'s apiserver to restart`, async () => restarted(before, await apiServerMetrics(env, node, port)) || "not restarted yet");
    }
}

/** PLATFORM_AUTH_TALOS_REPAIR=1: after the apply, re-applies the settings to each node that lacks any (a preview only says which). */
async function repair(env: Env, dryRun: boolean): Promise<void> {
    const lost = env.nodes.map((node) => ({ node, change: applyChange(readNode(node).live, env.owned) })).filter((n) => n.change.patches.length > 0);
    if (lost.length === 0) return;
    const what = lost.map((n) => `${n.node} (${n.change.changes.join("; ")})`).join(", ");
    if (dryRun) return say(`pulumi up re-applies the OIDC settings to ${what}`);
    for (const { node } of lost) await applyNode(env, node);
    say(`re-applied the OIDC settings to ${lost.map((n) => n.node).join(", ")}`);
}

function patchNode(node: string, change: NodeChange): void {
    const dir = mkdtempSync(join(tmpdir(), "talos-agent-"));
    try {
        const files = change.patches.map((documents, i) => {
            const file = join(dir, `patch-${i}.yaml`);
            writeFileSync(file, patchText(documents));
            return ["--patch", `@${file}`];
        });
        // A `.machine.files` entry takes effect only on reboot: stage, then reboot (talosctl waits until it is back).
        run("talosctl", ["patch", "machineconfig", "--nodes", node, "--mode", change.needsReboot ? "staged" : "auto", ...files.flat()]);
        if (change.needsReboot) run("talosctl", ["--nodes", node, "reboot"]);
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
}

/** The CA the stack's context trusts for the apiserver, which each node's own apiserver serves too. */
function clusterCa(env: Env): string | undefined {
    const view = JSON.parse(run("kubectl", ["config", "view", "--raw", "--minify", "--flatten", "--context", env.context, "-o", "json"]));
    const data = view.clusters?.[0]?.cluster?.["certificate-authority-data"];
    return data ? Buffer.from(data, "base64").toString() : undefined;
}

/** The machine config exactly as `talosctl get machineconfig -o yaml` shows it in `spec`. */
function liveSpec(shown: string): string {
    const spec = specOf(shown);
    if (spec === undefined) throw new Error("talosctl showed no machine config to restore");
    return spec;
}

async function main(verb: string | undefined): Promise<void> {
    const env = environment();
    if (verb === "inspect") return inspect(env);
    if (verb === "apply") return apply(env);
    if (verb === "revert") {
        for (const node of env.nodes) await revertNode(env, node);
        return;
    }
    if (verb === "repair") return repair(env, process.env.TALOS_DRY_RUN === "true");
    throw new Error(`usage: node talos/agent.ts inspect|apply|revert|repair (got ${verb})`);
}

if (process.argv[1]?.endsWith(join("talos", "agent.ts"))) {
    const verb = process.argv[2];
    main(verb).catch((error: Error) => {
        // Inspect runs as an invoke before any resource: its refusal is the program's to report (compose.ts, REFUSAL).
        if (verb === "inspect") return void process.stdout.write(`${REFUSAL}${error instanceof Refusal ? error.key : "talosNodes"}: ${error.message}\n`);
        process.stderr.write(`talos: ${error.message}\n`);
        process.exit(1);
    });
}
