// How the program's settings meet a node's live machine config. A node is
// shared: other issuers in its KubeAuthenticationConfig, an operator's names
// in a StaticHostConfig, flags from a manual setup. Talos merges the 1.14
// document by replace and StaticHostConfig names by append, so no fixed patch
// can add ours and keep theirs: each patch here is composed from what the node
// holds now, and changes only what this program owns.
//
// Node runs talos/agent.ts (which imports this) directly, by type stripping,
// on the machine that runs `pulumi up`: so this file imports nothing of the
// program but `yaml`, and the program hands it what it owns as JSON.
import { parseAllDocuments, stringify } from "yaml";

type Doc = Record<string, unknown>;

/**
 * How the agent's read-only checks (run as invokes) report a refusal: on
 * stdout, exiting 0, so that the program can end the run with the message
 * alone rather than as a failed invoke with a stack trace.
 */
export const REFUSAL = "talos: refused: ";
/** How inspect reports a node that lacks any of the program's settings: `<node> (<changes>)`. */
export const DIFFERS = "talos: differs: ";

/** What this program owns on a node, rendered by the program (talos/plan.ts) and read here. */
export interface OwnedSettings {
    mode: "authenticationConfig" | "extraArgs";
    issuerUrl: string;
    audience: string;
    /** Talos ≥1.14: the program's whole entry in the KubeAuthenticationConfig `jwt` list. */
    jwt?: Doc;
    /** Talos ≥1.14: Talos's own configuration, for a node whose config has no such document. */
    defaultAuthentication?: Doc;
    /** Talos ≤1.13: the apiserver flags, by name without the dashes. */
    flags?: Record<string, string>;
    /** Every flag name the program may have set: what a revert takes off (≤1.13). */
    ownFlagNames: string[];
    /** Talos ≤1.13: the `.machine.files` entry of the issuer's CA and the apiserver's mount of its directory. */
    caFile?: Doc;
    caVolume?: Doc;
    issuerHost: string;
    /** The address the issuer's host maps to in the node's StaticHostConfig, when the stack gives one. */
    issuerAddress?: string;
    migrationConfirmed: boolean;
    /** How to confirm the 1.13 → 1.14 migration, for the refusal. */
    migrationHint: string;
    /** What the last apply owned, when it differs (a changed domain or issuerAddress): the agent takes it off too. */
    former?: Ownership;
}

/** The parts of a node's config that name the program's issuer: what an apply records for the next one. */
export interface Ownership {
    issuerUrl: string;
    issuerHost: string;
    issuerAddress?: string;
}

export function ownership(owned: OwnedSettings): Ownership {
    return { issuerUrl: owned.issuerUrl, issuerHost: owned.issuerHost, issuerAddress: owned.issuerAddress };
}

/** One node's change: patch files (each a list of documents) for one `talosctl patch`, in order. */
export interface NodeChange {
    patches: Doc[][];
    /** What the patches change, for the log and the drift check. */
    changes: string[];
    /** What the node holds that is not the program's and stays as it is. */
    kept: string[];
    /** What is not the program's and goes: `oidc-*` flags the stack does not set. */
    removed: string[];
    /** The apiserver's settings change, so it restarts (or reloads) with them. */
    restartsApiServer: boolean;
    /** A `.machine.files` entry: Talos applies it only on reboot. */
    needsReboot: boolean;
}

/** The documents of a node's machine config, from `talosctl get machineconfig -o yaml` (or the config itself). */
export function readLiveConfig(text: string): Doc[] {
    return parseAllDocuments(specOf(text) ?? text).map((d) => asObject(d.toJS()));
}

/** The machine config text a `talosctl get machineconfig -o yaml` resource carries in `spec`, exactly. */
export function specOf(shown: string): string | undefined {
    const spec = parseAllDocuments(shown).map((d) => asObject(d.toJS())).find((d) => typeof d.spec === "string")?.spec;
    return spec === undefined ? undefined : String(spec);
}

/** The flags this node's apiserver runs with from `.cluster.apiServer.extraArgs`. */
export function apiServerArgs(live: Doc[]): Record<string, unknown> {
    return asObject(asObject(asObject(v1alpha1(live).cluster).apiServer).extraArgs);
}

/** Whether applying needs the 1.13 → 1.14 migration confirmed: `oidc-*` flags on a node that is to take the document. */
export function migrationRefusal(node: string, live: Doc[], owned: OwnedSettings): string | undefined {
    if (owned.mode !== "authenticationConfig" || owned.migrationConfirmed) return undefined;
    const flags = oidcFlags(live);
    if (flags.length === 0) return undefined;
    return (
        `node ${node} still has the apiserver flags ${flags.join(", ")}, but talosVersion asks for the 1.14 KubeAuthenticationConfig, ` +
        `and the apiserver refuses to start with both. That is the 1.13 to 1.14 migration: confirm it with ${owned.migrationHint}. Nothing was changed.`
    );
}

