// The kube-apiserver's side of the OIDC contract, as Talos machine-config
// patches. Talos up to 1.13 takes `oidc-*` flags in `.cluster.apiServer`; from
// 1.14 the apiserver is configured by documents, and the structured
// AuthenticationConfiguration (GA in Kubernetes 1.34) replaces the flags. The
// two are never mixed: the apiserver refuses `--oidc-*` together with
// `--authentication-config`, and Talos 1.14 refuses `.cluster.apiServer`
// together with the new documents.
import { stringify } from "yaml";
import { FIRST_TALOS_MINOR_WITH_AUTH_DOCUMENT, type TalosVersion } from "../components/config";
import type { OidcContract } from "./contract";

/** Where Talos ≤1.13 writes the issuer CA on the host (only /var is writable) and where the apiserver sees it. */
export const CA_HOST_DIR = "/var/etc/kubernetes/oidc";
export const CA_MOUNT_DIR = "/etc/kubernetes/oidc";
export const CA_FILE_NAME = "issuer-ca.pem";

export type TalosPatchMode = "extraArgs" | "authenticationConfig";

export function talosPatchMode(version: TalosVersion): TalosPatchMode {
    return version.minor >= FIRST_TALOS_MINOR_WITH_AUTH_DOCUMENT ? "authenticationConfig" : "extraArgs";
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
        ...(contract.issuerCaPem ? { "oidc-ca-file": `${CA_MOUNT_DIR}/${CA_FILE_NAME}` } : {}),
    };
}

/** The AuthenticationConfiguration the apiserver reads with --authentication-config. */
export function authenticationConfiguration(contract: OidcContract) {
    return {
        apiVersion: "apiserver.config.k8s.io/v1",
        kind: "AuthenticationConfiguration",
        jwt: [
            {
                issuer: {
                    url: contract.issuerUrl,
                    audiences: [contract.audience],
                    ...(contract.issuerCaPem ? { certificateAuthority: contract.issuerCaPem } : {}),
                },
                claimMappings: {
                    username: { claim: contract.username.claim, prefix: contract.username.prefix },
                    groups: { claim: contract.groups.claim, prefix: contract.groups.prefix },
                },
            },
        ],
    };
}

/** The patch documents for one Talos version, as objects. */
export function talosPatchDocuments(contract: OidcContract, version: TalosVersion): Record<string, unknown>[] {
    if (talosPatchMode(version) === "authenticationConfig") {
        return [{ apiVersion: "v1alpha1", kind: "KubeAuthenticationConfig", configuration: authenticationConfiguration(contract) }];
    }
    const caFile = contract.issuerCaPem
        ? {
              machine: {
                  files: [{ op: "create", path: `${CA_HOST_DIR}/${CA_FILE_NAME}`, permissions: 0o644, content: contract.issuerCaPem }],
              },
          }
        : {};
    const caVolume = contract.issuerCaPem ? { extraVolumes: [{ hostPath: CA_HOST_DIR, mountPath: CA_MOUNT_DIR, readonly: true }] } : {};
    return [{ ...caFile, cluster: { apiServer: { extraArgs: oidcApiServerArgs(contract), ...caVolume } } }];
}

/**
 * Undoes the patch on `pulumi destroy`. The 1.14 document is deleted whole; for
 * ≤1.13 the `oidc-*` flags are removed, which is what turns OIDC off. The CA
 * file and its mount stay: removing list entries by patch is not reliable, and
 * a trusted CA file alone grants nothing.
 */
export function talosRevertDocuments(contract: OidcContract, version: TalosVersion): unknown[] {
    if (talosPatchMode(version) === "authenticationConfig") {
        return [{ apiVersion: "v1alpha1", kind: "KubeAuthenticationConfig", $patch: "delete" }];
    }
    return [Object.keys(oidcApiServerArgs(contract)).map((flag) => ({ op: "remove", path: `/cluster/apiServer/extraArgs/${flag}` }))];
}

/** Renders documents as one multi-document YAML stream. */
export function toYamlStream(documents: unknown[]): string {
    return documents.map((doc) => stringify(doc, { lineWidth: 0 })).join("---\n");
}

/**
 * The shell script that applies one patch to every node, one node at a time,
 * with talosctl. The patch and node list arrive through the environment so the
 * script itself never changes and never needs quoting.
 */
export function talosctlPatchScript(patchEnv: string): string {
    return [
        "set -eu",
        'patch_file=$(mktemp)',
        'trap \'rm -f "$patch_file"\' EXIT',
        `printf '%s' "$${patchEnv}" >"$patch_file"`,
        'for node in $TALOS_NODES; do',
        '  talosctl patch machineconfig --nodes "$node" --mode auto --patch "@$patch_file"',
        "done",
    ].join("\n");
}
