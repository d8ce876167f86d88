// The pieces of Dex's Kubernetes objects that carry a decision: the hardened
// pod, its disruption budget, storage RBAC, network policy and exposure.
import type { Exposure } from "../config/types";
import { CREDENTIALS, checksum, DEX_HTTP_PORT, DEX_TELEMETRY_PORT, GITHUB_CA } from "./config";

export const DEX_NAMESPACE = "dex";
const DEX_CONFIG_DIR = "/etc/dex";
const DEX_CONFIG_PATH = `${DEX_CONFIG_DIR}/config.yaml`;
/** Object names inside the Dex namespace; the pod template refers to them by name. */
export const DEX_OBJECTS = {
    serviceAccount: "dex",
    configSecret: "dex-config",
    credentialsSecret: "dex-credentials",
    service: "dex",
    /** The Deployment, its PodDisruptionBudget and NetworkPolicy, and the HTTPRoute or Ingress: one name, as `kubectl get` users expect. */
    workload: "dex",
} as const;
/** The distroless image's non-root user. */
const DEX_UID = 1001;

export const dexLabels = { "app.kubernetes.io/name": "dex", "app.kubernetes.io/part-of": "platform-auth" };

export interface DexPodInput<T> {
    configYaml: string;
    image: string;
    /** A digest of the GitHub credentials: env values from a Secret are only read when a pod starts. */
    credentialsChecksum: T;
    /** The GitHub Enterprise Server's CA, a key of the config Secret; Dex reads it only when it starts. */
    githubCaPem?: string;
}

/** The pod template: Pod Security "restricted", probes, and secrets only by reference. */
export function dexPodTemplate<T>(input: DexPodInput<T>) {
    return {
        metadata: {
            labels: dexLabels,
            annotations: {
                "platform-auth/config-sha256": checksum(input.configYaml + (input.githubCaPem ?? "")),
                "platform-auth/credentials-sha256": input.credentialsChecksum,
            },
        },
        spec: {
            serviceAccountName: DEX_OBJECTS.serviceAccount,
            automountServiceAccountToken: true,
            securityContext: {
                runAsNonRoot: true,
                runAsUser: DEX_UID,
                runAsGroup: DEX_UID,
                fsGroup: DEX_UID,
                seccompProfile: { type: "RuntimeDefault" },
            },
            containers: [
                {
                    name: "dex",
                    image: input.image,
                    imagePullPolicy: "IfNotPresent",
                    command: ["/usr/local/bin/dex", "serve", DEX_CONFIG_PATH],
                    ports: [
                        { name: "http", containerPort: DEX_HTTP_PORT, protocol: "TCP" },
                        { name: "telemetry", containerPort: DEX_TELEMETRY_PORT, protocol: "TCP" },
                    ],
                    env: [
                        ...Object.values(CREDENTIALS).map(({ key, env }) => ({
                            name: env,
                            valueFrom: { secretKeyRef: { name: DEX_OBJECTS.credentialsSecret, key } },
                        })),
                        // The image's system roots stay (SSL_CERT_FILE's default); the directory adds the server's CA.
                        ...(input.githubCaPem ? [{ name: "SSL_CERT_DIR", value: GITHUB_CA.dir }] : []),
                    ],
                    readinessProbe: httpProbe("/healthz/ready", 5),
                    livenessProbe: httpProbe("/healthz/live", 10),
                    resources: {
                        requests: { cpu: "50m", memory: "64Mi" },
                        limits: { memory: "256Mi" },
                    },
                    securityContext: {
                        allowPrivilegeEscalation: false,
                        readOnlyRootFilesystem: true,
                        runAsNonRoot: true,
                        capabilities: { drop: ["ALL"] },
                        seccompProfile: { type: "RuntimeDefault" },
                    },
                    volumeMounts: [
                        { name: "config", mountPath: DEX_CONFIG_DIR, readOnly: true },
                        { name: "tmp", mountPath: "/tmp" },
                        ...(input.githubCaPem ? [{ name: "github-ca", mountPath: GITHUB_CA.dir, readOnly: true }] : []),
                    ],
                },
            ],
            volumes: [
                { name: "config", secret: { secretName: DEX_OBJECTS.configSecret } },
                { name: "tmp", emptyDir: { sizeLimit: "16Mi" } },
                ...(input.githubCaPem
                    ? [{ name: "github-ca", secret: { secretName: DEX_OBJECTS.configSecret, items: [{ key: GITHUB_CA.secretKey, path: GITHUB_CA.file }] } }]
                    : []),
            ],
        },
    };
}

function httpProbe(path: string, periodSeconds: number) {
    return { httpGet: { path, port: "telemetry" }, periodSeconds, timeoutSeconds: 3, failureThreshold: 3 };
}

/** One replica may be down with a single pod (so drains work); otherwise keep one up. */
export function dexDisruptionBudget(replicas: number): { minAvailable: number } | { maxUnavailable: number } {
    return replicas > 1 ? { minAvailable: 1 } : { maxUnavailable: 1 };
}

/** Dex stores its state in its CRDs' objects in its own namespace: the only rights it needs. */
export const dexStorageRules = [{ apiGroups: ["dex.coreos.com"], resources: ["*"], verbs: ["*"] }];

/**
 * Dex's storage kinds, as Dex itself would define them (storage/kubernetes/
 * types.go in Dex's module, plurals included: `signingkeies` and
 * `offlinesessionses` are Dex's own). The program creates them so that Dex's
 * ServiceAccount needs no right to create CRDs, which would let a compromised
 * Dex squat any future CRD name or add conversion webhooks the apiserver calls.
 */