/** What applying the program's settings to this node takes: nothing when it has them all. */
export function applyChange(live: Doc[], owned: OwnedSettings): NodeChange {
    const change = emptyChange();
    if (owned.mode === "authenticationConfig") composeDocument(live, owned, change);
    else composeFlags(live, owned, change);
    composeHosts(live, owned, change, true);
    return change;
}

/** What taking the program's settings off this node takes: only its own, nothing when none are there. */
export function revertChange(live: Doc[], owned: OwnedSettings): NodeChange {
    const change = emptyChange();
    const entries = jwtEntries(live);
    if (entries.list.some(isOurs(owned))) {
        setConfiguration(change, { ...entries.configuration, jwt: entries.list.filter((e) => !isOurs(owned)(e)) });
        change.changes.push(`remove issuer ${ourUrls(owned).join(", ")}`);
        change.kept.push(...otherIssuers(entries.list, owned));
    }
    // The CA file and its mount stay: removing a file entry needs a reboot, and a trusted CA alone grants nothing.
    const present = owned.ownFlagNames.filter((flag) => flag in apiServerArgs(live));
    deleteFlags(change, present);
    composeHosts(live, owned, change, false);
    return change;
}

function composeDocument(live: Doc[], owned: OwnedSettings, change: NodeChange): void {
    const leftovers = oidcFlags(live);
    deleteFlags(change, leftovers);
    change.removed.push(...leftovers.filter((flag) => !owned.ownFlagNames.includes(flag)).map((flag) => `flag ${flag}`));
    const entries = jwtEntries(live, owned.defaultAuthentication);
    // Ours: the entry for our issuer, a copy of it made by hand (the apiserver refuses two), or the former issuer's.
    const ours = entries.list.filter(isOurs(owned));
    const index = entries.list.findIndex(isOurs(owned));
    const jwt = index >= 0 ? entries.list.flatMap((e, i) => (i === index ? [owned.jwt] : isOurs(owned)(e) ? [] : [e])) : [...entries.list, owned.jwt];
    change.kept.push(...otherIssuers(entries.list, owned));
    if (ours.length === 1 && same(ours[0], owned.jwt)) return;
    setConfiguration(change, { ...entries.configuration, jwt });
    const urlOf = (entry: unknown) => String(asObject(asObject(entry).issuer).url);
    const currentAt = ours.findIndex((e) => urlOf(e) === owned.issuerUrl);
    const current = ours[currentAt];
    change.changes.push(
        ...ours.filter((_, i) => i !== currentAt).map((e) => `remove issuer ${urlOf(e)}${urlOf(e) === owned.issuerUrl ? " (a second copy)" : ""}`),
        ...(current === undefined ? [`add issuer ${owned.issuerUrl}`] : same(current, owned.jwt) ? [] : [`update issuer ${owned.issuerUrl}: ${differences(current, owned.jwt!).join(", ")}`]),
    );
}

function composeFlags(live: Doc[], owned: OwnedSettings, change: NodeChange): void {
    const args = apiServerArgs(live);
    const wanted = owned.flags ?? {};
    const stale = oidcFlags(live).filter((flag) => !(flag in wanted));
    deleteFlags(change, stale);
    change.removed.push(...stale.filter((flag) => !owned.ownFlagNames.includes(flag)).map((flag) => `flag ${flag}`));
    const set = Object.fromEntries(Object.entries(wanted).filter(([flag, value]) => args[flag] !== value));
    const additions: Doc = {};
    if (Object.keys(set).length > 0) {
        additions.cluster = { apiServer: { extraArgs: set } };
        change.changes.push(...Object.keys(set).map((flag) => `set flag ${flag}`));
    }
    // Talos appends list entries, so the CA file and its mount are added only when missing.
    const files = list(asObject(v1alpha1(live).machine).files).map(asObject);
    if (owned.caFile && !files.some((f) => f.path === owned.caFile!.path)) {
        additions.machine = { files: [owned.caFile] };
        change.changes.push(`add file ${owned.caFile.path}`);
        change.needsReboot = true;
    }
    const volumes = list(asObject(asObject(v1alpha1(live).cluster).apiServer).extraVolumes).map(asObject);
    if (owned.caVolume && !volumes.some((v) => v.hostPath === owned.caVolume!.hostPath)) {
        const apiServer = asObject(asObject(additions.cluster).apiServer);
        additions.cluster = { apiServer: { ...apiServer, extraVolumes: [owned.caVolume] } };
        change.changes.push(`mount ${owned.caVolume.hostPath}`);
    }
    if (Object.keys(additions).length > 0) {
        change.patches.push([additions]);
        change.restartsApiServer = true;
    }
}

/**
 * The issuer's name in the StaticHostConfig of `issuerAddress`, beside
 * whatever names the operator keeps there. Only the documents of the program's
 * addresses (now and at the last apply) are touched: without `issuerAddress`,
 * a mapping of the issuer's name is the operator's. A document is rewritten
 * (deleted, then written whole) rather than merged, as Talos appends names.
 */
