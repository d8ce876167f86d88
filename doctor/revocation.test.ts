import { expect } from "chai";
import { stringify } from "yaml";
import { oidcContract } from "../contract/contract";
import { dexConfig } from "../dex/config";
import { idTokenWindow, OFFLINE_SESSIONS, REFRESH_TOKENS, revocationFor, revocationReport } from "./revocation";

/** A RefreshToken object as Dex 2.45's kubernetes storage writes it (storage/kubernetes/types.go). */
function refreshToken(name: string, email: string, userID: string, connectorID = "github") {
    return {
        apiVersion: "dex.coreos.com/v1",
        kind: "RefreshToken",
        metadata: { name, namespace: "dex" },
        CreatedAt: "2026-01-01T10:00:00Z",
        LastUsed: "2026-01-01T11:00:00Z",
        clientID: "kubectl",
        scopes: ["openid", "email", "groups", "offline_access"],
        token: "secret-token-value",
        claims: { userID, username: email.split("@")[0], preferredUsername: "", email, emailVerified: true, groups: ["devantler-tech:platform"] },
        connectorID,
    };
}

/** An OfflineSessions object: one per user and connector, named by a hash of the two. */
function offlineSession(name: string, userID: string, connID = "github") {
    return { apiVersion: "dex.coreos.com/v1", kind: "OfflineSessions", metadata: { name, namespace: "dex" }, userID, connID, refresh: { kubectl: { id: "x", clientID: "kubectl" } } };
}

describe("revoke", () => {
    const tokens = [refreshToken("rt-ned-1", "ned@devantler.tech", "1001"), refreshToken("rt-mallory", "mallory@example.com", "2002"), refreshToken("rt-ned-2", "Ned@Devantler.tech", "1001")];
    const sessions = [offlineSession("os-ned", "1001"), offlineSession("os-mallory", "2002"), offlineSession("os-ned-other-connector", "1001", "local")];

    it("deletes the user's refresh tokens (by the email in their claims) and their offline session, and nobody else's", () => {
        const revocation = revocationFor("NED@devantler.tech", tokens, sessions);
        expect(revocation.refreshTokens.map((t) => t.metadata.name)).to.deep.equal(["rt-ned-1", "rt-ned-2"]);
        // Offline sessions are keyed by user ID and connector: the same user ID under another connector is another identity.
        expect(revocation.offlineSessions.map((s) => s.metadata.name)).to.deep.equal(["os-ned"]);
    });

    it("an unknown email revokes nothing, and says so", () => {
        const revocation = revocationFor("nobody@devantler.tech", tokens, sessions);
        expect(revocation).to.deep.equal({ refreshTokens: [], offlineSessions: [] });
        expect(revocationReport("nobody@devantler.tech", revocation, { lifetime: "1h", source: "x" }).join("\n")).to.include("nothing to revoke");
    });

    it("reports each deleted object and the ID-token window that remains", () => {
        const report = revocationReport("ned@devantler.tech", revocationFor("ned@devantler.tech", tokens, sessions), { lifetime: "15m", source: "expiry.idTokens in the dex-config Secret" }).join("\n");
        expect(report).to.include(`${REFRESH_TOKENS}/rt-ned-1`).and.include(`${REFRESH_TOKENS}/rt-ned-2`).and.include(`${OFFLINE_SESSIONS}/os-ned`);
        expect(report).not.to.include("rt-mallory");
        expect(report).to.include("valid for up to 15m");
    });

    it("takes the window from the Dex config the cluster runs, else from the stack config, else Dex's default", () => {
        const contract = oidcContract({ domain: "platform.lan" });
        const running = stringify(dexConfig({ contract, githubOrg: "devantler-tech", teamSlugs: ["platform"], tokenLifetimes: { idToken: "15m", refreshTokenIdle: "1h", refreshTokenAbsolute: "2h" }, deviceFlow: false }));
        expect(idTokenWindow(running, "1h")).to.include({ lifetime: "15m" });
        expect(idTokenWindow(undefined, "1h")).to.include({ lifetime: "1h" });
        expect(idTokenWindow(stringify({ issuer: contract.issuerUrl, staticClients: [] }), "1h")).to.include({ lifetime: "24h" });
    });
});
