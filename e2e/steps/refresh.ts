// Step 6: with the run's short lifetimes (stack config, so Dex runs as
// deployed), short-lived ID tokens are renewed silently, Dex asking GitHub
// again each time, until the refresh token has gone unused too long; then a
// new login is needed.
import { durationSeconds } from "../../config/fields";
import { jwtClaims } from "../../lab/dex";
import { ned } from "../../lab/github-people";
import { expectLoginAsked } from "../../lab/kubelogin";
import { sleep } from "../../lab/processes";
import { expectThat, firstLine } from "../../lab/report";
import type { ModeContext } from "./context";

export async function refreshSteps({ cluster, kubectl, report, session, dex, github }: ModeContext): Promise<void> {
    const person = session(ned, "refresh");
    const login = kubectl(person.kubeconfig, "get", "pods");
    expectThat(login.status === 0, `the first login failed: ${login.stderr}`);
    const first = person.tokens();
    await report.check("6. the login requested offline_access and got a refresh token", () => {
        expectThat(typeof first.refresh_token === "string" && first.refresh_token.length > 0, "no refresh token in kubelogin's cache");
        return `ID token lifetime ${jwtClaims(first.id_token).exp - jwtClaims(first.id_token).iat}s`;
    });
    await sleep(Math.max(0, jwtClaims(first.id_token).exp * 1000 - Date.now()) + 1000);
    await report.check("5. a token past its expiry is Unauthorized", () => {
        const result = kubectl(cluster.kubeconfig("expired", { name: "expired", user: { token: first.id_token } }), "get", "pods");
        expectThat(result.status !== 0 && /Unauthorized/.test(result.stderr), `${result.stdout}${result.stderr}`);
        return firstLine(result.stderr);
    });
    // From here on nobody is at the browser: only the refresh token can keep kubectl working.
    await report.check("6. after the ID token expires, kubectl keeps working through a silent refresh, Dex asking GitHub again", () => {
        const asked = () => github.calls().filter((c) => c.who === ned.login && c.path === "/user/teams").length;
        const before = asked();
        const result = kubectl(person.withoutLogin, "get", "pods");
        expectThat(result.status === 0, result.stderr);
        expectThat(person.tokens().id_token !== first.id_token, "the ID token was not renewed");
        expectThat(asked() > before, "Dex renewed the token without asking GitHub for the teams again");
        return `new ID token obtained with the refresh token; Dex asked GitHub for ${ned.login}'s teams again`;
    });
    // Past the refresh token's idle limit (the stack config's refreshTokenIdle) without using it, with a margin.
    const lastUse = Date.now();
    await sleep(durationSeconds(dex.config.expiry.refreshTokens.validIfNotUsedFor) * 1000 + 2000);
    await report.check("6. a refresh token left unused past its idle limit needs a new login", () => {
        const asked = expectLoginAsked(kubectl(person.withoutLogin, "get", "pods"));
        const relogin = kubectl(person.kubeconfig, "get", "pods");
        expectThat(relogin.status === 0, `the new login failed: ${relogin.stderr}`);
        return `${Math.round((Date.now() - lastUse) / 1000)}s after the last use, ${asked}; a new login works`;
    });
}
