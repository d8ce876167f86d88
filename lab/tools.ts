// The real programs, built from the Go module proxy by lab/tools/build.sh and
// cached by version outside the repo. A build failure fails the suite: it
// never skips.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { basename, dirname, join } from "node:path";

export interface Tools {
    etcd: string;
    dex: string;
    kubeApiServer: string;
    kubeControllerManager: string;
    kubeScheduler: string;
    kubectl: string;
    kwok: string;
    /** kwok's stage definitions (node and pod lifecycles), one YAML file each. */
    kwokStages: string;
    /** The Gateway API's standard CRDs, one YAML file each. */
    gatewayApiCrds: string;
    /** talos/machinery built against Talos's config library of each minor. */
    talosPatch: Record<"1.13" | "1.14", string>;
    /** Directories to put first on PATH, so `kubectl oidc-login` resolves as it does for users. */
    path: string[];
    versions: Record<string, string>;
}

export function buildTools(repoRoot: string): Tools {
    const build = spawnSync("bash", [join(repoRoot, "lab", "tools", "build.sh"), "e2e"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
    if (build.status !== 0) throw new Error(`building the real components failed (exit ${build.status}); see the output above`);
    const dirs = build.stdout.trim().split("\n").filter(Boolean);
    const find = (name: string) => {
        const dir = dirs.find((d) => existsSync(join(d, name)));
        if (!dir) throw new Error(`lab/tools/build.sh did not produce ${name}`);
        return join(dir, name);
    };
    const tools: Tools = {
        etcd: find("etcd"),
        dex: find("dex"),
        kubeApiServer: find("kube-apiserver"),
        kubeControllerManager: find("kube-controller-manager"),
        kubeScheduler: find("kube-scheduler"),
        kubectl: find("kubectl"),
        kwok: find("kwok"),
        kwokStages: dirname(find("pod-ready.yaml")),
        gatewayApiCrds: dirname(find("gateway.networking.k8s.io_httproutes.yaml")),
        talosPatch: { "1.13": find("talos-patch-1.13"), "1.14": find("talos-patch-1.14") },
        path: dirs,
        // "<name>-<version>", where a version starts with a digit or v and a digit.
        versions: Object.fromEntries(dirs.map((d) => /^(.*?)-(v?\d.*)$/.exec(basename(d))!.slice(1))),
    };
    // Only found, not kept: kubectl and the engine run these from PATH, as for users.
    ["kubectl-oidc_login", "pulumi", "pulumi-language-nodejs", "pulumi-resource-kubernetes", "pulumi-resource-github", "pulumi-resource-command"].forEach(find);
    return tools;
}
