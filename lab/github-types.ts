// What the GitHub stand-in (github.ts) and its server (github-server.ts)
// both speak of: the options it starts with and what it records.
import type { GitHubPerson } from "./github-people";
import type { KeyPair } from "./pki";

export interface RecordedCall {
    method: string;
    host: string;
    path: string;
    /** The query string, with its `?` (a page of a list), or "". */
    query: string;
    /** The person whose token made the call; undefined for the provider's token and the web flow. */
    who?: string;
    body?: Record<string, unknown>;
    status: number;
}

/** A change to a team's members, as GitHub made it. */
export interface MembershipChange {
    at: number;
    slug: string;
    login: string;
    role?: string;
}

export interface GitHubStandInOptions {
    org: string;
    /** Signs the certificate it serves for every name it answers to (on GITHUB_ADDRESS:443). */
    ca: KeyPair & { dir: string };
    people: GitHubPerson[];
    /** The OAuth app registered for Dex: its client ID and secret, and the callback URL it was registered with. */
    oauthApp: { clientId: string; clientSecret: string; callbackUrl: string };
    /** Where it listens and the names its certificate carries; GITHUB_ADDRESS:443 and GITHUB_HOSTS unless given. */
    listen?: { address: string; port: number; hosts: string[] };
}
