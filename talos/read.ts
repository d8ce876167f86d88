// The inverse of render.ts: what a Talos patch makes the apiserver accept,
// read back from the YAML stream, whichever of the two forms it takes. Tests,
// the policy pack and the e2e read patches only through this, so that a
// change in how the patch is written is a change in one place.
import { parseAllDocuments } from "yaml";
import type { ClaimMapping } from "../contract/contract";
import { lowercasedUsernameExpression, type TalosPatchMode } from "./render";

/** How the apiserver turns a token into a user name: the claim, lowercased or as it is, after the prefix. */
export interface UsernameMapping extends ClaimMapping {
    lowercase: boolean;
}

export interface ApiServerOidcSettings {
    mode: TalosPatchMode;
    issuerUrl: string;
    audiences: string[];
    username: UsernameMapping;
    groups: ClaimMapping;
    /** The issuer CA's PEM: inline (1.14) or the content of the `machine.files` entry the flag names (≤1.13). */
    caPem?: string;
    /** The address a StaticHostConfig document (the node's /etc/hosts) gives the issuer's host, if any. */
    issuerAddress?: string;
}

/**
 * Every issuer the patch configures, in order. Reads any patch (not only the
 * program's): what it cannot read as a string is left undefined, and text that
 * is not YAML yields no issuer.
 */
export function readApiServerOidc(patchYaml: string): ApiServerOidcSettings[] {
    let documents: Record<string, unknown>[];
    try {
        documents = parseAllDocuments(patchYaml).map((d) => asObject(d.toJS()));
    } catch {
        return [];
    }
    const settings = documents.flatMap((document) => [...fromFlags(document, documents), ...fromAuthenticationConfig(document)]);
    return settings.map((s) => {
        const host = hostOf(s.issuerUrl);
        const entry = documents.find((doc) => doc.kind === "StaticHostConfig" && host !== undefined && list(doc.hostnames).includes(host));
        return entry ? { ...s, issuerAddress: text(entry.name) } : s;
    });
}

function hostOf(url: string): string | undefined {
    try {
        return new URL(url).hostname;
    } catch {
        return undefined;
    }
}

function fromFlags(document: Record<string, unknown>, all: Record<string, unknown>[]): ApiServerOidcSettings[] {
    const args = asObject(asObject(asObject(document.cluster).apiServer).extraArgs);
    const issuerUrl = text(args["oidc-issuer-url"]);
    if (issuerUrl === undefined) return [];
    const caFile = text(args["oidc-ca-file"]);
    const caBaseName = caFile?.split("/").pop();
    // The flag names the path inside the apiserver's pod; the file entry names the host path it is mounted from.
    const caEntry = all
        .flatMap((doc) => list(asObject(doc.machine).files).map(asObject))
        .find((file) => caBaseName !== undefined && text(file.path)?.split("/").pop() === caBaseName);
    return [
        {
            mode: "extraArgs",
            issuerUrl,
            audiences: [text(args["oidc-client-id"])].filter((a): a is string => a !== undefined),
            username: { claim: text(args["oidc-username-claim"]) ?? "", prefix: text(args["oidc-username-prefix"]) ?? "", lowercase: false },
            groups: { claim: text(args["oidc-groups-claim"]) ?? "", prefix: text(args["oidc-groups-prefix"]) ?? "" },
            caPem: text(caEntry?.content),
        },
    ];
}

function fromAuthenticationConfig(document: Record<string, unknown>): ApiServerOidcSettings[] {
    const configuration = document.kind === "KubeAuthenticationConfig" ? asObject(document.configuration) : document.kind === "AuthenticationConfiguration" ? document : {};
    return list(configuration.jwt).flatMap((entry) => {
        const jwt = asObject(entry);
        const issuer = asObject(jwt.issuer);
        const mappings = asObject(jwt.claimMappings);
        const issuerUrl = text(issuer.url);
        if (issuerUrl === undefined) return [];
        const mapping = (name: string): ClaimMapping => {
            const m = asObject(mappings[name]);
            return { claim: text(m.claim) ?? text(m.expression) ?? "", prefix: text(m.prefix) ?? "" };
        };
        return [
            {
                mode: "authenticationConfig" as const,
                issuerUrl,
                audiences: list(issuer.audiences).map(text).filter((a): a is string => a !== undefined),
                username: usernameMapping(text(asObject(mappings.username).expression), mapping("username")),
                groups: mapping("groups"),
                caPem: text(issuer.certificateAuthority),
            },
        ];
    });
}

/**
 * The program's lowercasing expression read back as the claim and prefix it
 * lowercases; any other mapping is `asWritten` (an expression in `claim`).
 */
function usernameMapping(expression: string | undefined, asWritten: ClaimMapping): UsernameMapping {
    const match = expression === undefined ? null : /^"([^"\\]*)" \+ claims\.(\w+)\.lowerAscii\(\)$/.exec(expression);
    const lowercased = match === null ? undefined : { claim: match[2], prefix: match[1] };
    return lowercased !== undefined && lowercasedUsernameExpression(lowercased) === expression ? { ...lowercased, lowercase: true } : { ...asWritten, lowercase: false };
}

function asObject(value: unknown): Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function list(value: unknown): unknown[] {
    return Array.isArray(value) ? value : [];
}

function text(value: unknown): string | undefined {
    return typeof value === "string" ? value : undefined;
}
