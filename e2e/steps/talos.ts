// Step 12: the Talos patch as it meets real nodes, on the real engine. The
// stack gets `talosNodes`, and `pulumi up` drives the node agent through the
// command provider against the talosctl stand-in (talos-nodes.ts), whose
// nodes already hold what others put there: another issuer (1.14), flags
// from the manual setup (1.13), an operator's host names. The two local runs
// share the cases out: each is proven once.
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { readApiServerOidc } from "../../talos/read";
import type { GitHubPerson } from "../../lab/github-people";
import { expectThat } from "../../lab/report";
import type { TalosNodes } from "../../lab/talos-nodes";
import { type ModeContext } from "./context";
import { onStack, setConfig, type EngineContext } from "../../lab/deployment";
import { expectCleanRefusal } from "./deploy";

/** What others configured on the nodes before the program came: a CI issuer (1.14) or the manual setup's flags (1.13), and host names. */
export function operatorPatches(minor: "1.13" | "1.14", issuerUrl: string): string[] {
    const hosts = { apiVersion: "v1alpha1", kind: "StaticHostConfig", name: ISSUER_ADDRESS, hostnames: [OPERATOR_HOST] };
    const ci = { issuer: { url: CI_ISSUER, audiences: ["ci"] }, claimMappings: { username: { claim: "sub", prefix: "ci:" } } };
    const other = minor === "1.14"
        ? { apiVersion: "v1alpha1", kind: "KubeAuthenticationConfig", configuration: { anonymous: { enabled: true, conditions: [{ path: "/livez" }, { path: "/readyz" }, { path: "/healthz" }] }, jwt: [ci] } }
        : { cluster: { apiServer: { extraArgs: { "oidc-issuer-url": issuerUrl, "oidc-client-id": "kubectl", "oidc-username-claim": "email", [LEFTOVER_FLAG]: "hd=devantler.tech" } } } };
    return [JSON.stringify(other), JSON.stringify(hosts)];
}

const CI_ISSUER = "https://ci.platform.lan";
const LEFTOVER_FLAG = "oidc-required-claim";
const OPERATOR_HOST = "gateway.platform.lan";
/** Where dex.<domain> resolves on the nodes (the namespace's /etc/hosts maps it to loopback). */
const ISSUER_ADDRESS = "127.0.0.1";
/** A Node object no kubelet reports for: NotReady for good, and nothing to do with the rollout. */
const NOT_READY_NODE = { apiVersion: "v1", kind: "Node", metadata: { name: "worker-not-ready" } };

const docs = (config: string) => parseAllDocuments(config).map((d) => d.toJS() as Record<string, any>);
const hostNames = (config: string) => docs(config).find((d) => d.kind === "StaticHostConfig" && d.name === ISSUER_ADDRESS)?.hostnames ?? [];
const issuers = (config: string) => readApiServerOidc(config).map((s) => s.issuerUrl);
const agentLines = (output: string) => output.split("\n").map((l) => l.trim()).filter((l) => l.startsWith("talos: "));

/** What the agent said in the last apply: the talosctl Command's stdout, as the stack's state keeps it. */
async function applyOutput(ctx: EngineContext): Promise<string[]> {
    const exported = await ctx.engine.pulumi(ctx.projectDir, ["stack", "export", "--stack", ctx.stack]);
    if (exported.status !== 0) throw new Error(`pulumi stack export failed: ${exported.stderr}`);
    const command = JSON.parse(exported.stdout).deployment.resources.find((r: { type: string }) => r.type === "command:local:Command");
    return agentLines(String(command?.outputs?.stdout ?? ""));
}

