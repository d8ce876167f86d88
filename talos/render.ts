// The kube-apiserver's side of the OIDC contract, as Talos machine-config
// patches. Talos up to 1.13 takes `oidc-*` flags in `.cluster.apiServer`; from
// 1.14 the apiserver is configured by documents, and the structured
// AuthenticationConfiguration (GA in Kubernetes 1.34) replaces the flags. The
// two are never mixed: the apiserver refuses `--oidc-*` together with
// `--authentication-config`, and Talos 1.14 refuses `.cluster.apiServer`
// together with the new documents.
import { createHash } from "node:crypto";
import { stringify } from "yaml";
import type { TalosVersion } from "../config/types";
import type { OidcContract } from "../contract/contract";

/** Where Talos ≤1.13 writes the issuer CA on the host (only /var is writable) and where the apiserver sees it. */
const CA_HOST_DIR = "/var/etc/kubernetes/oidc";
const CA_MOUNT_DIR = "/etc/kubernetes/oidc";
const FIRST_TALOS_MINOR_WITH_AUTH_DOCUMENT = 14;

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

/** A part of the patch that Talos merges by appending to a list, so it must be applied only once. */
export interface AppendOnce {
    /** Names the part in the script's environment: TALOS_PATCH_<name>. */
    name: string;
    /** An extended regex that matches a line of the live machine config once the part is there. */
    presentWhen: string;
    /** Talos applies this part only on reboot (a `.machine.files` change). */
    needsReboot: boolean;
    document: Record<string, unknown>;
}

/**
 * How to apply the patch so that applying it again changes nothing: the
 * settings of an earlier apply are reverted first, and list entries are added
 * only when the node does not have them yet.
 */
export interface TalosApplyPlan {
    always: Record<string, unknown>[];
    appendOnce: AppendOnce[];
    /** Undoes `always`; what `appendOnce` added stays on the node. */
    revert: Record<string, unknown>[];
    /** An extended regex that matches a line of the live machine config while `always` is applied. */
    presentWhen: string;
}

export function talosApplyPlan(contract: OidcContract, version: TalosVersion): TalosApplyPlan {
    if (talosPatchMode(version) === "authenticationConfig") {
        return {
            always: [{ apiVersion: "v1alpha1", kind: "KubeAuthenticationConfig", configuration: authenticationConfiguration(contract) }],
            appendOnce: [],
            revert: [{ apiVersion: "v1alpha1", kind: "KubeAuthenticationConfig", $patch: "delete" }],
            presentWhen: "^[[:space:]-]*kind: KubeAuthenticationConfig$",
        };
    }
    const args = oidcApiServerArgs(contract);
    const caFile = contract.issuerCaPem && `${CA_HOST_DIR}/${caFileName(contract.issuerCaPem)}`;
    return {
        always: [{ cluster: { apiServer: { extraArgs: args } } }],
        appendOnce: caFile
            ? [
                  {
                      name: "CA_FILE",
                      presentWhen: `^[[:space:]-]*path: ${caFile}$`,
                      needsReboot: true,
                      document: { machine: { files: [{ op: "create", path: caFile, permissions: 0o644, content: contract.issuerCaPem }] } },
                  },
                  {
                      name: "CA_VOLUME",
                      presentWhen: `^[[:space:]-]*hostPath: ${CA_HOST_DIR}$`,
                      needsReboot: false,
                      document: { cluster: { apiServer: { extraVolumes: [{ hostPath: CA_HOST_DIR, mountPath: CA_MOUNT_DIR, readonly: true }] } } },
                  },
              ]
            : [],
        // A strategic delete, not JSON patch: Talos refuses JSON patches on
        // multi-document configs. Removing the flags turns OIDC off; the CA file
        // and its mount stay, since removing a file entry needs a reboot and a
        // trusted CA file alone grants nothing.
        revert: [{ cluster: { apiServer: { extraArgs: Object.fromEntries(Object.keys(args).map((flag) => [flag, { $patch: "delete" }])) } } }],
        presentWhen: "^[[:space:]]*oidc-issuer-url: ",
    };
}

/** The whole patch as one set of documents, for people applying it by hand (the `talosPatch` output). */
export function talosPatchDocuments(contract: OidcContract, version: TalosVersion): Record<string, unknown>[] {
    const plan = talosApplyPlan(contract, version);
    return plan.appendOnce.length === 0 ? plan.always : [mergeDocuments([...plan.always, ...plan.appendOnce.map((part) => part.document)])];
}

