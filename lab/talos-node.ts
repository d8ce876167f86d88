// What a Talos control-plane node would hand its kube-apiserver: the stack's
// patch merged into a freshly generated machine config by Talos's own config
// library (talos/machinery), then the authentication settings taken from the
// merged config the way Talos passes them on: `.cluster.apiServer` extraArgs
// (with `machine.files` written on the host and extraVolumes mounted), or the
// KubeAuthenticationConfig document written to a file for
// --authentication-config. So Talos's defaults (1.14's anonymous health
// paths) reach the apiserver as they would on a node.
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseAllDocuments, stringify } from "yaml";
import type { Tools } from "./tools";

/** The merged machine config for the Talos minor the patch is written for. */
export function mergedMachineConfig(tools: Tools, minor: "1.13" | "1.14", talosPatch: string, runDir: string): string {
    const patchFile = join(runDir, "talos-patch.yaml");
    writeFileSync(patchFile, talosPatch);
    const merged = spawnSync(tools.talosPatch[minor], ["--talos-version", `v${minor}`, "--secrets", join(runDir, "talos-secrets.yaml"), patchFile], { encoding: "utf8" });
    if (merged.status !== 0) throw new Error(`Talos ${minor} refused the patch: ${merged.stderr}`);
    writeFileSync(join(runDir, "machine-config.yaml"), merged.stdout);
    return merged.stdout;
}

/** The apiserver's authentication flags from a merged machine config; host paths map into `runDir`. */
export function apiServerAuthFlags(mergedConfig: string, runDir: string): string[] {
    const docs = parseAllDocuments(mergedConfig).map((d) => d.toJS() as Record<string, any>);
    const flags: string[] = [];
    const authentication = docs.find((d) => d.kind === "KubeAuthenticationConfig");
    if (authentication) {
        const file = join(runDir, "authentication-config.yaml");
        // Talos's document holds the configuration without its type; Talos writes the file with it.
        writeFileSync(file, stringify({ apiVersion: "apiserver.config.k8s.io/v1", kind: "AuthenticationConfiguration", ...authentication.configuration }));
        flags.push(`--authentication-config=${file}`);
    }
    const { machine, cluster } = docs.find((d) => d.version === "v1alpha1") ?? {};
    for (const file of machine?.files ?? []) {
        mkdirSync(dirname(join(runDir, file.path)), { recursive: true });
        writeFileSync(join(runDir, file.path), file.content);
    }
    const volumes: { hostPath: string; mountPath: string }[] = cluster?.apiServer?.extraVolumes ?? [];
    const hostPathOf = (value: string) => {
        const volume = volumes.find((v) => value.startsWith(`${v.mountPath}/`));
        return volume ? join(runDir, volume.hostPath, value.slice(volume.mountPath.length)) : value;
    };
    const extraArgs = (cluster?.apiServer?.extraArgs ?? {}) as Record<string, string>;
    return [...flags, ...Object.entries(extraArgs).map(([flag, value]) => `--${flag}=${hostPathOf(value)}`)];
}
