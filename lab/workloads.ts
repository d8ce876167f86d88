// What a real `pulumi up` needs beyond the apiserver: kube-scheduler and a kwok
// node, so Dex's Deployment becomes available (kwok plays the kubelet: pods
// are scheduled, then marked running and ready), and the Gateway API CRDs
// with the Gateway that Dex's HTTPRoute attaches to.
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import type { Cluster, Kubectl } from "./control-plane";
import { freePort, start, waitFor } from "./processes";
import type { Tools } from "./tools";

const FAKE_NODE = "kwok-node-0";

export async function startWorkloadRuntime(tools: Tools, cluster: Cluster, kubectl: Kubectl, runDir: string): Promise<void> {
    const admin = cluster.adminKubeconfig;
    const scheduler = start("kube-scheduler", tools.kubeScheduler, [
        `--kubeconfig=${admin}`,
        `--authentication-kubeconfig=${admin}`,
        `--authorization-kubeconfig=${admin}`,
        "--leader-elect=false",
        "--bind-address=127.0.0.1",
        `--secure-port=${await freePort()}`,
    ], runDir);
    start("kwok", tools.kwok, [
        `--kubeconfig=${admin}`,
        "--manage-all-nodes=false",
        "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
        `--server-address=127.0.0.1:${await freePort()}`,
        ...readdirSync(tools.kwokStages).filter((f) => f.endsWith(".yaml")).flatMap((f) => ["-c", join(tools.kwokStages, f)]),
    ], runDir);
    const node = {
        apiVersion: "v1",
        kind: "Node",
        metadata: { name: FAKE_NODE, annotations: { "kwok.x-k8s.io/node": "fake" }, labels: { "kubernetes.io/hostname": FAKE_NODE, type: "kwok" } },
        spec: {},
    };
    applyObjects(kubectl, admin, [node], runDir, "kwok-node");
    await waitFor(`the kwok node ${FAKE_NODE} to be Ready`, () => {
        const status = JSON.parse(kubectl(admin, "get", "node", FAKE_NODE, "-o", "json").stdout || "{}").status;
        return status?.conditions?.some((c: { type: string; status: string }) => c.type === "Ready" && c.status === "True") ? true : undefined;
    }, 60_000, scheduler);
    // Admission taints every new node not-ready; the node lifecycle controller, which would lift
    // the taint once kwok reports Ready, also evicts on missed heartbeats, so lift it here instead.
    const untainted = kubectl(admin, "taint", "node", FAKE_NODE, "node.kubernetes.io/not-ready:NoSchedule-");
    if (untainted.status !== 0 && !/not found/.test(untainted.stderr)) throw new Error(`untainting ${FAKE_NODE}: ${untainted.stderr}`);
}

/** The Gateway API's CRDs, a GatewayClass and the Gateway named in the stack's exposure. */
export async function installGatewayApi(tools: Tools, cluster: Cluster, kubectl: Kubectl, gateway: { name: string; namespace: string }, runDir: string): Promise<void> {
    const crds = readdirSync(tools.gatewayApiCrds).filter((f) => f.endsWith(".yaml")).map((f) => join(tools.gatewayApiCrds, f));
    const applied = kubectl(cluster.adminKubeconfig, "apply", "--server-side", ...crds.flatMap((f) => ["-f", f]));
    if (applied.status !== 0) throw new Error(`installing the Gateway API CRDs failed: ${applied.stderr}`);
    await waitFor("the Gateway API CRDs to be established", () => (kubectl(cluster.adminKubeconfig, "get", "gateways.gateway.networking.k8s.io", "-A").status === 0 ? true : undefined), 60_000);
    applyObjects(kubectl, cluster.adminKubeconfig, [
        { apiVersion: "gateway.networking.k8s.io/v1", kind: "GatewayClass", metadata: { name: "e2e" }, spec: { controllerName: "platform-auth.e2e/none" } },
        {
            apiVersion: "gateway.networking.k8s.io/v1",
            kind: "Gateway",
            metadata: { name: gateway.name, namespace: gateway.namespace },
            // No controller serves it: the route only has to attach by name, and the listener by its section name.
            spec: { gatewayClassName: "e2e", listeners: [{ name: "https", protocol: "HTTP", port: 80, allowedRoutes: { namespaces: { from: "All" } } }] },
        },
    ], runDir, "gateway");
}

function applyObjects(kubectl: Kubectl, kubeconfig: string, objects: object[], runDir: string, name: string): void {
    const file = join(runDir, `${name}.yaml`);
    writeFileSync(file, objects.map((o) => stringify(o)).join("---\n"));
    const applied = kubectl(kubeconfig, "apply", "--server-side", "-f", file);
    if (applied.status !== 0) throw new Error(`applying ${name} failed: ${applied.stderr}`);
}
