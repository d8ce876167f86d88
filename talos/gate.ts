// The node agent's gate (agent.ts): a node is done only when its own
// apiserver runs with the settings and has fetched our issuer's keys since,
// read from that apiserver's metrics. A probe token for our issuer makes it
// fetch them.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { request } from "node:https";
import { isIP } from "node:net";
import { apiServerArgs, type OwnedSettings } from "./compose.ts";

const JWKS_FETCH = "apiserver_authentication_jwt_authenticator_jwks_fetch_last_timestamp_seconds";
const START_TIME = "process_start_time_seconds";
const RELOAD_TIME = "apiserver_authentication_config_controller_automatic_reload_last_timestamp_seconds";

/** What the gate reads of the agent's environment. */
export interface GateEnv {
    owned: OwnedSettings;
    /** The stack's kubernetes:context, for the apiserver's metrics. */
    context: string;
    gateSeconds: number;
}

/**
 * Waits until the node's apiserver runs with the new settings (it restarted,
 * or reloaded its authentication config, since `before`), then until it has
 * fetched our issuer's keys since: a token signed by nobody, with our issuer
 * and audience, makes it fetch them, and it can refuse the token only after
 * that. One deadline for both.
 */
export async function gate(env: GateEnv, node: string, port: number, ca: string | undefined, before: Metrics | undefined, restarts: boolean): Promise<number> {
    const started = Date.now();
    const deadline = started + env.gateSeconds * 1000;
    if (restarts) await waitFor(env, deadline, `its apiserver to restart with the settings`, async () => restarted(before, await apiServerMetrics(env, node, port)) || "not restarted yet");
    const issuerHash = `sha256:${createHash("sha256").update(env.owned.issuerUrl).digest("hex")}`;
    // The node's own clock, as its metrics keep time: a fetch counts only when newer than any before the patch.
    const earlier = before?.series(JWKS_FETCH, { result: "success", jwt_issuer_hash: issuerHash }) ?? 0;
    await waitFor(env, deadline, `its apiserver to load the keys of ${env.owned.issuerUrl} (can the node reach and trust the issuer?)`, async () => {
        await probe(node, port, ca, env.owned);
        const metrics = await apiServerMetrics(env, node, port);
        if (metrics === undefined) return `its /metrics does not answer (${lastMetricsError})`;
        const fetched = (result: string) => metrics.series(JWKS_FETCH, { result, jwt_issuer_hash: issuerHash }) ?? 0;
        if (fetched("success") > earlier && fetched("success") >= fetched("failure")) return true;
        return fetched("failure") > earlier ? "its last fetch of the issuer's keys failed" : "it has not fetched the issuer's keys";
    });
    return Math.round((Date.now() - started) / 1000);
}

export interface Metrics {
    series(name: string, labels?: Record<string, string>): number | undefined;
    /** A label of the first series with this name (kubernetes_build_info's git_version). */
    label(name: string, label: string): string | undefined;
}

/**
 * The port of a node's own apiserver, as Talos starts it: the
 * KubeAPIServerConfig document's `apiPort` where the config has one (≥1.14),
 * else `.cluster.controlPlane.localAPIServerPort`, 6443 by default (Talos's
 * `APIPort()`); a `secure-port` in extraArgs wins.
 */
export function apiServerPort(live: Record<string, unknown>[]): number {
    const explicit = apiServerArgs(live)["secure-port"];
    if (explicit !== undefined) return Number(explicit);
    const document = live.find((doc) => doc.kind === "KubeAPIServerConfig") as { apiPort?: number } | undefined;
    const machine = live.find((doc) => doc.version === "v1alpha1") as { cluster?: { controlPlane?: { localAPIServerPort?: number } } } | undefined;
    return Number((document ? document.apiPort : machine?.cluster?.controlPlane?.localAPIServerPort) || 6443);
}

/** The first Kubernetes minor whose apiserver reports its JWKS fetches, which the gate reads. */
export const FIRST_MINOR_WITH_JWKS_METRIC = 35;

/**
 * Why the gate could never pass on `node`, asked before any node is touched:
 * its apiserver's /metrics unreadable with the stack's context, or a
 * Kubernetes older than the JWKS fetch metric. Undefined when it can pass.
 */
