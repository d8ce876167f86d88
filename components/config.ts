// The stack's configuration, typed and validated once, before any resource
// exists. Every problem is collected (not just the first), and each message
// names the exact key and what to set instead, because the person reading it
// is usually a newcomer running their first `pulumi preview`.
import { X509Certificate } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";

export const PROJECT = "platform-auth";

/** Talos minors this program knows how to patch (lib/talos.ts picks flags or documents). */
const KNOWN_TALOS_MINORS = [10, 11, 12, 13, 14] as const;

export interface TalosVersion {
    major: 1;
    minor: number;
    /** As written in config, for messages and outputs. */
    text: string;
}

export interface TeamMember {
    username: string;
    role: "member" | "maintainer";
}

export interface GitHubTeam {
    /** The team slug: Dex emits groups as `<org>:<slug>` with `teamNameField: slug`. */
    slug: string;
    description: string;
    members: TeamMember[];
}

export type Exposure =
    | { kind: "httproute"; gatewayName: string; gatewayNamespace: string; sectionName?: string }
    | { kind: "ingress"; className: string; tlsSecretName?: string };

export interface TokenLifetimes {
    idToken: string;
    refreshTokenIdle: string;
    refreshTokenAbsolute: string;
}

export interface PlatformAuthConfig {
    stack: string;
    domain: string;
    githubOrg: string;
    githubTeams: GitHubTeam[];
    githubClientId: string;
    githubClientSecret: pulumi.Output<string>;
    readOnlyUsers: string[];
    /** `<org>:<team>` as Dex emits them, without the apiserver's prefix. */
    readOnlyGroups: string[];
    /** Extra API groups (CRDs of the platform) that cluster-reader may read. */
    readOnlyApiGroups: string[];
    issuerCaPem?: string;
    dexReplicas: number;
    tokenLifetimes: TokenLifetimes;
    exposure: Exposure;
    talosVersion: TalosVersion;
    talosNodes: string[];
    /** The kubeconfig cluster entry the generated context points at. */
    kubeconfigCluster: string;
}

export interface ConfigProblem {
    key: string;
    message: string;
}

export class ConfigError extends Error {
    constructor(readonly problems: ConfigProblem[]) {
        super(
            "Invalid stack configuration (nothing was created):\n" +
                problems.map((p) => `  - ${PROJECT}:${p.key}: ${p.message}`).join("\n"),
        );
        this.name = "ConfigError";
    }
}

/** Raw config: key (without the project prefix) to the value as Pulumi stores it; other namespaces keep theirs. */
export type RawConfig = Record<string, string | undefined>;

const GITHUB_OWNER_KEY = "github:owner";

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const EMAIL = /^[^\s@:]+@[a-z0-9-]+(\.[a-z0-9-]+)+$/i;
const GITHUB_ORG = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/;
const GITHUB_USER = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/;
const TEAM_SLUG = /^[a-z0-9][a-z0-9_-]*$/;
const API_GROUP = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/;
const GO_DURATION = /^(\d+(h|m|s|ms))+$/;
const DEX_DEFAULT_ID_TOKEN_SECONDS = 24 * 3600;
/** Groups whose objects hold credentials; reading them is not "read-only". */
export const CREDENTIAL_API_GROUPS = ["dex.coreos.com"];

const KNOWN_KEYS = [
    "domain", "githubOrg", "githubTeams", "githubClientId", "githubClientSecret", "readOnlyUsers", "readOnlyGroups",
    "readOnlyApiGroups", "issuerCaRequired", "issuerCaPem", "dexReplicas", "tokenLifetimes", "exposure", "talosVersion",
    "talosNodes", "kubeconfigCluster",
];

/** Fails every field of `value` that is not in `known`, suggesting the nearest known name. */
function refuseUnknownFields(value: Record<string, unknown>, known: readonly string[], at: string, fail: (key: string, message: string) => void): void {
    for (const field of Object.keys(value).filter((f) => !known.includes(f))) {
        const nearest = [...known].sort((a, b) => editDistance(field, a) - editDistance(field, b))[0];
        const hint = editDistance(field, nearest) <= 3 ? `did you mean ${nearest}?` : `known: ${known.join(", ")}`;
        fail(at ? `${at}.${field}` : field, `is not a setting of this program; ${hint}`);
    }
}