/** `pulumi up` with the nodes set: preview names what they keep; ours is added beside theirs, node by node, gated on a login path. */
export async function talosFirstApplySteps(ctx: EngineContext, nodes: TalosNodes, minor: "1.13" | "1.14", issuerUrl: string): Promise<void> {
    const { report, kubectl, cluster } = ctx;
    await report.check("12. an unrelated Node is NotReady before the rollout", () => {
        const created = kubectl(cluster.adminKubeconfig, "apply", "-f", writeJson(ctx, "not-ready-node", NOT_READY_NODE));
        expectThat(created.status === 0, created.stderr);
        const ready = kubectl(cluster.adminKubeconfig, "get", "node", NOT_READY_NODE.metadata.name, "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}");
        expectThat(ready.stdout !== "True", `${NOT_READY_NODE.metadata.name} is Ready`);
        return `${NOT_READY_NODE.metadata.name}: Ready=${ready.stdout || "unknown"}`;
    });
    for (const [i, node] of nodes.nodes.entries()) await setConfig(ctx, "--path", `talosNodes[${i}]`, node.address);
    await setConfig(ctx, "issuerAddress", ISSUER_ADDRESS);
    const before = nodes.nodes.map((n) => n.config());

    await report.check(`12. pulumi preview names what the nodes keep${minor === "1.13" ? ` and the ${LEFTOVER_FLAG} flag it removes` : ""}, and changes nothing`, async () => {
        const preview = await onStack(ctx, "preview");
        expectThat(preview.status === 0, preview.stdout + preview.stderr);
        const lines = agentLines(preview.stdout + preview.stderr);
        const wanted = [minor === "1.14" ? `keeps issuer ${CI_ISSUER}` : `removes what the stack does not set: flag ${LEFTOVER_FLAG}`, `host names ${OPERATOR_HOST} at ${ISSUER_ADDRESS}`];
        for (const node of nodes.nodes) for (const w of wanted) expectThat(lines.some((l) => l.includes(`node ${node.address}:`) && l.includes(w)), `no "${w}" for ${node.address} in: ${lines.join(" | ")}`);
        expectThat(nodes.nodes.every((n, i) => n.config() === before[i]), "a preview changed a node");
        return lines.join(" | ");
    });

    const up = await onStack(ctx, "up", "--yes", "--skip-preview");
    await report.check("12. pulumi up rolls the settings out node by node, each gated on its own apiserver loading our issuer, despite the NotReady Node", async () => {
        expectThat(up.status === 0, up.stdout + up.stderr);
        const lines = await applyOutput(ctx);
        const order = lines.flatMap((l) => (/accepts/.test(l) ? [`gate ${l.split(" ")[2]}`] : /: (add|set|update|remove)\b/.test(l) ? [`patch ${l.split(" ")[2]}`] : []));
        const expected = nodes.nodes.flatMap((n) => [`patch ${n.address}:`, `gate ${n.address}:`]);
        expectThat(JSON.stringify(order) === JSON.stringify(expected), `order ${order.join(", ")}; lines ${lines.join(" | ")}`);
        return lines.filter((l) => /accepts/.test(l)).join(" | ");
    });
    await report.check(`12. each node has our issuer beside what it had: ${minor === "1.14" ? "the CI issuer and the anonymous rule" : `no ${LEFTOVER_FLAG}`}, and the operator's host name`, () => {
        for (const node of nodes.nodes) {
            const config = node.config();
            expectThat(issuers(config).includes(issuerUrl), `${node.address} lacks ${issuerUrl}: ${issuers(config).join(", ")}`);
            if (minor === "1.14") {
                expectThat(issuers(config).includes(CI_ISSUER), `${node.address} lost ${CI_ISSUER}`);
                expectThat(docs(config).find((d) => d.kind === "KubeAuthenticationConfig")?.configuration?.anonymous?.enabled === true, `${node.address} lost the anonymous rule`);
            } else {
                expectThat(!config.includes(LEFTOVER_FLAG), `${node.address} still has ${LEFTOVER_FLAG}`);
            }
            const hosts = hostNames(config);
            expectThat(JSON.stringify(hosts) === JSON.stringify([OPERATOR_HOST, new URL(issuerUrl).hostname]), `${node.address}'s host names: ${hosts.join(", ")}`);
        }
        return nodes.nodes.map((n) => `${n.address}: ${issuers(n.config()).join(", ")}; hosts ${hostNames(n.config()).join(", ")}`).join(" | ");
    });
}

/** A person's token, from Dex through kubelogin, authenticates at each node's own apiserver: what the rollout put there works. */
export async function talosLoginStep(ctx: EngineContext, mode: ModeContext, nodes: TalosNodes, who: GitHubPerson): Promise<void> {
    await ctx.report.check(`12. ${who.login} logs in at each node's own apiserver, started from its merged machine config`, () => {
        const kubeconfig = mode.session(who).kubeconfig;
        const users = nodes.nodes.map((node) => {
            const whoami = mode.kubectl(kubeconfig, "--server", `https://${node.address}:6443`, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}");
            expectThat(whoami.status === 0, `${node.address}: ${whoami.stderr}`);
            return `${node.address}: ${whoami.stdout}`;
        });
        expectThat(users.every((u) => u.endsWith(`oidc:${who.tokenEmail.toLowerCase()}`)), users.join(", "));
        return users.join(", ");
    });
}