/** Deep-merges plain objects (the patch parts never collide on a list). */
function mergeDocuments(documents: Record<string, unknown>[]): Record<string, unknown> {
    const merge = (into: Record<string, unknown>, from: Record<string, unknown>): Record<string, unknown> => {
        for (const [key, value] of Object.entries(from)) {
            const existing = into[key];
            into[key] = isPlainObject(existing) && isPlainObject(value) ? merge({ ...existing }, value) : value;
        }
        return into;
    };
    return documents.reduce((merged, doc) => merge(merged, doc), {});
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Renders documents as one multi-document YAML stream. */
export function toYamlStream(documents: unknown[]): string {
    return documents.map((doc) => stringify(doc, { lineWidth: 0 })).join("---\n");
}

/** The environment both scripts read: the node list, the revert patch, then one patch file per part. */
export function talosApplyEnvironment(plan: TalosApplyPlan, nodes: string[]): Record<string, string> {
    return {
        TALOS_NODES: nodes.join(" "),
        TALOS_PATCH: toYamlStream(plan.always),
        TALOS_REVERT_PATCH: toYamlStream(plan.revert),
        ...Object.fromEntries(plan.appendOnce.map((part) => [`TALOS_PATCH_${part.name}`, toYamlStream([part.document])])),
    };
}

/**
 * Applies the plan to each node in turn with talosctl. A node that already has
 * the settings is reverted first (Talos appends lists on merge, so re-applying
 * would duplicate them), list entries are added only when missing, and each
 * node is healthy again before the next is touched: a new `.machine.files`
 * entry needs a reboot, and rebooting every control-plane node at once would
 * lose etcd quorum. Such a patch is staged, then the node is rebooted;
 * `talosctl reboot` waits until the node is back.
 */
export function talosctlApplyScript(plan: TalosApplyPlan): string {
    return [
        ...SCRIPT_PROLOGUE,
        ...plan.appendOnce.map((part) => `printf '%s' "$TALOS_PATCH_${part.name}" >"$dir/${part.name}.yaml"`),
        "for node in $TALOS_NODES; do",
        '  live=$(talosctl --nodes "$node" get machineconfig -o yaml)',
        `  if has '${plan.presentWhen}'; then`,
        '    talosctl patch machineconfig --nodes "$node" --mode auto --patch "@$dir/revert.yaml"',
        "  fi",
        '  set -- --patch "@$dir/always.yaml"',
        "  mode=auto",
        ...plan.appendOnce.map(
            (part) => `  has '${part.presentWhen}' || { set -- "$@" --patch "@$dir/${part.name}.yaml";${part.needsReboot ? " mode=staged;" : ""} }`,
        ),
        '  talosctl patch machineconfig --nodes "$node" --mode "$mode" "$@"',
        '  if [ "$mode" = staged ]; then talosctl --nodes "$node" reboot; fi',
        ...WAIT_FOR_HEALTH,
    ].join("\n");
}

/** Undoes the plan on each node that has it, in turn (on destroy, and before a changed plan is applied). */
export function talosctlRevertScript(plan: TalosApplyPlan): string {
    return [
        ...SCRIPT_PROLOGUE,
        "for node in $TALOS_NODES; do",
        '  live=$(talosctl --nodes "$node" get machineconfig -o yaml)',
        // Reverting twice would fail: Talos refuses to delete what is not there.
        `  has '${plan.presentWhen}' || continue`,
        '  talosctl patch machineconfig --nodes "$node" --mode auto --patch "@$dir/revert.yaml"',
        ...WAIT_FOR_HEALTH,
    ].join("\n");
}

const SCRIPT_PROLOGUE = [
    "set -eu",
    "dir=$(mktemp -d)",
    "trap 'rm -rf \"$dir\"' EXIT",
    'printf \'%s\' "$TALOS_PATCH" >"$dir/always.yaml"',
    'printf \'%s\' "$TALOS_REVERT_PATCH" >"$dir/revert.yaml"',
    // `has REGEX`: whether the node's live config (in $live) has a matching line.
    "has() { printf '%s\\n' \"$live\" | grep -Eq \"$1\"; }",
];

const WAIT_FOR_HEALTH = ['  talosctl --nodes "$node" health --wait-timeout 10m', "done"];