function editDistance(a: string, b: string): number {
    const row = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
        let diagonal = row[0];
        row[0] = i;
        for (let j = 1; j <= b.length; j++) {
            const above = row[j];
            row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1));
            diagonal = above;
        }
    }
    return row[b.length];
}

/** Validates everything and returns the typed config, or throws one ConfigError. */
export function parseConfig(stack: string, raw: RawConfig): PlatformAuthConfig {
    const problems: ConfigProblem[] = [];
    const fail = (key: string, message: string) => problems.push({ key, message });
    const read = new Reader(raw, fail);
    // A misspelled key would otherwise silently fall back to its default.
    refuseUnknownFields(Object.fromEntries(Object.entries(raw).filter(([key]) => !key.includes(":"))), KNOWN_KEYS, "", fail);

    const domain = read.string("domain", "the cluster's DNS domain, e.g. platform.lan");
    if (domain !== undefined) checkDomain(domain, fail);

    const githubOrg = read.string("githubOrg", "the GitHub organization, e.g. devantler-tech");
    if (githubOrg !== undefined && !GITHUB_ORG.test(githubOrg)) {
        fail("githubOrg", `"${githubOrg}" is not a GitHub organization login (letters, digits and hyphens).`);
    } else if (githubOrg !== undefined && raw[GITHUB_OWNER_KEY] !== githubOrg) {
        // The GitHub provider creates the teams in github:owner; Dex admits members of githubOrg.
        fail("githubOrg", `is "${githubOrg}" but ${GITHUB_OWNER_KEY} is ${JSON.stringify(raw[GITHUB_OWNER_KEY] ?? null)}; set both to the same org so the managed teams are the ones Dex checks.`);
    }

    const githubTeams = read.list("githubTeams", (value, at) => parseTeam(value, at, fail)) ?? [];
    if (raw.githubTeams?.trim() === "[]") {
        fail("githubTeams", "list at least one team; Dex only admits members of these teams.");
    }
    const teamSlugs = new Set(githubTeams.map((t) => t.slug));

    const githubClientId = read.string(
        "githubClientId",
        "the Client ID of the GitHub OAuth app (README: First-time set-up of a stack), set with `pulumi config set githubClientId <id>`",
    );
    if (githubClientId !== undefined && /\s/.test(githubClientId)) {
        fail("githubClientId", "contains whitespace; paste the Client ID exactly as GitHub shows it.");
    }
    const secretValue = read.string(
        "githubClientSecret",
        "the OAuth app's client secret, set with `pulumi config set --secret githubClientSecret <secret>`",
    );

    const readOnlyUsers = read.list("readOnlyUsers", (value, at) => {
        if (typeof value === "string" && EMAIL.test(value)) return value;
        fail(at, `${JSON.stringify(value)} is not an email address; users are bound as oidc:<email> from Dex's email claim.`);
        return undefined;
    }) ?? [];

    const readOnlyGroups = read.list("readOnlyGroups", (value, at) => {
        const [org, team, extra] = typeof value === "string" ? value.split(":") : [];
        if (typeof value !== "string" || extra !== undefined || !org || !team || !TEAM_SLUG.test(team)) {
            fail(at, `${JSON.stringify(value)} is not "<org>:<team-slug>", e.g. "devantler-tech:platform".`);
        } else if (githubOrg !== undefined && org !== githubOrg) {
            fail(at, `"${value}" names org "${org}", but Dex only admits members of githubOrg "${githubOrg}".`);
        } else if (!teamSlugs.has(team)) {
            fail(at, `team "${team}" is not in githubTeams, so Dex would never emit "${value}"; add the team or remove the group.`);
        } else {
            return value;
        }
        return undefined;
    }) ?? [];
    if (raw.readOnlyUsers?.trim() === "[]" && raw.readOnlyGroups?.trim() === "[]") {
        fail("readOnlyUsers", "bind at least one user (or a group in readOnlyGroups); otherwise nobody can log in usefully.");
    }

    const readOnlyApiGroups = read.optionalList("readOnlyApiGroups", (value, at) => {
        if (typeof value !== "string" || !API_GROUP.test(value)) {
            fail(at, `${JSON.stringify(value)} is not a named API group such as gateway.networking.k8s.io (the core group is never wildcarded).`);
        } else if (CREDENTIAL_API_GROUPS.includes(value)) {
            fail(at, `"${value}" holds credentials (Dex's refresh tokens and signing keys); reading it lets a user mint tokens. Remove it.`);
        } else {
            return value;
        }
        return undefined;
    });

    const issuerCaRequired = read.optionalBoolean("issuerCaRequired") ?? false;
    const issuerCaPem = raw.issuerCaPem;
    if (issuerCaPem === undefined || issuerCaPem.trim() === "") {
        if (issuerCaRequired) {
            fail("issuerCaPem", 'this stack\'s issuer uses a private CA; set it with `pulumi config set issuerCaPem -- "$(cat "$(mkcert -CAROOT)/rootCA.pem")"`.');
        }
    } else {
        checkCaPem(issuerCaPem, fail);
    }

    const dexReplicas = read.optionalNumber("dexReplicas") ?? 1;
    if (!Number.isInteger(dexReplicas) || dexReplicas < 1) {
        fail("dexReplicas", `${dexReplicas} is not a whole number of at least 1.`);
    }

    const tokenLifetimes = parseTokenLifetimes(read.optionalObject("tokenLifetimes"), fail);
    const exposure = parseExposure(read.optionalObject("exposure"), fail);

    const talosText = read.string("talosVersion", `the Talos version of the control plane, one of ${knownTalosVersions()}`);
    const talosVersion = talosText === undefined ? undefined : parseTalosVersion(talosText);
    if (talosText !== undefined && talosVersion === undefined) {
        fail("talosVersion", `"${talosText}" is not a known Talos version; use one of ${knownTalosVersions()}.`);
    }
    const talosNodes = read.optionalList("talosNodes", (value, at) => {
        if (typeof value === "string" && /^[A-Za-z0-9.:-]+$/.test(value)) return value;
        fail(at, `${JSON.stringify(value)} is not a node address or hostname for talosctl --nodes.`);
        return undefined;
    });

    const kubeconfigCluster = read.optionalString("kubeconfigCluster") ?? stack;

    if (problems.length > 0) throw new ConfigError(problems);
    return {
        stack,
        domain: domain!,
        githubOrg: githubOrg!,
        githubTeams,
        githubClientId: githubClientId!,
        githubClientSecret: pulumi.secret(secretValue!),
        readOnlyUsers,
        readOnlyGroups,
        readOnlyApiGroups,
        issuerCaPem: issuerCaPem?.trim() ? normalizePem(issuerCaPem) : undefined,
        dexReplicas,
        tokenLifetimes: tokenLifetimes!,
        exposure: exposure!,
        talosVersion: talosVersion!,
        talosNodes,
        kubeconfigCluster,
    };
}

