// A throwaway control plane on loopback: etcd, kube-apiserver with the
// authentication settings a Talos node would give it (talos-node.ts), and
// kube-controller-manager for the `view` role's aggregation, rollouts and
// deletions.
import { generateKeyPairSync } from "node:crypto";
import { writeFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { stringify } from "yaml";
import { makeLeaf, type KeyPair } from "./pki";
import { freePort, run, start, waitFor, type CommandResult, type Service } from "./processes";
import { expectThat, type Report } from "./report";
import type { Tools } from "./tools";

export interface Pki {
    ca: KeyPair & { dir: string };
    admin: KeyPair;
    apiServer: KeyPair;
    serviceAccountKey: string;
    serviceAccountPub: string;
}

export function makeClusterPki(ca: KeyPair & { dir: string }): Pki {
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const serviceAccountKey = join(ca.dir, "sa.key");
    const serviceAccountPub = join(ca.dir, "sa.pub");
    writeFileSync(serviceAccountKey, privateKey.export({ type: "pkcs8", format: "pem" }));
    writeFileSync(serviceAccountPub, publicKey.export({ type: "spki", format: "pem" }));
    return {
        ca,
        admin: makeLeaf(ca, "admin", "/O=system:masters/CN=break-glass-admin"),
        // The cluster endpoint, and the Talos node stand-ins' own apiservers (talos-nodes.ts).
        apiServer: makeLeaf(ca, "apiserver", "/CN=kube-apiserver", ["127.0.0.1", ...TALOS_NODE_ADDRESSES].map((ip) => `IP:${ip}`).concat("DNS:localhost").join(",")),
        serviceAccountKey,
        serviceAccountPub,
    };
}

export type Kubectl = (kubeconfig: string, ...args: string[]) => CommandResult;

/** kubectl against one kubeconfig; `env`'s PATH decides whether `kubectl oidc-login` resolves. */
export function kubectlIn(binary: string, env: NodeJS.ProcessEnv = process.env): Kubectl {
    return (kubeconfig, ...args) => run(binary, ["--kubeconfig", kubeconfig, ...args], env);
}

/** Where the Talos node stand-ins' apiservers listen, each on the Talos default port 6443. */
export const TALOS_NODE_ADDRESSES = ["127.0.0.2", "127.0.0.3"];

/** The flags every apiserver of the cluster shares: one etcd, one PKI. */
export function apiServerArgs(pki: Pki, etcdServers: string, address: string, port: number): string[] {
    return [
        `--etcd-servers=${etcdServers}`,
        `--bind-address=${address}`,
        `--advertise-address=${address}`,
        `--secure-port=${port}`,
        `--tls-cert-file=${pki.apiServer.certFile}`,
        `--tls-private-key-file=${pki.apiServer.keyFile}`,
        `--client-ca-file=${pki.ca.certFile}`,
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        `--service-account-key-file=${pki.serviceAccountPub}`,
        `--service-account-signing-key-file=${pki.serviceAccountKey}`,
        "--service-cluster-ip-range=10.96.0.0/16",
        "--authorization-mode=RBAC",
        // No kubelet or node IPs here: keep the apiserver from publishing itself as an endpoint.
        "--endpoint-reconciler-type=none",
    ];
}

export interface Cluster {
    server: string;
    etcdServers: string;
    /** The cluster CA, which anonymous clients trust too. */
    caPem: string;
    adminKubeconfig: string;
    apiServer: Service;
    /** Writes `<runDir>/<name>.kubeconfig` for this cluster with one user entry; returns its path. */
    kubeconfig(name: string, user: Record<string, unknown>, namespace?: string): string;
    /** The break-glass admin kubeconfig with its one context named `context`. */
    contextKubeconfig(context: string): string;
}

/** `apiServerEnv` adds to the apiserver's environment (SSL_CERT_FILE, to stand in for the system's trusted roots). */
/** `authFlags` are the apiserver's authentication settings (from the Talos node's machine config, talos-node.ts). */
export async function startCluster(tools: Tools, pki: Pki, authFlags: string[], runDir: string, apiServerEnv: NodeJS.ProcessEnv = {}): Promise<Cluster> {
    const [etcdClient, etcdPeer, securePort] = [await freePort(), await freePort(), await freePort()];
    start("etcd", tools.etcd, [
        `--data-dir=${join(runDir, "etcd")}`,
        `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
        `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
        "--listen-metrics-urls=",
    ], runDir);

    const server = `https://127.0.0.1:${securePort}`;
    const etcdServers = `http://127.0.0.1:${etcdClient}`;
    const apiServer = start("kube-apiserver", tools.kubeApiServer, [
        ...apiServerArgs(pki, etcdServers, "127.0.0.1", securePort),
        ...authFlags,
    ], runDir, { ...process.env, ...apiServerEnv });

    const kubeconfig = (name: string, user: Record<string, unknown>, namespace?: string, context = "e2e") => {
        const path = join(runDir, `${name}.kubeconfig`);
        writeFileSync(
            path,
            stringify({
                apiVersion: "v1",
                kind: "Config",
                clusters: [{ name: "e2e", cluster: { server, "certificate-authority-data": Buffer.from(pki.ca.certPem).toString("base64") } }],
                users: [user],
                contexts: [{ name: context, context: { cluster: "e2e", user: String(user.name), ...(namespace ? { namespace } : {}) } }],
                "current-context": context,
            }),
        );
        return path;
    };
    const adminUser = { name: "break-glass", user: { "client-certificate": pki.admin.certFile, "client-key": pki.admin.keyFile } };
    const adminKubeconfig = kubeconfig("admin", adminUser);
    const kubectl = kubectlIn(tools.kubectl);
    await waitFor("kube-apiserver /readyz", () => (kubectl(adminKubeconfig, "get", "--raw", "/readyz").stdout === "ok" ? true : undefined), 120_000, apiServer);

    const controllerManager = start("kube-controller-manager", tools.kubeControllerManager, [
        `--kubeconfig=${adminKubeconfig}`,
        `--authentication-kubeconfig=${adminKubeconfig}`,
        `--authorization-kubeconfig=${adminKubeconfig}`,
        // view's aggregation; what a Deployment needs to roll out (and a Service to find its pods);
        // and what `pulumi destroy` waits on: the garbage collector clears foreground-deletion
        // finalizers, the namespace controller empties namespaces.
        "--controllers=" + [
            "clusterrole-aggregation", "deployment", "replicaset", "serviceaccount", "endpoints", "endpointslice",
            "disruption", "garbage-collector", "namespace",
        ].map((c) => `${c}-controller`).join(","),
        "--leader-elect=false",
        "--bind-address=127.0.0.1",
        `--secure-port=${await freePort()}`,
    ], runDir);
    await waitFor(
        "the `view` ClusterRole to be aggregated",
        () => (JSON.parse(kubectl(adminKubeconfig, "get", "clusterrole", "view", "-o", "json").stdout || "{}").rules?.length > 0 ? true : undefined),
        60_000,
        controllerManager,
    );
    return {
        server,
        etcdServers,
        caPem: pki.ca.certPem,
        adminKubeconfig,
        apiServer,
        kubeconfig,
        // Named as the stack's kubernetes:context names it, as on an operator's machine.
        contextKubeconfig: (context) => kubeconfig(`context-${context}`, adminUser, undefined, context),
    };
}

/**
 * As on a stock Talos node: the health paths answer without credentials, the
 * API does not. On 1.14 that is the anonymous rule Talos's default
 * KubeAuthenticationConfig carries (which the program's patch must keep).
 */
export async function anonymousAccessStep(cluster: Cluster, minor: string, report: Report): Promise<void> {
    await report.check(`2. anonymously, /livez answers and /api is refused (Talos ${minor} defaults)`, async () => {
        const status = (path: string) =>
            new Promise<number>((resolve, reject) =>
                request(`${cluster.server}${path}`, { ca: cluster.caPem }, (res) => {
                    res.resume();
                    resolve(res.statusCode ?? 0);
                }).on("error", reject).end(),
            );
        const [livez, api] = [await status("/livez"), await status("/api")];
        expectThat(livez === 200, `/livez answered ${livez}`);
        // 1.14 limits anonymous requests to the health paths, so /api sees no user at all (401); without that
        // rule anonymous requests would be authenticated everywhere and merely forbidden (403), as on 1.13.
        const expected = minor === "1.14" ? 401 : 403;
        expectThat(api === expected, `/api answered ${api}, not ${expected}`);
        return `/livez ${livez}, /api ${api}`;
    });
}
