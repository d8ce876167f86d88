// The stack's configuration, validated once, before any resource exists.
// Every problem is collected (not just the first), and each message names the
// exact key and what to set instead, because the person reading it is usually
// a newcomer running their first `pulumi preview`.
import { isIP } from "node:net";
import * as pulumi from "@pulumi/pulumi";
import { checkCaPem, checkDomain, emailDomain, ISSUER_CA, knownTalosVersions, normalizePem, parseApiServer, parseExposure, parseGitHubServer, parsePreferredEmailDomain, parseTalosVersion, parseTeam, parseTokenLifetimes, TEAM_SLUG } from "./fields";
import { Reader, refuseUnknownFields } from "./reader";
import { ConfigError, CREDENTIAL_API_GROUPS, DEFAULT_DEX_IMAGE, FIRST_TALOS_MINOR_WITH_AUTH_DOCUMENT, TALOS_MIGRATION_TO_1_14, type ConfigProblem, type PlatformAuthConfig, type RawConfig } from "./types";

const GITHUB_OWNER_KEY = "github:owner";
/** Provider settings the program reads to build its explicit providers; default providers are disabled. */
export const PROVIDER_KEYS = [GITHUB_OWNER_KEY, "github:baseUrl", "kubernetes:context"];

const EMAIL = /^[^\s@:]+@[a-z0-9-]+(\.[a-z0-9-]+)+$/i;
const GITHUB_ORG = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/;
const API_GROUP = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/;
/** `<registry[:port]>/<repository>:<tag>@sha256:<digest>`, the reference grammar's names in lowercase. */
const PINNED_IMAGE = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\.[a-z0-9]+)*(?::[0-9]+)?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)+:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}@sha256:[a-f0-9]{64}$/;

const KNOWN_KEYS = [
    "domain", "githubOrg", "githubTeams", "githubClientId", "githubClientSecret", "readOnlyUsers", "readOnlyGroups",
    "readOnlyApiGroups", "issuerCaRequired", "issuerCaPem", "dexReplicas", "dexImage", "monitoringNamespace", "tokenLifetimes", "exposure", "talosVersion",
    "talosNodes", "kubeconfigCluster", "issuerAddress", "talosMigration", "apiServerUrl", "apiServerCaPem", "preferredEmailDomain",
    "adoptExisting", "githubCaPem", "deviceFlow",
];

/**
 * Validates everything and returns the typed config, or throws one ConfigError.
 * `secretKeys` are the keys the stack file holds encrypted (set with `--secret`).
 */
