// A throwaway control plane on loopback: etcd, kube-apiserver configured from
// the program's Talos patch (as Talos would configure it), and
// kube-controller-manager for the `view` role's aggregation, rollouts and
// deletions.
import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseAllDocuments, stringify } from "yaml";
import { makeLeaf, type KeyPair } from "../test/support/pki";
import { freePort, run, start, waitFor, type CommandResult, type Service } from "./processes";
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
        apiServer: makeLeaf(ca, "apiserver", "/CN=kube-apiserver", "IP:127.0.0.1,DNS:localhost"),
        serviceAccountKey,
        serviceAccountPub,
    };
}

export type Kubectl = (kubeconfig: string, ...args: string[]) => CommandResult;

/** kubectl against one kubeconfig; `env`'s PATH decides whether `kubectl oidc-login` resolves. */
export function kubectlIn(binary: string, env: NodeJS.ProcessEnv = process.env): Kubectl {
    return (kubeconfig, ...args) => run(binary, ["--kubeconfig", kubeconfig, ...args], env);
}

export interface Cluster {
    server: string;
    adminKubeconfig: string;
    apiServer: Service;
    /** Writes `<runDir>/<name>.kubeconfig` for this cluster with one user entry; returns its path. */
    kubeconfig(name: string, user: Record<string, unknown>, namespace?: string): string;
    /** The break-glass admin kubeconfig with its one context named `context`. */
    contextKubeconfig(context: string): string;
}

/**
 * The apiserver flags a Talos node would run with. Talos, not the apiserver,
 * turns the patch into files on the host: machine.files, extraVolumes and the
 * KubeAuthenticationConfig's file, so that mapping is emulated here (into
 * `runDir`). What the settings mean is read by talos/read.ts, not here.
 */
function apiServerAuthFlags(talosPatch: string, runDir: string): string[] {
    const docs = parseAllDocuments(talosPatch).map((d) => d.toJS());
    const authDoc = docs.find((d) => d.kind === "KubeAuthenticationConfig");
    if (authDoc) {
        const file = join(runDir, "authentication-config.yaml");
        writeFileSync(file, stringify(authDoc.configuration));
        return [`--authentication-config=${file}`];
    }
    const { machine, cluster } = docs[0];
    for (const file of machine?.files ?? []) {
        mkdirSync(dirname(join(runDir, file.path)), { recursive: true });
        writeFileSync(join(runDir, file.path), file.content);
    }
    const volumes: { hostPath: string; mountPath: string }[] = cluster.apiServer.extraVolumes ?? [];
    const hostPathOf = (value: string) => {
        const volume = volumes.find((v) => value.startsWith(`${v.mountPath}/`));
        return volume ? join(runDir, volume.hostPath, value.slice(volume.mountPath.length)) : value;
    };
    return Object.entries(cluster.apiServer.extraArgs as Record<string, string>).map(([flag, value]) => `--${flag}=${hostPathOf(value)}`);
}

/** `apiServerEnv` adds to the apiserver's environment (SSL_CERT_FILE, to stand in for the system's trusted roots). */
export async function startCluster(tools: Tools, pki: Pki, talosPatch: string, runDir: string, apiServerEnv: NodeJS.ProcessEnv = {}): Promise<Cluster> {
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
    const apiServer = start("kube-apiserver", tools.kubeApiServer, [
        `--etcd-servers=http://127.0.0.1:${etcdClient}`,
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        `--secure-port=${securePort}`,
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
        ...apiServerAuthFlags(talosPatch, runDir),
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
        adminKubeconfig,
        apiServer,
        kubeconfig,
        // Named as the stack's kubernetes:context names it, as on an operator's machine.
        contextKubeconfig: (context) => kubeconfig(`context-${context}`, adminUser, undefined, context),
    };
}
