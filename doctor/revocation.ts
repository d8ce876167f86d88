// Revoking one user's sessions in Dex's own storage (its Kubernetes CRDs), as
// pure functions: which objects to delete, and what the user keeps. Dex 2.45's
// storage/kubernetes/types.go stores a refresh token with the user's claims
// (claims.email, claims.userID) and its connectorID, and one OfflineSessions
// object per (userID, connID) that points at the user's refresh tokens. Only
// the refresh tokens carry the email, so they lead to the sessions.
import { readDexConfig } from "../dex/read";

export const REFRESH_TOKENS = "refreshtokens.dex.coreos.com";
export const OFFLINE_SESSIONS = "offlinesessionses.dex.coreos.com";
/** Dex's own default when its config sets no expiry.idTokens. */
const DEX_DEFAULT_ID_TOKEN_LIFETIME = "24h";

export interface DexRefreshToken {
    metadata: { name: string };
    clientID?: string;
    connectorID?: string;
    claims?: { userID?: string; email?: string };
    /** Dex's Go field names carry no JSON tags, so these keep their capitals. */
    LastUsed?: string;
}

export interface DexOfflineSession {
    metadata: { name: string };
    userID?: string;
    connID?: string;
}

export interface Revocation {
    refreshTokens: DexRefreshToken[];
    offlineSessions: DexOfflineSession[];
}

/** The user's refresh tokens (by the email in their claims, case aside) and the offline sessions of the same user and connector. */
export function revocationFor(email: string, refreshTokens: DexRefreshToken[], offlineSessions: DexOfflineSession[]): Revocation {
    const wanted = email.trim().toLowerCase();
    const tokens = refreshTokens.filter((t) => t.claims?.email?.toLowerCase() === wanted);
    const owners = new Set(tokens.map((t) => JSON.stringify([t.claims?.userID, t.connectorID])));
    return { refreshTokens: tokens, offlineSessions: offlineSessions.filter((s) => owners.has(JSON.stringify([s.userID, s.connID]))) };
}

/** How long ID tokens already issued stay valid: Dex's running config first, else the stack's setting. */
export function idTokenWindow(dexConfigYaml: string | undefined, stackLifetime: string | undefined): { lifetime: string; source: string } {
    if (dexConfigYaml !== undefined) {
        const lifetime = readDexConfig(dexConfigYaml).expiry?.idTokens;
        return lifetime ? { lifetime, source: "expiry.idTokens in the dex-config Secret" } : { lifetime: DEX_DEFAULT_ID_TOKEN_LIFETIME, source: "Dex's default (the dex-config Secret sets no expiry.idTokens)" };
    }
    if (stackLifetime) return { lifetime: stackLifetime, source: "tokenLifetimes.idToken in the stack config (the dex-config Secret was not readable)" };
    return { lifetime: DEX_DEFAULT_ID_TOKEN_LIFETIME, source: "Dex's default (neither the dex-config Secret nor the stack config was readable)" };
}

/** What revoke prints: what it deleted, and the window that remains. */
export function revocationReport(email: string, revocation: Revocation, window: { lifetime: string; source: string }): string[] {
    if (revocation.refreshTokens.length === 0) {
        return [`No Dex refresh token carries the email ${email}: nothing to revoke (check the spelling; a user who never logged in, or whose sessions ended, has none).`];
    }
    return [
        ...revocation.refreshTokens.map((t) => `deleted ${REFRESH_TOKENS}/${t.metadata.name} (client ${t.clientID ?? "?"}, connector ${t.connectorID ?? "?"}, last used ${t.LastUsed ?? "?"})`),
        ...revocation.offlineSessions.map((s) => `deleted ${OFFLINE_SESSIONS}/${s.metadata.name} (user ${s.userID}, connector ${s.connID})`),
        `${email}'s next silent refresh fails; kubectl asks them to log in again.`,
        `ID tokens already issued stay valid for up to ${window.lifetime} (${window.source}): Dex cannot recall them.`,
        "RBAC acts at once: to cut a user bound by email off before then, remove them from readOnlyUsers and `pulumi up`.",
    ];
}
