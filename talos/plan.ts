// How the patch is applied so that applying it again changes nothing. Talos
// merges maps (the 1.13 flags) and replace-merged documents (1.14's
// KubeAuthenticationConfig) in place, so those parts are applied every time;
// it appends list items (a `.machine.files` entry, an `extraVolumes` entry),
// so those are added only when the node lacks them. Every setting also has a
// revert part, so a stale one (a flag the new plan no longer sets) is taken
// off in the same patch that puts the new ones on.
import type { TalosVersion } from "../config/types";
import type { OidcContract } from "../contract/contract";
import {
    caFileDocument,
    caVolumeDocument,
    caHostPath,
    CA_HOST_DIR,
    authenticationConfiguration,
    kubeAuthenticationConfig,
    oidcApiServerArgs,
    oidcFlagNames,
    staticHostDocument,
    talosDefaultAuthentication,
    talosPatchMode,
    type TalosPatchMode,
} from "./render";

export interface PlanPart {
    /** Names the part's patch file in the scripts (environment TALOS_PART_<name>). */
    name: string;
    /** An extended regex that matches a line of the node's live machine config while the part is there. */
    presentWhen: string;
    document: Record<string, unknown>;
}

/** A part that Talos merges by appending to a list, so it is applied only when absent. */
export interface AppendOnce extends PlanPart {
    /** Talos applies this part only on reboot (a `.machine.files` change). */
    needsReboot: boolean;
}

export interface TalosApplyPlan {
    mode: TalosPatchMode;
    /** Merged in place by Talos: applied every time. */
    always: Record<string, unknown>[];
    /** Extended regexes that each match a line of the live config while `always` is applied in full. */
    inSyncWhen: string[];
    appendOnce: AppendOnce[];
    /** Each takes one setting this mode may have made off again, where present. */
    revert: PlanPart[];
    /** The other mode's revert: what the 1.13 → 1.14 migration takes off (empty up to 1.13). */
    migrateFrom: PlanPart[];
    /** The issuer's host name: the scripts own the StaticHostConfig documents that map only it. */
    issuerHost: string;
    /** The issuer's /etc/hosts entry, when the stack gives its address. */
    hostEntry?: { address: string; document: Record<string, unknown> };
}

export function talosApplyPlan(contract: OidcContract, version: TalosVersion, issuerAddress?: string): TalosApplyPlan {
    const issuerHost = new URL(contract.issuerUrl).hostname;
    const common = {
        issuerHost,
        hostEntry: issuerAddress === undefined ? undefined : { address: issuerAddress, document: staticHostDocument(issuerAddress, issuerHost) },
    };
    if (talosPatchMode(version) === "authenticationConfig") {
        return {
            ...common,
            mode: "authenticationConfig",
            always: [kubeAuthenticationConfig(authenticationConfiguration(contract))],
            // The issuer and its audience; the rest of the document is checked by Talos when applied.
            inSyncWhen: [line("url", contract.issuerUrl), `^[[:space:]]*- ${escape(contract.audience)}$`],
            appendOnce: [],
            // Not a delete: Talos generates this document, and the default carries the anonymous rule.
            revert: [{ name: "AUTHENTICATION", presentWhen: "^[[:space:]]*jwt:$", document: talosDefaultAuthentication() }],
            migrateFrom: flagReverts(contract),
        };
    }
    const caPem = contract.issuerCaPem;
    return {
        ...common,
        mode: "extraArgs",
        always: [{ cluster: { apiServer: { extraArgs: oidcApiServerArgs(contract) } } }],
        // Every flag with its value: a node with a stale CA path or a missing prefix is out of sync too.
        inSyncWhen: Object.entries(oidcApiServerArgs(contract)).map(([flag, value]) => line(flag, value)),
        // The CA file and its mount are never reverted: removing a file entry needs a
        // reboot, and a trusted CA file alone grants nothing.
        appendOnce: caPem
            ? [
                  { name: "CA_FILE", presentWhen: line("path", caHostPath(caPem)), needsReboot: true, document: caFileDocument(caPem) },
                  { name: "CA_VOLUME", presentWhen: line("hostPath", CA_HOST_DIR), needsReboot: false, document: caVolumeDocument() },
              ]
            : [],
        revert: flagReverts(contract),
        migrateFrom: [],
    };
}

/**
 * One strategic delete per flag (not JSON patch: Talos refuses JSON patches on
 * multi-document configs), each applied only where the flag is, because Talos
 * refuses to delete what is not there.
 */
function flagReverts(contract: OidcContract): PlanPart[] {
    return oidcFlagNames(contract).map((flag) => ({
        name: flag.toUpperCase().replace(/-/g, "_"),
        presentWhen: `^[[:space:]]*${flag}: `,
        document: { cluster: { apiServer: { extraArgs: { [flag]: { $patch: "delete" } } } } },
    }));
}

/**
 * An extended regex for a line `key: value` of the live config (a list item's
 * included). YAML may quote the value (`'oidc:'`); `.?` allows that without a
 * quote character, which the scripts' single-quoted arguments could not hold.
 */
function line(key: string, value: string): string {
    return `^[[:space:]-]*${key}: .?${escape(value)}.?$`;
}

function escape(text: string): string {
    return text.replace(/[.[\]()*+?{}|^$\\]/g, "\\$&");
}

/** The whole patch as one set of documents, for people applying it by hand (the `talosPatch` output). */
export function talosPatchDocuments(contract: OidcContract, version: TalosVersion, issuerAddress?: string): Record<string, unknown>[] {
    const plan = talosApplyPlan(contract, version, issuerAddress);
    const host = plan.hostEntry ? [plan.hostEntry.document] : [];
    const parts = [...plan.always, ...plan.appendOnce.map((part) => part.document)];
    return [mergeDocuments(parts), ...host];
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
