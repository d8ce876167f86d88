// Dex's config file. The GitHub credentials never appear in it: it names them
// as $VARs that Dex expands from a Secret-backed environment, so the config
// itself can be rendered, hashed and shown in a preview.
import { createHash } from "node:crypto";
import { stringify } from "yaml";
import type { TokenLifetimes } from "../config/types";
import type { OidcContract } from "../contract/contract";

export const DEX_HTTP_PORT = 5556;
export const DEX_TELEMETRY_PORT = 5558;
/** Keys of the credentials Secret, and the variables the config names them by. */
export const CREDENTIALS = {
    githubClientId: { key: "client-id", env: "GITHUB_CLIENT_ID" },
    githubClientSecret: { key: "client-secret", env: "GITHUB_CLIENT_SECRET" },
    apiServerClientSecret: { key: "kube-apiserver-client-secret", env: "KUBE_APISERVER_CLIENT_SECRET" },
} as const;

export interface DexConfigInput {
    contract: OidcContract;
    githubOrg: string;
    teamSlugs: string[];
    tokenLifetimes: TokenLifetimes;
    /** Otherwise the token carries the public profile email, which its owner may change to anything. */
    preferredEmailDomain?: string;
    /** A GitHub Enterprise Server: its `<host>[:port]`, and whether Dex trusts it through the mounted GITHUB_CA. */
    githubServer?: { host: string; privateCa: boolean };
    /** kubelogin's device flow, and with it Dex's approval screen for every login (DEVICE_FLOW_WHY). */
    deviceFlow: boolean;
}

/**
 * A GitHub Enterprise Server's private CA: a key of the config Secret,
 * mounted on its own as a directory Dex's TLS also reads (SSL_CERT_DIR). The
 * connector's `rootCA` covers the login, but its refresh calls use Go's
 * default client, which only knows the system roots; without the directory,
 * every silent refresh would fail.
 */
export const GITHUB_CA = { secretKey: "github-ca.pem", dir: "/etc/github-ca", file: "ca.pem" } as const;

/**
 * Where Dex sends the device flow's authorization code (kubelogin's
 * --grant-type=device-code): Dex's own page, named by this relative path, and
 * only accepted for a client that lists it once it lists any redirect URI.
 */
const DEX_DEVICE_CALLBACK = "/device/callback";
/** How Dex names kubectl's client, on its approval page among others. */
export const KUBECTL_CLIENT_NAME = "kubectl (kubelogin)";

const DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";
/**
 * The grants kubectl's logins always need: the browser flow and silent
 * refresh (dexConfig adds DEVICE_CODE_GRANT with deviceFlow). Dex's default
 * adds implicit, password, device code and token exchange.
 */
const GRANT_TYPES = ["authorization_code", "refresh_token"];

/**
 * Why the device flow comes with Dex's approval screen, as preview says it.
 * Anyone who reaches Dex can start a device request, and its link fills the
 * code in for whoever opens it; Dex's only switch for the approval screen is
 * global (oauth2.skipApprovalScreen).
 */
export const DEVICE_FLOW_WHY =
    "deviceFlow is on: Dex shows its approval screen (naming the client) at every login, browser logins included. Anyone who can reach Dex can start a device request and send its link to a team member; without the screen, one click while signed in to GitHub would hand that person's tokens to them, and Dex's switch for the screen is global.";

/** Dex's config.yaml content, as an object. */
export function dexConfig({ contract, githubOrg, teamSlugs, tokenLifetimes, preferredEmailDomain, githubServer, deviceFlow }: DexConfigInput): Record<string, unknown> {
    return {
        issuer: contract.issuerUrl,
        // The program creates Dex's CRDs (objects.ts), so Dex only checks for them and needs no cluster-scoped write.
        storage: { type: "kubernetes", config: { inCluster: true, crdHandling: "check" } },
        // TLS ends at the gateway or ingress; Dex itself serves plain HTTP in-cluster.
        web: { http: `0.0.0.0:${DEX_HTTP_PORT}` },
        telemetry: { http: `0.0.0.0:${DEX_TELEMETRY_PORT}` },
        // Without the device flow, Dex refuses its grant, and its /auth refuses the device callback (not a listed redirect URI).
        oauth2: { skipApprovalScreen: !deviceFlow, responseTypes: ["code"], grantTypes: deviceFlow ? [...GRANT_TYPES, DEVICE_CODE_GRANT] : GRANT_TYPES },
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
                    ...(preferredEmailDomain ? { preferredEmailDomain } : {}),
                    // One GitHub for the teams the provider manages and the logins Dex checks.
                    ...(githubServer ? { hostName: githubServer.host } : {}),
                    ...(githubServer?.privateCa ? { rootCA: `${GITHUB_CA.dir}/${GITHUB_CA.file}` } : {}),
                },
            },
        ],
        staticClients: [
            {
                id: contract.clientId,
                name: KUBECTL_CLIENT_NAME,
                public: true,
                redirectURIs: [...contract.redirectUris, ...(deviceFlow ? [DEX_DEVICE_CALLBACK] : [])],
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

/**
 * The config file's text. Dex reads it as YAML 1.1 (ghodss/yaml over go-yaml
 * v2), where an unquoted on, yes, n, 0b1 or 1_000 is a boolean or a number,
 * and go-yaml tries Go's own number syntax besides (0o12, 0x_1f): every
 * string is written in double quotes, so a team slug "on" stays a string.
 */
export function dexConfigYaml(config: Record<string, unknown>): string {
    return stringify(config, { lineWidth: 0, version: "1.1", defaultStringType: "QUOTE_DOUBLE", defaultKeyType: "PLAIN" });
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