/** Reads the running stack's config; call before creating any resource. */
export function loadConfig(): PlatformAuthConfig {
    const prefix = `${PROJECT}:`;
    const raw: RawConfig = {};
    const all = pulumi.runtime.allConfig();
    for (const [key, value] of Object.entries(all)) {
        if (key.startsWith(prefix)) raw[key.slice(prefix.length)] = value;
    }
    raw[GITHUB_OWNER_KEY] = all[GITHUB_OWNER_KEY];
    return parseConfig(pulumi.getStack(), raw);
}

export function parseTalosVersion(text: string): TalosVersion | undefined {
    const match = /^v?1\.(\d+)(\.\d+)?(-[0-9A-Za-z.-]+)?$/.exec(text.trim());
    const minor = match ? Number(match[1]) : NaN;
    return (KNOWN_TALOS_MINORS as readonly number[]).includes(minor) ? { major: 1, minor, text } : undefined;
}

function knownTalosVersions(): string {
    return KNOWN_TALOS_MINORS.map((m) => `v1.${m}`).join(", ");
}

function checkDomain(domain: string, fail: (key: string, message: string) => void): void {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(domain) || domain.includes("/")) {
        fail("domain", `"${domain}" is a URL; give the bare DNS name, e.g. platform.lan (the issuer becomes https://dex.<domain>).`);
        return;
    }
    const labels = domain.split(".");
    if (domain.length > 240 || labels.length < 2 || !labels.every((l) => DNS_LABEL.test(l))) {
        fail("domain", `"${domain}" is not a lowercase DNS name with at least two labels, e.g. platform.devantler.tech.`);
    }
}

