// Talos control-plane nodes as far as the program meets them: a machine
// config that talosctl reads and patches, and a kube-apiserver that restarts
// from it. Each node is a directory with its config, merged by Talos's own
// library (talos-patch of the node's Talos minor), and its own apiserver on
// <address>:6443 beside the cluster endpoint, on the same etcd. A `talosctl`
// stand-in on the engine's PATH serves `get machineconfig`, `patch`,
// `apply-config`, `reboot` and `health` from those directories; whenever a
// node's config changes (or it reboots) the apiserver restarts from it, as
// Talos restarts the static pod. So `pulumi up` → command provider → agent →
// talosctl → merged config → apiserver is one real path.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, symlinkSync, unlinkSync, watch, writeFileSync, type FSWatcher } from "node:fs";
import { join } from "node:path";
import { apiServerArgs, TALOS_NODE_ADDRESSES, type Cluster, type Pki } from "./control-plane";
import { start, stop, type Service } from "./processes";
import { apiServerAuthFlags } from "./talos-node";
import type { Tools } from "./tools";

export interface TalosNode {
    address: string;
    dir: string;
    config(): string;
}

export interface TalosNodes {
    nodes: TalosNode[];
    /** The directory holding the talosctl stand-in, for the engine's PATH. */
    bin: string;
    /** From its next start on, the node's apiserver cannot reach any issuer (its egress goes to a dead proxy). */
    breakEgress(address: string, broken: boolean): void;
    /** `talosctl upgrade`: the node runs another Talos minor's config library, with its config as it was. */
    upgrade(minor: "1.13" | "1.14"): void;
    close(): Promise<void>;
}

/** Starts one node per TALOS_NODE_ADDRESSES with `initialConfig` (a whole machine config of `minor`). */
export function startTalosNodes(tools: Tools, pki: Pki, cluster: Cluster, minor: "1.13" | "1.14", initialConfig: string, runDir: string): TalosNodes {
    const root = join(runDir, "talos-nodes");
    const bin = join(runDir, "talosctl-bin");
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, "talosctl"), talosctlStandIn(root, cluster.adminKubeconfig, tools.kubectl), { mode: 0o755 });
    const broken = new Set<string>();
    const services = new Map<string, Service>();
    const watchers: FSWatcher[] = [];
    const link = (dir: string, to: "1.13" | "1.14") => {
        try {
            unlinkSync(join(dir, "talos-patch"));
        } catch {
            // first link
        }
        symlinkSync(tools.talosPatch[to], join(dir, "talos-patch"));
    };
    const started = new Map<string, string>();
    const chains: Promise<void>[] = [];
    let closed = false;
    /** Restarts the node's apiserver from its config, unless it runs that config already (a reboot always restarts). */
    const restart = async (address: string, dir: string, reboot = false) => {
        // A late event after close() must not start an apiserver that outlives the run and holds its address.
        if (closed) return;
        const config = readFileSync(join(dir, "config.yaml"), "utf8");
        if (!reboot && started.get(address) === config) return;
        started.set(address, config);
        const previous = services.get(address);
        if (previous) await stop(previous);
        const flags = apiServerAuthFlags(config, dir);
        const egress = broken.has(address) ? { HTTPS_PROXY: "http://127.0.0.1:9", https_proxy: "http://127.0.0.1:9" } : {};
        services.set(address, start(`kube-apiserver-${address}`, tools.kubeApiServer, [...apiServerArgs(pki, cluster.etcdServers, address, 6443), ...flags], dir, { ...process.env, ...egress }));
    };
    const nodes = TALOS_NODE_ADDRESSES.map((address) => {
        const dir = join(root, address);
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, "config.yaml"), initialConfig);
        link(dir, minor);
        // Restarts serialised per node: the stand-in renames config.yaml into place (or touches `rebooted`).
        const index = chains.push(restart(address, dir)) - 1;
        watchers.push(
            watch(dir, (_event, file) => {
                // One rename can raise more than one event: restart() skips a config it already runs.
                if (file === "config.yaml" || file === "rebooted") chains[index] = chains[index].then(() => restart(address, dir, file === "rebooted"));
            }),
        );
        return { address, dir, config: () => readFileSync(join(dir, "config.yaml"), "utf8") };
    });
    return {
        nodes,
        bin,
        breakEgress: (address, on) => void (on ? broken.add(address) : broken.delete(address)),
        upgrade: (to) => nodes.forEach((node) => link(node.dir, to)),
        close: async () => {
            closed = true;
            watchers.forEach((w) => w.close());
            await Promise.all(chains);
            await Promise.all([...services.values()].map(stop));
        },
    };
}

/**
 * `talosctl` for the nodes under `root`. `health` is cluster-wide, as
 * talosctl's is (every Node must be Ready): the agent no longer calls it, and
 * with the NotReady Node in the cluster a gate that went back to it would stall.
 */
function talosctlStandIn(root: string, adminKubeconfig: string, kubectl: string): string {
    return [
        "#!/bin/sh",
        'node=""; mode=""; file=""; patches=""; prev=""',
        'for a in "$@"; do',
        '  case "$prev" in --nodes) node=$a ;; --mode) mode=$a ;; --file) file=$a ;; --patch) patches="$patches ${a#@}" ;; esac',
        "  prev=$a",
        "done",
        `dir="${root}/$node"`,
        'if [ ! -d "$dir" ]; then echo "talosctl: rpc error: node $node is unreachable" >&2; exit 1; fi',
        'echo "$*" >>"$dir/talosctl.log"',
        'case "$*" in',
        `  *"get machineconfig"*) printf 'node: %s\\nmetadata:\\n    namespace: config\\n    type: MachineConfigs.config.talos.dev\\n    id: v1alpha1\\nspec: |\\n' "$node"; sed 's/^/    /' "$dir/config.yaml" ;;`,
        '  *"patch machineconfig"*)',
        '    "$dir/talos-patch" --config "$dir/config.yaml" $patches >"$dir/next.yaml" || exit 1',
        '    if [ "$mode" = staged ]; then mv "$dir/next.yaml" "$dir/staged.yaml"; echo "staged for the next reboot"; else mv "$dir/next.yaml" "$dir/config.yaml"; fi ;;',
        '  *apply-config*) "$dir/talos-patch" --config "$file" >"$dir/next.yaml" && mv "$dir/next.yaml" "$dir/config.yaml" ;;',
        '  *reboot*) if [ -f "$dir/staged.yaml" ]; then mv "$dir/staged.yaml" "$dir/config.yaml"; else date >"$dir/rebooted"; fi ;;',
        `  *health*) if "${kubectl}" --kubeconfig "${adminKubeconfig}" get nodes -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}' | grep -qv True; then echo "talosctl: health: a node is not Ready" >&2; exit 1; fi ;;`,
        '  *) echo "talosctl stand-in: unsupported: $*" >&2; exit 1 ;;',
        "esac",
    ].join("\n");
}

/** A whole machine config of `minor` with `patches` (YAML texts), as `talosctl gen config --config-patch` makes it. */
export function generatedConfig(tools: Tools, minor: "1.13" | "1.14", patches: string[], runDir: string): string {
    const files = patches.map((patch, i) => {
        const file = join(runDir, `node-patch-${i}.yaml`);
        writeFileSync(file, patch);
        return file;
    });
    const result = spawnSync(tools.talosPatch[minor], ["--talos-version", `v${minor}`, "--secrets", join(runDir, "talos-secrets.yaml"), ...files], { encoding: "utf8" });
    if (result.status !== 0) throw new Error(`talos-patch refused the nodes' initial config: ${result.stderr}`);
    return result.stdout;
}
