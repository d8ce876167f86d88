// Parsers for the structured and checked fields of the config: each reports
// its problems by key through `fail` and returns undefined when it cannot give
// a value.
import { X509Certificate } from "node:crypto";
import { isObject, refuseUnknownFields } from "./reader";
import { KNOWN_TALOS_MINORS, type ApiServerEndpoint, type Exposure, type Fail, type GitHubServer, type GitHubTeam, type TalosVersion, type TeamMember, type TokenLifetimes } from "./types";

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const GITHUB_USER = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/;
export const TEAM_SLUG = /^[a-z0-9][a-z0-9_-]*$/;
const GO_DURATION = /^(\d+(h|m|s|ms))+$/;
const DEX_DEFAULT_ID_TOKEN_SECONDS = 24 * 3600;

export function parseTalosVersion(text: string): TalosVersion | undefined {
    const match = /^v?1\.(\d+)(\.\d+)?(-[0-9A-Za-z.-]+)?$/.exec(text.trim());
    const minor = match ? Number(match[1]) : NaN;
    return (KNOWN_TALOS_MINORS as readonly number[]).includes(minor) ? { major: 1, minor, text } : undefined;
}

export function knownTalosVersions(): string {
    return KNOWN_TALOS_MINORS.map((m) => `v1.${m}`).join(", ");
}

export function checkDomain(domain: string, fail: Fail): void {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(domain) || domain.includes("/")) {
        fail("domain", `"${domain}" is a URL; give the bare DNS name, e.g. platform.lan (the issuer becomes https://dex.<domain>).`);
        return;
    }
    if (!isDnsName(domain)) {
        fail("domain", `"${domain}" is not a lowercase DNS name with at least two labels, e.g. platform.devantler.tech.`);
    }
}

function isDnsName(name: string): boolean {
    const labels = name.split(".");
    return name.length <= 240 && labels.length >= 2 && labels.every((l) => DNS_LABEL.test(l));
}

/** Which CA a key holds, for its messages: how to pass the content, and what to give instead of a server's certificate. */
export interface CaKey {
    key: string;
    example: string;
    ca: string;
}

export const ISSUER_CA: CaKey = { key: "issuerCaPem", example: '"$(cat "$(mkcert -CAROOT)/rootCA.pem")"', ca: "the root CA (mkcert's rootCA.pem)" };
const API_SERVER_CA: CaKey = {
    key: "apiServerCaPem",
    example: `"$(kubectl config view --raw --minify --context admin@<stack> -o jsonpath='{.clusters[0].cluster.certificate-authority-data}' | base64 -d)"`,
    ca: "the cluster's CA (the admin kubeconfig's certificate-authority-data)",
};

export function checkCaPem(pem: string, which: CaKey, fail: Fail): void {
    let certificate: X509Certificate;
    try {
        certificate = new X509Certificate(pem);
    } catch {
        fail(which.key, `does not parse as a PEM X.509 certificate; pass the file's content, not its path, e.g. ${which.example}.`);
        return;
    }
    if (!certificate.ca) {
        fail(which.key, `"${certificate.subject.replace(/\n/g, ", ")}" is not a CA certificate; give ${which.ca}, not the server's certificate.`);
    }
}

const GITHUB_CA: CaKey = {
    key: "githubCaPem",
    example: '"$(cat ghes-root-ca.pem)"',
    ca: "the root CA that signs the server's certificate",
};

/** Dex's connector takes a host name and builds both URLs from it: the web flow at https://<host>/login/oauth and the API at /api/v3. */
const GHES_API_PATHS = ["/", "/api/v3", "/api/v3/"];

/**
 * `github:baseUrl` and `githubCaPem`: the GitHub both the provider and Dex's
 * connector talk to. Unset is github.com; a GitHub Enterprise Server is named
 * by the URL's host (with its port, if any), which becomes the connector's
 * `hostName`, so teams and logins live on one server.
 */
export function parseGitHubServer(baseUrl: string | undefined, caPem: string | undefined, fail: Fail): GitHubServer | undefined {
    if (caPem !== undefined) checkCaPem(caPem, GITHUB_CA, fail);
    if (baseUrl === undefined) {
        if (caPem !== undefined) fail(GITHUB_CA.key, "is set, but github:baseUrl is not; a CA is only for a GitHub Enterprise Server named by github:baseUrl (github.com is publicly trusted), so set both or remove githubCaPem.");
        return undefined;
    }
    let url: URL | undefined;
    try {
        url = new URL(baseUrl);
    } catch {
        url = undefined;
    }
    const usable = url !== undefined && url.protocol === "https:" && url.hostname !== "" && url.username === "" && url.password === "" && url.search === "" && url.hash === "" && GHES_API_PATHS.includes(url.pathname);
    if (!usable) {
        fail("github:baseUrl", `"${baseUrl}" is not a URL Dex's GitHub connector can use; give https://<host>/ or https://<host>/api/v3/ of the GitHub Enterprise Server (Dex logs people in at https://<host>/login/oauth and reads /api/v3), or remove the key for github.com.`);
        return undefined;
    }
    // github.com itself (the provider's default API, or the site): the connector needs no host name.
    if (url!.host === "api.github.com" || url!.host === "github.com") {
        if (caPem !== undefined) fail(GITHUB_CA.key, "is set, but github:baseUrl names github.com, which is publicly trusted; remove githubCaPem.");
        return undefined;
    }
    return { baseUrl, host: url!.host, caPem: caPem !== undefined ? normalizePem(caPem) : undefined };
}

