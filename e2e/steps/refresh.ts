// Step 6: with Dex's lifetimes shortened, short-lived ID tokens are renewed
// silently until the refresh token's lifetime ends, then a new login is needed.
import { jwtClaims, ned } from "../dex";
import { cachedTokens, clearTokenCache } from "../kubelogin";
import { sleep } from "../processes";
import { expectThat, firstLine } from "../report";
import type { ModeContext } from "./context";

export async function refreshSteps({ cluster, dex, kubectl, home, report, oidcKubeconfig }: ModeContext): Promise<void> {
    await dex.restart("dex-short-expiry", { idTokens: "10s", refreshTokens: { validIfNotUsedFor: "40s", absoluteLifetime: "40s", reuseInterval: "3s" } });
    clearTokenCache(home);
    const loggedInAt = Date.now();
    const login = kubectl(oidcKubeconfig(ned), "get", "pods");
    expectThat(login.status === 0, `the first login failed: ${login.stderr}`);
    const first = cachedTokens(home);
    await report.check("6. the login requested offline_access and got a refresh token", () => {
        expectThat(typeof first.refresh_token === "string" && first.refresh_token.length > 0, "no refresh token in kubelogin's cache");
        return `ID token lifetime ${jwtClaims(first.id_token).exp - jwtClaims(first.id_token).iat}s`;
    });
    // From here a password grant would fail, so only the refresh token can keep kubectl working.
    const wrongPassword = oidcKubeconfig(ned, "not-the-password");
    await sleep(Math.max(0, jwtClaims(first.id_token).exp * 1000 - Date.now()) + 2000);
    await report.check("5. a token past its expiry is Unauthorized", () => {
        const result = kubectl(cluster.kubeconfig("expired", { name: "expired", user: { token: first.id_token } }), "get", "pods");
        expectThat(result.status !== 0 && /Unauthorized/.test(result.stderr), `${result.stdout}${result.stderr}`);
        return firstLine(result.stderr);
    });
    await report.check("6. after the ID token expires, kubectl keeps working through a silent refresh (no password grant)", () => {
        const result = kubectl(wrongPassword, "get", "pods");
        expectThat(result.status === 0, result.stderr);
        expectThat(cachedTokens(home).id_token !== first.id_token, "the ID token was not renewed");
        return "new ID token obtained with the refresh token";
    });
    // 45s: past the refresh token's 40s absolute lifetime, with a margin.
    await sleep(Math.max(0, loggedInAt + 45_000 - Date.now()));
    await report.check("6. once the refresh token's lifetime is over, a new login is required", () => {
        const refused = kubectl(wrongPassword, "get", "pods");
        expectThat(refused.status !== 0, "kubectl still worked without a new login");
        const relogin = kubectl(oidcKubeconfig(ned), "get", "pods");
        expectThat(relogin.status === 0, `the new login failed: ${relogin.stderr}`);
        return `without a login: ${firstLine(refused.stderr)}; a new login works`;
    });
}