/** A hand edit on one node is drift: the preview names the node and the field; a repair run puts it back. */
export async function talosDriftSteps(ctx: EngineContext, nodes: TalosNodes): Promise<void> {
    const node = nodes.nodes[1];
    const edited = docs(node.config()).map((d) => (d.kind === "KubeAuthenticationConfig" ? { ...d, configuration: { ...d.configuration, jwt: d.configuration.jwt.map(editPrefix) } } : d));
    const file = writeJson(ctx, "hand-edit", edited.find((d) => d.kind === "KubeAuthenticationConfig"));
    const talosctl = spawnSync(join(nodes.bin, "talosctl"), ["patch", "machineconfig", "--nodes", node.address, "--mode", "auto", "--patch", `@${file}`], { encoding: "utf8" });
    await ctx.report.check(`12. a hand edit on ${node.address} fails the preview, naming the node and the field`, async () => {
        expectThat(talosctl.status === 0, talosctl.stderr);
        const preview = await onStack(ctx, "preview");
        const text = preview.stdout + preview.stderr;
        expectThat(preview.status !== 0, "the preview passed a node with a hand-edited entry");
        expectCleanRefusal(text);
        const line = text.split("\n").find((l) => l.includes(`node(s) ${node.address} (update issuer`) && l.includes("claimMappings.groups.prefix"));
        expectThat(line !== undefined, text);
        return line!.trim();
    });
    await ctx.report.check(`12. PLATFORM_AUTH_TALOS_REPAIR=1 pulumi up puts the entry back on ${node.address} alone, through the gate`, async () => {
        const up = await ctx.engine.pulumi(ctx.projectDir, ["up", "--yes", "--skip-preview", "--stack", ctx.stack, "--non-interactive"], undefined, { PLATFORM_AUTH_TALOS_REPAIR: "1" });
        expectThat(up.status === 0, up.stdout + up.stderr);
        const lines = agentLines(up.stdout);
        expectThat(lines.some((l) => l.includes(`re-applied the OIDC settings to ${node.address}`)), lines.join(" | "));
        const preview = await onStack(ctx, "preview", "--expect-no-changes");
        expectThat(preview.status === 0, preview.stdout + preview.stderr);
        return lines.join(" | ");
    });
}

function editPrefix(entry: Record<string, any>): Record<string, any> {
    return entry.claimMappings?.groups ? { ...entry, claimMappings: { ...entry.claimMappings, groups: { ...entry.claimMappings.groups, prefix: "github:" } } } : entry;
}

/** A CA change rolls node by node; a node that cannot reach the issuer stops it there and gets its config back; the next node is untouched. */
export async function talosUpdateSteps(ctx: EngineContext, nodes: TalosNodes, caPem: string, extraCaPem: string, failing: boolean): Promise<void> {
    const [first, second] = nodes.nodes;
    if (!failing) {
        await setConfig(ctx, "issuerCaPem", "--", `${caPem.trim()}\n${extraCaPem}`);
        const up = await onStack(ctx, "up", "--yes", "--skip-preview");
        await ctx.report.check("12. a CA change rolls out node by node, each node gated before the next is touched", async () => {
            expectThat(up.status === 0, up.stdout + up.stderr);
            const lines = await applyOutput(ctx);
            const at = (w: string, n: string) => lines.findIndex((l) => l.includes(`node ${n}:`) && l.includes(w));
            expectThat(at("accepts", first.address) >= 0 && at("accepts", first.address) < at("file", second.address), lines.join(" | "));
            for (const n of nodes.nodes) expectThat(readApiServerOidc(n.config()).some((s) => s.caPem?.includes(extraCaPem.trim())), `${n.address} lacks the new CA`);
            return lines.join(" | ");
        });
        return;
    }
    const before = nodes.nodes.map((n) => n.config());
    nodes.breakEgress(first.address, true);
    await setConfig(ctx, "issuerCaPem", "--", `${caPem.trim()}\n${extraCaPem}`);
    const up = await ctx.engine.pulumi(ctx.projectDir, ["up", "--yes", "--skip-preview", "--stack", ctx.stack, "--non-interactive"], undefined, { PLATFORM_AUTH_TALOS_GATE_SECONDS: "10" });
    await ctx.report.check(`12. ${first.address}'s apiserver cannot reach the issuer: up stops there, naming it, with its config back and ${second.address} untouched`, () => {
        expectThat(up.status !== 0, "up passed with a node that cannot reach the issuer");
        const text = up.stdout + up.stderr;
        const line = text.split("\n").find((l) => l.includes(`node ${first.address}: gave up after 10s`));
        expectThat(line !== undefined && line.includes(`did not touch ${second.address}`), text);
        expectThat(first.config() === before[0], `${first.address}'s config was not restored`);
        expectThat(second.config() === before[1], `${second.address} was touched`);
        return line!.trim().slice(0, 400);
    });
    nodes.breakEgress(first.address, false);
    const retried = await onStack(ctx, "up", "--yes", "--skip-preview");
    await ctx.report.check("12. once the node reaches the issuer again, the same up converges on both nodes", async () => {
        expectThat(retried.status === 0, retried.stdout + retried.stderr);
        for (const n of nodes.nodes) expectThat(readApiServerOidc(n.config()).some((s) => s.issuerUrl !== CI_ISSUER && s.caPem?.includes(extraCaPem.trim())), `${n.address} lacks the new CA`);
        return (await applyOutput(ctx)).join(" | ");
    });
}