/**
 * The apiserver's address and CA, which make the kubeconfig output a whole
 * file. Both or neither: a file with only one of them cannot reach the cluster.
 */
export function parseApiServer(url: string | undefined, caPem: string | undefined, fail: Fail): ApiServerEndpoint | undefined {
    if (url !== undefined && !isHttpsUrl(url)) {
        fail("apiServerUrl", `"${url}" is not an https:// URL; give the address users reach the apiserver at, e.g. https://192.168.1.10:6443.`);
    }
    if (caPem !== undefined) checkCaPem(caPem, API_SERVER_CA, fail);
    if (url === undefined && caPem !== undefined) fail("apiServerUrl", "is missing; apiServerCaPem is set, and the kubeconfig output needs both (or remove apiServerCaPem).");
    if (url !== undefined && caPem === undefined) fail("apiServerCaPem", `is missing; apiServerUrl is set, and the kubeconfig output needs both: \`pulumi config set apiServerCaPem -- ${API_SERVER_CA.example}\`.`);
    return url !== undefined && caPem !== undefined ? { url, caPem: normalizePem(caPem) } : undefined;
}

function isHttpsUrl(text: string): boolean {
    try {
        const url = new URL(text);
        return url.protocol === "https:" && url.hostname !== "" && url.username === "" && url.search === "" && url.hash === "";
    } catch {
        return false;
    }
}

export function parsePreferredEmailDomain(domain: string | undefined, fail: Fail): string | undefined {
    if (domain === undefined || isDnsName(domain)) return domain;
    fail("preferredEmailDomain", `"${domain}" is not a lowercase DNS name such as devantler.tech (the part of an email after the @).`);
    return undefined;
}

/** The domain of an email address, lowercased as DNS compares it. */
export function emailDomain(email: string): string {
    return email.slice(email.lastIndexOf("@") + 1).toLowerCase();
}

export function normalizePem(pem: string): string {
    return pem.trim().replace(/\r\n/g, "\n") + "\n";
}

export function parseTeam(value: unknown, at: string, fail: Fail): GitHubTeam | undefined {
    const team = typeof value === "string" ? { slug: value } : value;
    if (!isObject(team) || typeof team.slug !== "string" || !TEAM_SLUG.test(team.slug)) {
        fail(at, `${JSON.stringify(value)} is not a team: give { slug: "platform", members: [{ username: "octocat", role: "member" }] } with a lowercase slug.`);
        return undefined;
    }
    refuseUnknownFields(team, ["slug", "description", "members", "existing"], at, fail);
    if (team.existing !== undefined && typeof team.existing !== "boolean") fail(`${at}.existing`, "must be true (the team existed before this stack: adopt it, never delete it) or false.");
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
    return { slug: team.slug, description, members, existing: team.existing === true };
}

export function parseTokenLifetimes(value: Record<string, unknown> | undefined, fail: Fail): TokenLifetimes | undefined {
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
export function durationSeconds(text: string): number {
    const unit: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 0.001 };
    let total = 0;
    for (const [, amount, suffix] of text.matchAll(/(\d+)(h|ms|m|s)/g)) total += Number(amount) * unit[suffix];
    return total;
}

export function parseExposure(value: Record<string, unknown> | undefined, fail: Fail): Exposure | undefined {
    const exposure = value ?? { kind: "httproute", gatewayName: "platform", gatewayNamespace: "kube-system", sectionName: "https" };
    const text = (field: string) => (typeof exposure[field] === "string" && exposure[field] !== "" ? (exposure[field] as string) : undefined);
    const fields: Record<string, string[]> = {
        httproute: ["kind", "gatewayName", "gatewayNamespace", "sectionName", "proxyNamespace"],
        ingress: ["kind", "className", "tlsSecretName", "controllerNamespace"],
    };
    if (typeof exposure.kind === "string" && fields[exposure.kind]) refuseUnknownFields(exposure, fields[exposure.kind], "exposure", fail);
    if (exposure.kind === "httproute") {
        const gatewayName = text("gatewayName");
        const gatewayNamespace = text("gatewayNamespace");
        // Dex's NetworkPolicy admits its HTTP port from here only; most gateways run their proxies beside the Gateway.
        const proxyNamespace = text("proxyNamespace") ?? gatewayNamespace;
        if (gatewayName && gatewayNamespace) return { kind: "httproute", gatewayName, gatewayNamespace, sectionName: text("sectionName"), proxyNamespace: proxyNamespace! };
        fail("exposure", 'an httproute needs gatewayName and gatewayNamespace, e.g. { kind: httproute, gatewayName: platform, gatewayNamespace: kube-system, sectionName: https }.');
    } else if (exposure.kind === "ingress") {
        const className = text("className");
        // No controller's namespace is universal, and a wrong guess would cut Dex off.
        const controllerNamespace = text("controllerNamespace");
        if (className && controllerNamespace) return { kind: "ingress", className, tlsSecretName: text("tlsSecretName"), controllerNamespace };
        fail("exposure", "an ingress needs className and controllerNamespace (where the ingress controller's pods run: Dex's NetworkPolicy admits traffic from there only), e.g. { kind: ingress, className: nginx, controllerNamespace: ingress-nginx, tlsSecretName: dex-tls }.");
    } else {
        fail("exposure", `kind ${JSON.stringify(exposure.kind)} is unknown; use "httproute" or "ingress".`);
    }
    return undefined;
}