function checkCaPem(pem: string, fail: (key: string, message: string) => void): void {
    let certificate: X509Certificate;
    try {
        certificate = new X509Certificate(pem);
    } catch {
        fail("issuerCaPem", "does not parse as a PEM X.509 certificate; pass the file's content, not its path, e.g. \"$(cat \"$(mkcert -CAROOT)/rootCA.pem\")\".");
        return;
    }
    if (!certificate.ca) {
        fail("issuerCaPem", `"${certificate.subject.replace(/\n/g, ", ")}" is not a CA certificate; give the root CA (mkcert's rootCA.pem), not the server's certificate.`);
    }
}

function normalizePem(pem: string): string {
    return pem.trim().replace(/\r\n/g, "\n") + "\n";
}

function parseTeam(value: unknown, at: string, fail: (key: string, message: string) => void): GitHubTeam | undefined {
    const team = typeof value === "string" ? { slug: value } : value;
    if (!isObject(team) || typeof team.slug !== "string" || !TEAM_SLUG.test(team.slug)) {
        fail(at, `${JSON.stringify(value)} is not a team: give { slug: "platform", members: [{ username: "octocat", role: "member" }] } with a lowercase slug.`);
        return undefined;
    }
    refuseUnknownFields(team, ["slug", "description", "members"], at, fail);
    const members: TeamMember[] = [];
    const rawMembers = team.members ?? [];
    if (!Array.isArray(rawMembers)) {
        fail(`${at}.members`, "must be a list of { username, role }.");
        return undefined;
    }
    rawMembers.forEach((member, i) => {
        const role = isObject(member) ? member.role ?? "member" : undefined;
        if (!isObject(member) || typeof member.username !== "string" || !GITHUB_USER.test(member.username) || (role !== "member" && role !== "maintainer")) {
            fail(`${at}.members[${i}]`, `${JSON.stringify(member)} is not { username: "<github login>", role: "member" | "maintainer" }.`);
            return;
        }
        refuseUnknownFields(member, ["username", "role"], `${at}.members[${i}]`, fail);
        members.push({ username: member.username, role });
    });
    const description = typeof team.description === "string" ? team.description : "Read-only kubectl access through Dex (platform-auth).";
    return { slug: team.slug, description, members };
}

function parseTokenLifetimes(value: Record<string, unknown> | undefined, fail: (key: string, message: string) => void): TokenLifetimes | undefined {
    refuseUnknownFields(value ?? {}, ["idToken", "refreshTokenIdle", "refreshTokenAbsolute"], "tokenLifetimes", fail);
    const lifetimes: TokenLifetimes = {
        idToken: "1h",
        refreshTokenIdle: "168h",
        refreshTokenAbsolute: "720h",
        ...(value as Partial<TokenLifetimes>),
    };
    let valid = true;
    for (const field of ["idToken", "refreshTokenIdle", "refreshTokenAbsolute"] as const) {
        const text = lifetimes[field];
        if (typeof text !== "string" || !GO_DURATION.test(text) || durationSeconds(text) <= 0) {
            fail(`tokenLifetimes.${field}`, `${JSON.stringify(text)} is not a positive Go duration such as "1h" or "90m".`);
            valid = false;
        }
    }
    if (!valid) return undefined;
    if (durationSeconds(lifetimes.idToken) >= DEX_DEFAULT_ID_TOKEN_SECONDS) {
        fail("tokenLifetimes.idToken", `"${lifetimes.idToken}" is not shorter than Dex's 24h default; ID tokens cannot be revoked, keep them short (e.g. "1h").`);
    }
    if (durationSeconds(lifetimes.refreshTokenIdle) > durationSeconds(lifetimes.refreshTokenAbsolute)) {
        fail("tokenLifetimes.refreshTokenIdle", `"${lifetimes.refreshTokenIdle}" exceeds refreshTokenAbsolute "${lifetimes.refreshTokenAbsolute}"; the idle limit must fit inside the absolute one.`);
    }
    return lifetimes;
}