export function parseConfig(stack: string, raw: RawConfig, secretKeys: ReadonlySet<string>): PlatformAuthConfig {
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
    if (secretValue !== undefined && !secretKeys.has("githubClientSecret")) {
        // Wrapping it in pulumi.secret now would be too late: it already sits in clear in Pulumi.<stack>.yaml.
        fail("githubClientSecret", `is stored in plain text in Pulumi.${stack}.yaml; store it encrypted with \`pulumi config set --secret githubClientSecret <secret>\` (and rotate it in GitHub if that file was ever committed).`);
    }

    const talosText = read.string("talosVersion", `the Talos version of the control plane, one of ${knownTalosVersions()}`);
    const talosVersion = talosText === undefined ? undefined : parseTalosVersion(talosText);
    if (talosText !== undefined && talosVersion === undefined) {
        fail("talosVersion", `"${talosText}" is not a known Talos version; use one of ${knownTalosVersions()}.`);
    }

    const preferredEmailDomain = parsePreferredEmailDomain(read.optionalString("preferredEmailDomain"), fail);
    const readOnlyUsers = read.list("readOnlyUsers", (value, at) => {
        if (typeof value !== "string" || !EMAIL.test(value)) {
            fail(at, `${JSON.stringify(value)} is not an email address; users are bound as oidc:<email> from Dex's email claim.`);
        } else if (preferredEmailDomain !== undefined && emailDomain(value) !== preferredEmailDomain) {
            fail(at, `"${value}" is outside preferredEmailDomain "${preferredEmailDomain}": Dex puts the user's verified ${preferredEmailDomain} email in the token whenever they have one, so bind that address, or their team in readOnlyGroups.`);
        } else if (talosVersion !== undefined && talosVersion.minor >= FIRST_TALOS_MINOR_WITH_AUTH_DOCUMENT && value !== value.toLowerCase()) {
            fail(at, `"${value}" has capitals, but from Talos v1.${FIRST_TALOS_MINOR_WITH_AUTH_DOCUMENT} the apiserver lowercases the token's email, so this binding would never match; write "${value.toLowerCase()}".`);
        } else {
            return value;
        }
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
            fail("issuerCaPem", `this stack's issuer uses a private CA; set it with \`pulumi config set issuerCaPem -- ${ISSUER_CA.example}\`.`);
        }
    } else {
        checkCaPem(issuerCaPem, ISSUER_CA, fail);
    }

    const dexImage = read.optionalString("dexImage") ?? DEFAULT_DEX_IMAGE;
    if (dexImage !== DEFAULT_DEX_IMAGE && !PINNED_IMAGE.test(dexImage)) {
        fail("dexImage", `"${dexImage}" is not an image pinned by digest; give it as <registry>/<repository>:<tag>@sha256:<64 hex digits> (e.g. registry.lan:5000/dexidp/dex:v2.45.1-distroless@sha256:…), so a mirror cannot serve other bytes under the tag.`);
    }
    const monitoringNamespace = read.optionalString("monitoringNamespace");
    if (monitoringNamespace !== undefined && !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(monitoringNamespace)) {
        fail("monitoringNamespace", `"${monitoringNamespace}" is not a namespace name (lowercase letters, digits and hyphens).`);
    }
    const dexReplicas = read.optionalNumber("dexReplicas") ?? 1;
    if (!Number.isInteger(dexReplicas) || dexReplicas < 1) {
        fail("dexReplicas", `${dexReplicas} is not a whole number of at least 1.`);
    }

    const tokenLifetimes = parseTokenLifetimes(read.optionalObject("tokenLifetimes"), fail);
    const exposure = parseExposure(read.optionalObject("exposure"), fail);

    const talosNodes = read.optionalList("talosNodes", (value, at) => {
        if (typeof value === "string" && /^[A-Za-z0-9.:-]+$/.test(value)) return value;
        fail(at, `${JSON.stringify(value)} is not a node address or hostname for talosctl --nodes.`);
        return undefined;
    });

    const issuerAddress = read.optionalString("issuerAddress");
    if (issuerAddress !== undefined && isIP(issuerAddress) === 0) {
        fail("issuerAddress", `"${issuerAddress}" is not an IP address; give the address dex.<domain> resolves to from the control-plane nodes (e.g. the gateway's LoadBalancer IP, 192.168.1.50), or remove the key where their DNS resolves it.`);
    }
    const talosMigration = read.optionalString("talosMigration");
    if (talosMigration !== undefined && talosMigration !== TALOS_MIGRATION_TO_1_14) {
        fail("talosMigration", `"${talosMigration}" is not a migration this program knows; the one there is, from the 1.13 flags to the 1.14 document, is confirmed with \`pulumi config set talosMigration ${TALOS_MIGRATION_TO_1_14}\`.`);
    } else if (talosMigration !== undefined && talosVersion !== undefined && talosVersion.minor < 14) {
        fail("talosMigration", `confirms the move to Talos 1.14, but talosVersion is "${talosVersion.text}"; set talosVersion to v1.14 with it, or remove talosMigration.`);
    }

    const kubernetesContext = read.string("kubernetes:context", "the kubeconfig context of the cluster Dex and the RBAC go to, e.g. `pulumi config set kubernetes:context admin@local`; nothing is sent to whatever context happens to be current");
    const githubServer = parseGitHubServer(read.optionalString("github:baseUrl"), read.optionalString("githubCaPem"), fail);

    const kubeconfigCluster = read.optionalString("kubeconfigCluster") ?? stack;
    const adoptExisting = read.optionalBoolean("adoptExisting") ?? false;
    const deviceFlow = read.optionalBoolean("deviceFlow") ?? false;
    const apiServer = parseApiServer(read.optionalString("apiServerUrl"), read.optionalString("apiServerCaPem"), fail);

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
        dexImage,
        monitoringNamespace,
        tokenLifetimes: tokenLifetimes!,
        exposure: exposure!,
        talosVersion: talosVersion!,
        talosNodes,
        issuerAddress,
        talosMigrationConfirmed: talosMigration === TALOS_MIGRATION_TO_1_14,
        adoptExisting,
        deviceFlow,
        kubeconfigCluster,
        apiServer,
        preferredEmailDomain,
        kubernetesContext: kubernetesContext!,
        githubServer,
    };
}