function composeHosts(live: Doc[], owned: OwnedSettings, change: NodeChange, applying: boolean): void {
    const wantedAt = applying ? owned.issuerAddress : undefined;
    const addresses = new Set([owned.issuerAddress, owned.former?.issuerAddress].filter((a): a is string => a !== undefined));
    const ourNames = new Set([owned.issuerHost, owned.former?.issuerHost].filter((h): h is string => h !== undefined));
    const docs = live.filter((d) => d.kind === "StaticHostConfig" && addresses.has(String(d.name)));
    for (const doc of docs) {
        const names = list(doc.hostnames).map(String);
        const others = names.filter((n) => !ourNames.has(n));
        const name = String(doc.name);
        if (others.length > 0) change.kept.push(`host names ${others.join(", ")} at ${name}`);
        const wanted = name === wantedAt ? [...others, owned.issuerHost] : others;
        if (same(names, wanted)) continue;
        change.patches.push([hostDocument(name, { $patch: "delete" })], ...(wanted.length > 0 ? [[hostDocument(name, { hostnames: wanted })]] : []));
        change.changes.push(...names.filter((n) => ourNames.has(n) && !wanted.includes(n)).map((n) => `remove host ${n} at ${name}`), ...(wanted.includes(owned.issuerHost) && !names.includes(owned.issuerHost) ? [`add host ${owned.issuerHost} at ${name}`] : []));
    }
    if (wantedAt !== undefined && !docs.some((d) => d.name === wantedAt)) {
        change.patches.push([hostDocument(wantedAt, { hostnames: [owned.issuerHost] })]);
        change.changes.push(`add host ${owned.issuerHost} at ${wantedAt}`);
    }
}

function hostDocument(address: string, body: Doc): Doc {
    return { apiVersion: "v1alpha1", kind: "StaticHostConfig", name: address, ...body };
}

/** One strategic delete per flag (Talos refuses JSON patches on multi-document configs). */
function deleteFlags(change: NodeChange, flags: string[]): void {
    for (const flag of flags) change.patches.push([{ cluster: { apiServer: { extraArgs: { [flag]: { $patch: "delete" } } } } }]);
    if (flags.length > 0) {
        change.changes.push(`remove flags ${flags.join(", ")}`);
        change.restartsApiServer = true;
    }
}

function setConfiguration(change: NodeChange, configuration: Doc): void {
    change.patches.push([{ apiVersion: "v1alpha1", kind: "KubeAuthenticationConfig", configuration }]);
    change.restartsApiServer = true;
}

function jwtEntries(live: Doc[], fallback: Doc = {}): { configuration: Doc; list: unknown[] } {
    const document = live.find((d) => d.kind === "KubeAuthenticationConfig");
    const configuration = document ? asObject(document.configuration) : fallback;
    return { configuration, list: list(configuration.jwt) };
}

function otherIssuers(entries: unknown[], owned: OwnedSettings): string[] {
    return entries.filter((e) => !isOurs(owned)(e)).map((e) => `issuer ${String(asObject(asObject(e).issuer).url)}`);
}

const ourUrls = (owned: OwnedSettings) => [owned.issuerUrl, ...(owned.former && owned.former.issuerUrl !== owned.issuerUrl ? [owned.former.issuerUrl] : [])];
const isOurs = (owned: OwnedSettings) => (entry: unknown) => ourUrls(owned).includes(String(asObject(asObject(entry).issuer).url));

function oidcFlags(live: Doc[]): string[] {
    return Object.keys(apiServerArgs(live)).filter((flag) => flag.startsWith("oidc-"));
}

function v1alpha1(live: Doc[]): Doc {
    return live.find((d) => d.version === "v1alpha1") ?? {};
}

function emptyChange(): NodeChange {
    return { patches: [], changes: [], kept: [], removed: [], restartsApiServer: false, needsReboot: false };
}

/** The top-level fields of our entry that differ on the node (`issuer.certificateAuthority` and the like). */
function differences(live: unknown, wanted: Doc, path = ""): string[] {
    const have = asObject(live);
    return Object.keys({ ...have, ...wanted }).flatMap((key) => {
        const at = path ? `${path}.${key}` : key;
        if (same(have[key], wanted[key])) return [];
        const nested = isObject(have[key]) && isObject(wanted[key]);
        return nested ? differences(have[key], asObject(wanted[key]), at) : [at];
    });
}

/** Equal as YAML values, whatever the order of keys. */
function same(a: unknown, b: unknown): boolean {
    return canonical(a) === canonical(b);
}

function canonical(value: unknown): string {
    if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
    if (isObject(value)) return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(",")}}`;
    return JSON.stringify(value ?? null);
}

/** A patch file's text (render.ts's toYamlStream, which this file cannot import: Node runs it alone). */
export function patchText(documents: Doc[]): string {
    return documents.map((d) => stringify(d, { lineWidth: 0 })).join("---\n");
}

function isObject(value: unknown): value is Doc {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

function asObject(value: unknown): Doc {
    return isObject(value) ? value : {};
}

function list(value: unknown): unknown[] {
    return Array.isArray(value) ? value : [];
}
