// A stand-in for talosctl, for the tests of the node agent (agent.ts). It
// serves each node's machine config the way `talosctl get machineconfig -o
// yaml` shows it, logs every change it is asked for, and, given the
// talos-patch tool (talos/machinery), applies each patch call to the node's
// config with Talos's own library, so a test sees what the node would hold.
// A kubectl stand-in answers for each node's apiserver metrics, so that no
// test ever reaches a real address: its version, restarted at every look,
// and, with `apiServers.issuerHash`, fetching the issuer's keys, except on
// the nodes listed as unable to; nodes listed as forbidden refuse the read.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface StandInRun {
    exitCode: number;
    stdout: string;
    stderr: string;
    /** `patch <node> <mode>` followed by one `  <file>` per patch, `reboot <node>`, `health <node>`. */
    calls: string[];
    /** Each node's machine config after the run. */
    configs: Record<string, string>;
}

export interface ApiServers {
    /** sha256:<hex> of the issuer URL, as the apiserver labels its JWKS metrics; without it, no key is ever fetched. */
    issuerHash?: string;
    /** Nodes whose apiserver never fetches the issuer's keys. */
    unreachableFrom?: string[];
    /** The apiservers' Kubernetes version (kubernetes_build_info); v1.36.3 unless given. */
    version?: string;
    /** Nodes whose /metrics the stack's context may not read. */
    forbidden?: string[];
}

export function runWithStandIn(script: string, env: Record<string, string>, configs: Record<string, string>, patcher = "", apiServers: ApiServers = {}): StandInRun {
    const dir = mkdtempSync(join(tmpdir(), "talosctl-stand-in-"));
    const nodes = Object.keys(configs);
    nodes.forEach((node) => writeFileSync(join(dir, `live-${node}.yaml`), configs[node]));
    writeFileSync(
        join(dir, "talosctl"),
        [
            "#!/bin/sh",
            `dir=${dir}`,
            'node=""; mode=""; patches=""; prev=""',
            'for a in "$@"; do',
            '  case "$prev" in --nodes) node=$a ;; --mode) mode=$a ;; --patch) patches="$patches ${a#@}" ;; esac',
            "  prev=$a",
            "done",
            'case "$*" in',
            `  *"get machineconfig"*) printf 'spec: |\\n'; sed 's/^/    /' "$dir/live-$node.yaml" ;;`,
            '  *"patch machineconfig"*)',
            '    echo "patch $node $mode" >>"$dir/calls.log"',
            '    for p in $patches; do echo "  ${p##*/}" >>"$dir/calls.log"; done',
            `    if [ -n "${patcher}" ]; then "${patcher}" --config "$dir/live-$node.yaml" $patches >"$dir/next.yaml" && mv "$dir/next.yaml" "$dir/live-$node.yaml"; fi ;;`,
            '  *apply-config*) file=""; prev=""; for a in "$@"; do [ "$prev" = --file ] && file=$a; prev=$a; done',
            '    echo "apply-config $node" >>"$dir/calls.log"; cp "$file" "$dir/live-$node.yaml" ;;',
            '  *) for a in "$@"; do case $a in reboot | health) echo "$a $node" >>"$dir/calls.log" ;; esac; done ;;',
            "esac",
        ].join("\n"),
        { mode: 0o755 },
    );
    const listed = (nodes?: string[]) => (nodes ?? []).join(" ");
    writeFileSync(
        join(dir, "kubectl"),
        [
            "#!/bin/sh",
            'server=""; prev=""',
            'for a in "$@"; do [ "$prev" = --server ] && server=$a; prev=$a; done',
            'node=${server#https://}; node=${node%:*}',
            'case "$*" in',
            `  *"config view"*) echo '{"clusters":[{"cluster":{}}]}' ;;`,
            `  *"get --raw /metrics"*)`,
            `    case " ${listed(apiServers.forbidden)} " in *" $node "*) echo 'Error from server (Forbidden): forbidden: User "ci" cannot get path "/metrics"' >&2; exit 1 ;; esac`,
            "    now=$(date +%s.%N)",
            `    echo 'kubernetes_build_info{build_date="",compiler="gc",git_version="${apiServers.version ?? "v1.36.3"}",major="1",minor="36"} 1'`,
            '    echo "process_start_time_seconds $now"',
            ...(apiServers.issuerHash
                ? [`    case " ${listed(apiServers.unreachableFrom)} " in *" $node "*) ;; *) printf '%s{apiserver_id_hash="sha256:0",jwt_issuer_hash="%s",result="success"} %s\\n' apiserver_authentication_jwt_authenticator_jwks_fetch_last_timestamp_seconds "${apiServers.issuerHash}" "$now" ;; esac ;;`]
                : ["    ;;"]),
            "esac",
        ].join("\n"),
        { mode: 0o755 },
    );
    try {
        // From the project directory (dist/talos/..), where the engine runs the agent too.
        const result = spawnSync("/bin/sh", ["-c", script], { cwd: join(__dirname, "..", ".."), env: { ...env, PATH: `${dir}:${process.env.PATH}` }, encoding: "utf8" });
        const log = (() => {
            try {
                return readFileSync(join(dir, "calls.log"), "utf8").trim().split("\n");
            } catch {
                return [];
            }
        })();
        return {
            exitCode: result.status ?? -1,
            stdout: result.stdout,
            stderr: result.stderr,
            calls: log,
            configs: Object.fromEntries(nodes.map((node) => [node, readFileSync(join(dir, `live-${node}.yaml`), "utf8")])),
        };
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
}
