// What Dex runs with: its config file and the pieces of its Kubernetes objects
// that carry a decision. The GitHub credentials never appear here: the config
// names them as $VARs that Dex expands from a Secret-backed environment, so the
// config itself can be rendered, hashed and shown in a preview.
import { createHash } from "node:crypto";
import type { Exposure, TokenLifetimes } from "../config/types";
import type { OidcContract } from "../contract/contract";

const DEX_IMAGE = "ghcr.io/dexidp/dex:v2.45.1-distroless";
export const DEX_NAMESPACE = "dex";
export const DEX_HTTP_PORT = 5556;
const DEX_TELEMETRY_PORT = 5558;
const DEX_CONFIG_DIR = "/etc/dex";
const DEX_CONFIG_PATH = `${DEX_CONFIG_DIR}/config.yaml`;
/** Object names inside the Dex namespace; the pod template refers to them by name. */
export const DEX_OBJECTS = { serviceAccount: "dex", configSecret: "dex-config", credentialsSecret: "dex-github", service: "dex" } as const;
/** Keys of the credentials Secret, and the variables the config names them by. */
export const CREDENTIALS = {
    githubClientId: { key: "client-id", env: "GITHUB_CLIENT_ID" },
    githubClientSecret: { key: "client-secret", env: "GITHUB_CLIENT_SECRET" },
    apiServerClientSecret: { key: "kube-apiserver-client-secret", env: "KUBE_APISERVER_CLIENT_SECRET" },
} as const;
/** The distroless image's non-root user. */
const DEX_UID = 1001;


export interface DexConfigInput {
    contract: OidcContract;
    githubOrg: string;
    teamSlugs: string[];
    tokenLifetimes: TokenLifetimes;
}

/** Dex's config.yaml content, as an object. */
export function dexConfig({ contract, githubOrg, teamSlugs, tokenLifetimes }: DexConfigInput): Record<string, unknown> {
    return {
        issuer: contract.issuerUrl,
        storage: { type: "kubernetes", config: { inCluster: true } },
        // TLS ends at the gateway or ingress; Dex itself serves plain HTTP in-cluster.
        web: { http: `0.0.0.0:${DEX_HTTP_PORT}` },
        telemetry: { http: `0.0.0.0:${DEX_TELEMETRY_PORT}` },
        oauth2: { skipApprovalScreen: true, responseTypes: ["code"] },
        expiry: {
            idTokens: tokenLifetimes.idToken,
            authRequests: "10m",
            // Dex's default refresh tokens never expire; bound both the idle time and the total lifetime.
            refreshTokens: {
                validIfNotUsedFor: tokenLifetimes.refreshTokenIdle,
                absoluteLifetime: tokenLifetimes.refreshTokenAbsolute,
                reuseInterval: "3s",
            },
        },
        connectors: [
            {
                type: "github",
                id: "github",
                name: "GitHub",
                config: {
                    clientID: `$${CREDENTIALS.githubClientId.env}`,
                    clientSecret: `$${CREDENTIALS.githubClientSecret.env}`,
                    redirectURI: dexCallbackUrl(contract),
                    orgs: [{ name: githubOrg, teams: teamSlugs }],
                    // Slugs are stable and URL-safe; names may change and contain spaces.
                    teamNameField: "slug",
                    useLoginAsID: false,
                },
            },
        ],
        staticClients: [
            {
                id: contract.clientId,
                name: "kubectl (kubelogin)",
                public: true,
                redirectURIs: contract.redirectUris,
            },
            {
                // Only names the apiserver's audience and lets kubectl's tokens carry
                // it. Confidential, with a secret nobody is given, so nobody logs in
                // as this client directly.
                id: contract.audience,
                name: "Kubernetes API server (audience only)",
                secretEnv: CREDENTIALS.apiServerClientSecret.env,
                redirectURIs: [],
                trustedPeers: [contract.clientId],
            },
        ],
        enablePasswordDB: false,
    };
}

export function dexCallbackUrl(contract: OidcContract): string {
    return `${contract.issuerUrl}/callback`;
}

/** The sha256 of a text, put on the pod template so that a change to it rolls the pods. */
export function checksum(text: string): string {
    return createHash("sha256").update(text).digest("hex");
}

/**
 * The audience-only client's secret, derived from the GitHub client secret so
 * it is stable across runs (previews stay idempotent) without another secret
 * to manage; it is never handed to anyone.
 */
export function apiServerClientSecret(githubClientSecret: string): string {
    return checksum(`platform-auth/kube-apiserver-client\n${githubClientSecret}`);
}

export const dexLabels = { "app.kubernetes.io/name": "dex", "app.kubernetes.io/part-of": "platform-auth" };

export interface DexPodInput<T> {
    configYaml: string;
    /** A digest of the GitHub credentials: env values from a Secret are only read when a pod starts. */
    credentialsChecksum: T;
}

/** The pod template: Pod Security "restricted", probes, and secrets only by reference. */
export function dexPodTemplate<T>(input: DexPodInput<T>) {
    return {
        metadata: {
            labels: dexLabels,
            annotations: {
                "platform-auth/config-sha256": checksum(input.configYaml),
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
                    image: DEX_IMAGE,
                    imagePullPolicy: "IfNotPresent",
                    command: ["/usr/local/bin/dex", "serve", DEX_CONFIG_PATH],
                    ports: [
                        { name: "http", containerPort: DEX_HTTP_PORT, protocol: "TCP" },
                        { name: "telemetry", containerPort: DEX_TELEMETRY_PORT, protocol: "TCP" },
                    ],
                    env: Object.values(CREDENTIALS).map(({ key, env }) => ({
                        name: env,
                        valueFrom: { secretKeyRef: { name: DEX_OBJECTS.credentialsSecret, key } },
                    })),
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
                    ],
                },
            ],
            volumes: [
                { name: "config", secret: { secretName: DEX_OBJECTS.configSecret } },
                { name: "tmp", emptyDir: { sizeLimit: "16Mi" } },
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

/** Dex stores its state in CRDs it creates at start-up, so it needs exactly this. */
export const dexStorageRules = {
    namespaced: [{ apiGroups: ["dex.coreos.com"], resources: ["*"], verbs: ["*"] }],
    cluster: [{ apiGroups: ["apiextensions.k8s.io"], resources: ["customresourcedefinitions"], verbs: ["list", "create"] }],
};

/** Ingress: the HTTP port from anywhere (gateway or ingress controller). Egress: DNS, the apiserver, GitHub. */
export function dexNetworkPolicySpec() {
    return {
        podSelector: { matchLabels: dexLabels },
        policyTypes: ["Ingress", "Egress"],
        ingress: [{ ports: [{ port: DEX_HTTP_PORT, protocol: "TCP" }, { port: DEX_TELEMETRY_PORT, protocol: "TCP" }] }],
        egress: [
            { ports: [{ port: 53, protocol: "UDP" }, { port: 53, protocol: "TCP" }] },
            // 443 for GitHub's API and the apiserver's service IP, 6443 for the apiserver endpoints.
            { ports: [{ port: 443, protocol: "TCP" }, { port: 6443, protocol: "TCP" }] },
        ],
    };
}

/** The route or ingress that serves https://dex.<domain>. */
export function dexExposureSpec(exposure: Exposure, host: string, serviceName: string) {
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
                rules: [{ backendRefs: [{ name: serviceName, port: DEX_HTTP_PORT }] }],
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
                        paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: serviceName, port: { number: DEX_HTTP_PORT } } } }],
                    },
                },
            ],
        },
    };
}