/** Seconds in a Go duration string that matched GO_DURATION. */
function durationSeconds(text: string): number {
    const unit: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 0.001 };
    let total = 0;
    for (const [, amount, suffix] of text.matchAll(/(\d+)(h|ms|m|s)/g)) total += Number(amount) * unit[suffix];
    return total;
}

function parseExposure(value: Record<string, unknown> | undefined, fail: (key: string, message: string) => void): Exposure | undefined {
    const exposure = value ?? { kind: "httproute", gatewayName: "platform", gatewayNamespace: "kube-system", sectionName: "https" };
    const text = (field: string) => (typeof exposure[field] === "string" && exposure[field] !== "" ? (exposure[field] as string) : undefined);
    const fields: Record<string, string[]> = { httproute: ["kind", "gatewayName", "gatewayNamespace", "sectionName"], ingress: ["kind", "className", "tlsSecretName"] };
    if (typeof exposure.kind === "string" && fields[exposure.kind]) refuseUnknownFields(exposure, fields[exposure.kind], "exposure", fail);
    if (exposure.kind === "httproute") {
        const gatewayName = text("gatewayName");
        const gatewayNamespace = text("gatewayNamespace");
        if (gatewayName && gatewayNamespace) return { kind: "httproute", gatewayName, gatewayNamespace, sectionName: text("sectionName") };
        fail("exposure", 'an httproute needs gatewayName and gatewayNamespace, e.g. { kind: httproute, gatewayName: platform, gatewayNamespace: kube-system, sectionName: https }.');
    } else if (exposure.kind === "ingress") {
        const className = text("className");
        if (className) return { kind: "ingress", className, tlsSecretName: text("tlsSecretName") };
        fail("exposure", "an ingress needs className, e.g. { kind: ingress, className: nginx, tlsSecretName: dex-tls }.");
    } else {
        fail("exposure", `kind ${JSON.stringify(exposure.kind)} is unknown; use "httproute" or "ingress".`);
    }
    return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Typed access to raw values; structured values arrive as JSON text from Pulumi. */
class Reader {
    constructor(
        private readonly raw: RawConfig,
        private readonly fail: (key: string, message: string) => void,
    ) {}

    string(key: string, what: string): string | undefined {
        const value = this.raw[key];
        if (value === undefined || value.trim() === "") {
            this.fail(key, `is missing; set ${what}.`);
            return undefined;
        }
        return value.trim();
    }

    optionalString(key: string): string | undefined {
        const value = this.raw[key]?.trim();
        return value ? value : undefined;
    }

    optionalBoolean(key: string): boolean | undefined {
        const value = this.raw[key];
        if (value === undefined) return undefined;
        if (value === "true" || value === "false") return value === "true";
        this.fail(key, `${JSON.stringify(value)} is not true or false.`);
        return undefined;
    }

    optionalNumber(key: string): number | undefined {
        const value = this.raw[key];
        if (value === undefined) return undefined;
        const number = Number(value);
        if (value.trim() === "" || Number.isNaN(number)) {
            this.fail(key, `${JSON.stringify(value)} is not a number.`);
            return undefined;
        }
        return number;
    }

    optionalObject(key: string): Record<string, unknown> | undefined {
        const value = this.json(key);
        if (value === undefined || isObject(value)) return value;
        this.fail(key, "must be a map (YAML object) in the stack file.");
        return undefined;
    }

    list<T>(key: string, item: (value: unknown, at: string) => T | undefined): T[] | undefined {
        if (this.raw[key] === undefined) {
            this.fail(key, "is missing; add it as a YAML list in Pulumi.<stack>.yaml.");
            return undefined;
        }
        return this.optionalList(key, item);
    }

    optionalList<T>(key: string, item: (value: unknown, at: string) => T | undefined): T[] {
        const value = this.json(key);
        if (value === undefined) return [];
        if (!Array.isArray(value)) {
            this.fail(key, "must be a YAML list in the stack file.");
            return [];
        }
        return value.map((v, i) => item(v, `${key}[${i}]`)).filter((v): v is T => v !== undefined);
    }

    private json(key: string): unknown {
        const text = this.raw[key];
        if (text === undefined) return undefined;
        try {
            return JSON.parse(text);
        } catch {
            this.fail(key, "is not structured data; write it as a YAML list or map in Pulumi.<stack>.yaml.");
            return undefined;
        }
    }
}