/** 1.13 → 1.14: refused until talosMigration confirms it, then the flags go and the document comes, node by node. */
export async function talosMigrationSteps(ctx: EngineContext, nodes: TalosNodes, issuerUrl: string): Promise<void> {
    nodes.upgrade("1.14");
    await setConfig(ctx, "talosVersion", "v1.14");
    await ctx.report.check("12. on nodes upgraded to Talos 1.14, the preview refuses the move from the flags until talosMigration confirms it", async () => {
        const preview = await onStack(ctx, "preview");
        const text = preview.stdout + preview.stderr;
        expectThat(preview.status !== 0 && /talosMigration 1\.13-to-1\.14/.test(text), text);
        expectCleanRefusal(text);
        return agentLines(text).concat(text.split("\n").filter((l) => l.includes("still has the apiserver flags"))).slice(0, 1).join("") || "refused";
    });
    await setConfig(ctx, "talosMigration", "1.13-to-1.14");
    const up = await onStack(ctx, "up", "--yes", "--skip-preview");
    await ctx.report.check("12. confirmed, up takes every oidc-* flag off and puts the document on, node by node", async () => {
        expectThat(up.status === 0, up.stdout + up.stderr);
        for (const n of nodes.nodes) {
            const settings = readApiServerOidc(n.config());
            expectThat(!/^\s+oidc-/m.test(n.config()), `${n.address} still has oidc-* flags`);
            expectThat(settings.length === 1 && settings[0].mode === "authenticationConfig" && settings[0].issuerUrl === issuerUrl, JSON.stringify(settings));
        }
        return (await applyOutput(ctx)).join(" | ");
    });
}

/** After `pulumi destroy`: ours is gone from every node, and what others had is still there. */
export async function talosDestroyedStep(ctx: EngineContext, nodes: TalosNodes, issuerUrl: string, minor: "1.13" | "1.14"): Promise<void> {
    await ctx.report.check("12. destroy took off only what is ours on each node: the other issuer and the operator's host name stay", () => {
        for (const n of nodes.nodes) {
            const config = n.config();
            expectThat(!issuers(config).includes(issuerUrl), `${n.address} still trusts ${issuerUrl}`);
            if (minor === "1.14") expectThat(issuers(config).includes(CI_ISSUER), `${n.address} lost ${CI_ISSUER}`);
            expectThat(JSON.stringify(hostNames(config)) === JSON.stringify([OPERATOR_HOST]), `${n.address}'s host names: ${hostNames(config).join(", ")}`);
        }
        return nodes.nodes.map((n) => `${n.address}: ${issuers(n.config()).join(", ") || "no issuer"}; hosts ${hostNames(n.config()).join(", ")}`).join(" | ");
    });
}

function writeJson(ctx: EngineContext, name: string, value: unknown): string {
    const path = join(ctx.runDir, `${name}.json`);
    writeFileSync(path, JSON.stringify(value));
    return path;
}
