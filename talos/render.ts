// The kube-apiserver's side of the OIDC contract, as Talos machine-config
// patches. Talos up to 1.13 takes `oidc-*` flags in `.cluster.apiServer`; from
// 1.14 the apiserver is configured by documents, and the structured
// AuthenticationConfiguration (GA in Kubernetes 1.34) replaces the flags. The
// two are never mixed: the apiserver refuses `--oidc-*` together with
// `--authentication-config`, and Talos 1.14 refuses `.cluster.apiServer`
// together with the new documents.
import { createHash } from "node:crypto";
import { stringify } from "yaml";
import { FIRST_TALOS_MINOR_WITH_AUTH_DOCUMENT, type TalosVersion } from "../config/types";
import type { ClaimMapping, OidcContract } from "../contract/contract";

/** Where Talos ≤1.13 writes the issuer CA on the host (only /var is writable) and where the apiserver sees it. */
export const CA_HOST_DIR = "/var/etc/kubernetes/oidc";
const CA_MOUNT_DIR = "/etc/kubernetes/oidc";

export type TalosPatchMode = "extraArgs" | "authenticationConfig";

export function talosPatchMode(version: TalosVersion): TalosPatchMode {
    return version.minor >= FIRST_TALOS_MINOR_WITH_AUTH_DOCUMENT ? "authenticationConfig" : "extraArgs";
}

/**
 * The CA's file name carries its digest: Talos cannot update a `machine.files`
 * entry in place, so a rotated CA lands in a new file and the flag follows it.
 */
export function caFileName(caPem: string): string {
    return `issuer-ca-${createHash("sha256").update(caPem).digest("hex").slice(0, 12)}.pem`;
}

/** The apiserver flags for Talos ≤1.13, exactly as they land on the command line. */
export function oidcApiServerArgs(contract: OidcContract): Record<string, string> {
    return {
        "oidc-issuer-url": contract.issuerUrl,
        "oidc-client-id": contract.audience,
        "oidc-username-claim": contract.username.claim,
        "oidc-username-prefix": contract.username.prefix,
        "oidc-groups-claim": contract.groups.claim,
        "oidc-groups-prefix": contract.groups.prefix,
        ...(contract.issuerCaPem ? { "oidc-ca-file": `${CA_MOUNT_DIR}/${caFileName(contract.issuerCaPem)}` } : {}),
    };
}

/** Every `oidc-*` flag this program can set, the CA's included: what reverting may take off. */
export function oidcFlagNames(contract: OidcContract): string[] {
    return Object.keys(oidcApiServerArgs({ ...contract, issuerCaPem: contract.issuerCaPem ?? "any CA" }));
}

/** The host path of the CA file on a Talos ≤1.13 node. */
export function caHostPath(caPem: string): string {
    return `${CA_HOST_DIR}/${caFileName(caPem)}`;
}

/** The `.machine.files` entry that writes the issuer CA onto a Talos ≤1.13 node. */
export function caFileEntry(caPem: string): Record<string, unknown> {
    return { op: "create", path: caHostPath(caPem), permissions: 0o644, content: caPem };
}

/** The read-only mount of the CA's directory into the apiserver's pod (Talos ≤1.13), an `extraVolumes` entry. */
export function caVolumeEntry(): Record<string, unknown> {
    return { hostPath: CA_HOST_DIR, mountPath: CA_MOUNT_DIR, readonly: true };
}

/**
 * Talos 1.14's default anonymous rule, spelled exactly as Talos generates it:
 * anonymous requests reach only the health paths. `configuration` merges by
 * replace, so a patch that leaves this out drops it, and anonymous access is
 * then no longer limited to these paths.
 */
export const TALOS_ANONYMOUS_HEALTH_PATHS = { conditions: [{ path: "/livez" }, { path: "/readyz" }, { path: "/healthz" }], enabled: true };

/** A KubeAuthenticationConfig document (Talos ≥1.14); Talos replaces `configuration` whole on merge. */
export function kubeAuthenticationConfig(configuration: Record<string, unknown>): Record<string, unknown> {
    return { apiVersion: "v1alpha1", kind: "KubeAuthenticationConfig", configuration };
}

/** Talos 1.14's own authentication configuration: its anonymous rule and no issuer, what a node without the document has. */
export function talosDefaultAuthentication(): Record<string, unknown> {
    return { anonymous: TALOS_ANONYMOUS_HEALTH_PATHS, jwt: [] };
}

/**
 * The /etc/hosts entry (a StaticHostConfig document, in both 1.13 and 1.14)
 * that makes the issuer's name resolve on the node: the apiserver runs on the
 * host network, so it resolves names the way the node does.
 */
export function staticHostDocument(address: string, host: string): Record<string, unknown> {
    return { apiVersion: "v1alpha1", kind: "StaticHostConfig", name: address, hostnames: [host] };
}

/**
 * The user name as a CEL expression: the claim lowercased, then prefixed.
 * GitHub keeps an email's case as its owner typed it, so without this
 * `Ned@devantler.tech` would never match a binding for `ned@devantler.tech`.
 * The flags (Talos ≤1.13) cannot transform a claim.
 */
export function lowercasedUsernameExpression(mapping: ClaimMapping): string {
    return `${JSON.stringify(mapping.prefix)} + claims.${mapping.claim}.lowerAscii()`;
}

/**
 * The claim form refuses a token whose email_verified is false; an expression
 * over claims.email must say so itself (the apiserver refuses it otherwise).
 */
const EMAIL_VERIFIED_RULE = { expression: "claims.?email_verified.orValue(true) == true", message: "the email is not verified" };

/** The AuthenticationConfiguration the apiserver reads with --authentication-config. */
export function authenticationConfiguration(contract: OidcContract) {
    return {
        apiVersion: "apiserver.config.k8s.io/v1",
        kind: "AuthenticationConfiguration",
        anonymous: TALOS_ANONYMOUS_HEALTH_PATHS,
        jwt: [
            {
                issuer: {
                    url: contract.issuerUrl,
                    audiences: [contract.audience],
                    ...(contract.issuerCaPem ? { certificateAuthority: contract.issuerCaPem } : {}),
                },
                claimValidationRules: [EMAIL_VERIFIED_RULE],
                claimMappings: {
                    username: { expression: lowercasedUsernameExpression(contract.username) },
                    groups: { claim: contract.groups.claim, prefix: contract.groups.prefix },
                },
            },
        ],
    };
}

/** Renders documents as one multi-document YAML stream. */
export function toYamlStream(documents: unknown[]): string {
    return documents.map((doc) => stringify(doc, { lineWidth: 0 })).join("---\n");
}