export async function gatePrerequisite(env: GateEnv, node: string, port: number): Promise<string | undefined> {
    const metrics = await apiServerMetrics(env, node, port);
    if (metrics === undefined) {
        return `node ${node}: its apiserver's /metrics cannot be read with kubernetes:context ${env.context} (${lastMetricsError}), and the rollout's gate reads it there; let the context's user read it (the group system:monitoring, or a ClusterRole with get on the nonResourceURL /metrics), or check that the node's apiserver answers on port ${port}`;
    }
    const version = metrics.label("kubernetes_build_info", "git_version");
    const minor = Number(/^v1\.(\d+)\./.exec(version ?? "")?.[1]);
    if (!(minor >= FIRST_MINOR_WITH_JWKS_METRIC)) {
        return `node ${node}: its apiserver runs Kubernetes ${version ?? "of unknown version"}, and the rollout's gate needs 1.${FIRST_MINOR_WITH_JWKS_METRIC} or newer (its JWKS fetch metric); upgrade the node's Kubernetes first (talosctl upgrade-k8s)`;
    }
    return undefined;
}

/** The node's own apiserver's metrics (never the cluster endpoint's), or undefined while it does not answer. */
export async function apiServerMetrics(env: GateEnv, node: string, port: number): Promise<Metrics | undefined> {
    const host = isIP(node) === 6 ? `[${node}]` : node;
    // An apiserver's metrics run to megabytes: past spawnSync's 1 MiB default they would read as no answer.
    const result = spawnSync("kubectl", ["--context", env.context, "--server", `https://${host}:${port}`, "get", "--raw", "/metrics", "--request-timeout=5s"], { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
    if (result.status !== 0) {
        lastMetricsError = (result.error?.message ?? result.stderr).trim().split("\n")[0];
        return undefined;
    }
    return parseMetrics(result.stdout);
}

/** Why the last metrics read failed, for the gate's report. */
let lastMetricsError = "";

/** Prometheus text: the value of the first series with this name and these labels. */
function parseMetrics(text: string): Metrics {
    const lines = text.split("\n").filter((l) => l && !l.startsWith("#"));
    const first = (name: string, labels: Record<string, string> = {}) =>
        lines.find((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
    return {
        series(name, labels = {}) {
            const line = first(name, labels);
            return line === undefined ? undefined : Number(line.split(" ").pop());
        },
        label: (name, label) => new RegExp(`[{,]${label}="([^"]*)"`).exec(first(name) ?? "")?.[1],
    };
}

export function restarted(before: Metrics | undefined, now: Metrics | undefined): boolean {
    if (now === undefined) return false;
    if (before === undefined) return true;
    const reloaded = (now.series(RELOAD_TIME, { status: "success" }) ?? 0) > (before.series(RELOAD_TIME, { status: "success" }) ?? 0);
    return now.series(START_TIME) !== before.series(START_TIME) || reloaded;
}

/** A request with an unsigned token for our issuer and audience: it carries nothing, and is always refused. */
function probe(node: string, port: number, ca: string | undefined, owned: OwnedSettings): Promise<void> {
    const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
    const now = Math.floor(Date.now() / 1000);
    const token = [part({ alg: "RS256", kid: "platform-auth-probe" }), part({ iss: owned.issuerUrl, aud: owned.audience, sub: "probe", iat: now, exp: now + 300 }), part({ probe: true })].join(".");
    return new Promise((resolve) => {
        request({ host: node, port, path: "/api", ca, headers: { authorization: `Bearer ${token}` }, timeout: 5000 }, (res) => {
            res.resume();
            res.on("end", resolve);
        })
            .on("error", () => resolve())
            .on("timeout", function (this: { destroy(): void }) {
                this.destroy();
            })
            .end();
    });
}

/** Polls `check` until it is true; otherwise it says what it sees, which a timeout reports. */
export async function waitFor(env: GateEnv, deadline: number, what: string, check: () => Promise<true | string>): Promise<void> {
    for (let seen = await check(); seen !== true; seen = await check()) {
        if (Date.now() > deadline) throw new Error(`gave up after ${env.gateSeconds}s waiting for ${what}: ${seen}`);
        await new Promise((resolve) => setTimeout(resolve, 1000));
    }
}

