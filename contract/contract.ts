// The OIDC contract: the one value that Dex, the apiserver, RBAC and kubeconfig
// all read. Every failure of this login path so far was drift between those
// parties (audience, issuer, claim, prefix or CA), so none of them is allowed
// to spell these values on its own.
import type { PlatformAuthConfig } from "../config/types";

export interface ClaimMapping {
    claim: string;
    prefix: string;
}

export interface OidcContract {
    issuerUrl: string;
    /** The public client kubelogin authenticates as. */
    clientId: string;
    /**
     * The audience the apiserver accepts. It is a separate Dex client that
     * trusts `clientId`, so tokens minted for any other Dex client (a dashboard,
     * say) are never accepted by the cluster.
     */
    audience: string;
    /** Scopes kubelogin must request for the apiserver to accept the token. */
    scopes: string[];
    redirectUris: string[];
    username: ClaimMapping;
    groups: ClaimMapping;
    issuerCaPem?: string;
}

const KUBECTL_CLIENT_ID = "kubectl";
const APISERVER_AUDIENCE = "kube-apiserver";
/** kubelogin's two default callback ports: it falls back to 18000 when 8000 is busy. */
const KUBELOGIN_REDIRECT_URIS = ["http://localhost:8000", "http://localhost:18000"];
const OIDC_PREFIX = "oidc:";

export function oidcContract(config: Pick<PlatformAuthConfig, "domain" | "issuerCaPem">): OidcContract {
    return {
        issuerUrl: `https://dex.${config.domain}`,
        clientId: KUBECTL_CLIENT_ID,
        audience: APISERVER_AUDIENCE,
        scopes: [
            "openid",
            "email",
            "profile",
            "groups",
            // Dex issues a refresh token only for this scope; without it every
            // expired ID token means a new browser login.
            "offline_access",
            // Dex puts only the requesting client in `aud` unless the request names
            // another client here (and that client lists the requester in trustedPeers).
            `audience:server:client_id:${APISERVER_AUDIENCE}`,
        ],
        redirectUris: KUBELOGIN_REDIRECT_URIS,
        username: { claim: "email", prefix: OIDC_PREFIX },
        groups: { claim: "groups", prefix: OIDC_PREFIX },
        issuerCaPem: config.issuerCaPem,
    };
}

/** The Kubernetes user name an email maps to. */
export function oidcUser(contract: OidcContract, email: string): string {
    return `${contract.username.prefix}${email}`;
}

/** The Kubernetes group name a Dex `<org>:<team>` group maps to. */
export function oidcGroup(contract: OidcContract, group: string): string {
    return `${contract.groups.prefix}${group}`;
}