const DEX_STORAGE_KINDS: [plural: string, singular: string, kind: string][] = [
    ["authcodes", "authcode", "AuthCode"],
    ["authrequests", "authrequest", "AuthRequest"],
    ["oauth2clients", "oauth2client", "OAuth2Client"],
    ["signingkeies", "signingkey", "SigningKey"],
    ["refreshtokens", "refreshtoken", "RefreshToken"],
    ["passwords", "password", "Password"],
    ["offlinesessionses", "offlinesessions", "OfflineSessions"],
    ["connectors", "connector", "Connector"],
    ["devicerequests", "devicerequest", "DeviceRequest"],
    ["devicetokens", "devicetoken", "DeviceToken"],
];
export const DEX_API_GROUP = "dex.coreos.com";

/** The CustomResourceDefinitions of Dex's storage (name and spec). */
export function dexCustomResourceDefinitions() {
    return DEX_STORAGE_KINDS.map(([plural, singular, kind]) => ({
        name: `${plural}.${DEX_API_GROUP}`,
        spec: {
            group: DEX_API_GROUP,
            scope: "Namespaced",
            names: { plural, singular, kind },
            versions: [{ name: "v1", served: true, storage: true, schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } } }],
        },
    }));
}

/** Who may talk to Dex: the namespace its traffic comes through, and the one that scrapes it, if any. */
export interface DexPeers {
    /** The namespace of the gateway's proxies or the ingress controller. */
    ingressNamespace: string;
    monitoringNamespace?: string;
    /** The GitHub Enterprise Server's port, when github:baseUrl names one other than 443. */
    githubPort?: number;
}

/** The port Dex reaches GitHub on: an Enterprise Server's `<host>[:port]`, or 443; undefined for github.com. */
export function githubPort(host: string | undefined): number | undefined {
    if (host === undefined) return undefined;
    return Number(new URL(`https://${host}`).port || 443);
}

/**
 * By peers, not only ports: Dex's plain-HTTP port only from the namespace the
 * TLS traffic comes through, its metrics only from monitoring, and out only to
 * the cluster DNS, the apiserver and GitHub (443, and an Enterprise Server's own port, githubPort).
 */
export function dexNetworkPolicySpec(peers: DexPeers) {
    const fromNamespace = (name: string) => [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": name } } }];
    return {
        podSelector: { matchLabels: dexLabels },
        policyTypes: ["Ingress", "Egress"],
        ingress: [
            { from: fromNamespace(peers.ingressNamespace), ports: [{ port: DEX_HTTP_PORT, protocol: "TCP" }] },
            ...(peers.monitoringNamespace ? [{ from: fromNamespace(peers.monitoringNamespace), ports: [{ port: DEX_TELEMETRY_PORT, protocol: "TCP" }] }] : []),
        ],
        egress: [
            {
                to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } }, podSelector: { matchLabels: { "k8s-app": "kube-dns" } } }],
                ports: [{ port: 53, protocol: "UDP" }, { port: 53, protocol: "TCP" }],
            },
            // 443 for GitHub's API and the apiserver's service IP, 6443 for the apiserver endpoints (host network: no selector reaches them).
            { ports: [...new Set([443, 6443, peers.githubPort ?? 443])].map((port) => ({ port, protocol: "TCP" })) },
        ],
    };
}

/**
 * Dex's device endpoints under this path, which the route refuses without the
 * device flow: Dex serves them whatever its grants say, and its
 * /device/callback turns any authorization code of a kubectl login (one
 * leaked from a browser's address bar) into tokens for whoever holds a device
 * code, with no PKCE and no approval.
 */
export const DEX_DEVICE_PATH = "/device";

/** The route or ingress that serves https://dex.<domain>; without `deviceFlow`, everything but Dex's device endpoints. */
export function dexExposureSpec(exposure: Exposure, host: string, serviceName: string, deviceFlow: boolean) {
    if (exposure.kind === "httproute") {
        return {
            apiVersion: "gateway.networking.k8s.io/v1",
            kind: "HTTPRoute" as const,
            spec: {
                parentRefs: [
                    {
                        name: exposure.gatewayName,
                        namespace: exposure.gatewayNamespace,
                        ...(exposure.sectionName ? { sectionName: exposure.sectionName } : {}),
                    },
                ],
                hostnames: [host],
                rules: [
                    { backendRefs: [{ name: serviceName, port: DEX_HTTP_PORT }] },
                    // The longest prefix wins; a rule with no backend answers 500.
                    ...(deviceFlow ? [] : [{ matches: [{ path: { type: "PathPrefix", value: DEX_DEVICE_PATH } }] }]),
                ],
            },
        };
    }
    return {
        apiVersion: "networking.k8s.io/v1",
        kind: "Ingress" as const,
        spec: {
            ingressClassName: exposure.className,
            ...(exposure.tlsSecretName ? { tls: [{ hosts: [host], secretName: exposure.tlsSecretName }] } : {}),
            rules: [
                {
                    host,
                    http: {
                        paths: [
                            { path: "/", pathType: "Prefix", backend: { service: { name: serviceName, port: { number: DEX_HTTP_PORT } } } },
                            // An Ingress cannot refuse a path: this one goes to a port the Service does not have, which controllers answer with 503.
                            ...(deviceFlow ? [] : [{ path: DEX_DEVICE_PATH, pathType: "Prefix", backend: { service: { name: serviceName, port: { name: "no-device-flow" } } } }]),
                        ],
                    },
                },
            ],
        },
    };
}
