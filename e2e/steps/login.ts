// Steps 4 and 5: logging in with the program's kubeconfig snippet, as a user
// would, gets exactly the read-only access the program grants; tokens the
// apiserver must not accept are refused.
import { join } from "node:path";
import { jwtClaims } from "../../lab/dex";
import { forgeJwt } from "../../lab/jwt";
import { ALLOWED_GROUP, ned } from "../../lab/github-people";
import { cachedTokens, kubeloginUser } from "../../lab/kubelogin";
import { waitFor } from "../../lab/processes";
import { expectThat, firstLine } from "../../lab/report";
import type { ModeContext } from "./context";

export async function loginSteps({ cluster, kubectl, report, session }: ModeContext): Promise<void> {
    const config = session(ned).kubeconfig;
    // The apiserver fetches the issuer's discovery document in the background; until then it refuses every token.
    await waitFor("the apiserver to accept OIDC tokens", () => (kubectl(config, "auth", "whoami", "-o", "json").status === 0 ? true : undefined), 90_000, cluster.apiServer).catch((error) => {
        throw new Error(`${error.message}\n${kubectl(config, "auth", "whoami").stderr}`);
    });

    await report.check("4. kubectl auth whoami", () => {
        const whoami = kubectl(config, "auth", "whoami", "-o", "json");
        expectThat(whoami.status === 0, whoami.stderr);
        const info = JSON.parse(whoami.stdout).status.userInfo;
        expectThat(info.username === `oidc:${ned.tokenEmail}`, `username ${info.username}`);
        expectThat(info.groups.includes(`oidc:${ALLOWED_GROUP}`), `groups ${info.groups}`);
        return `Username ${info.username}, Groups [${info.groups.join(" ")}]`;
    });
    const matrix: [string, string[], "yes" | "no"][] = [
        ["can-i list pods", ["list", "pods"], "yes"],
        ["can-i get secrets", ["get", "secrets"], "no"],
        ["can-i create deployments", ["create", "deployments"], "no"],
        ["can-i create pods/exec", ["create", "pods", "--subresource=exec"], "no"],
        ["can-i create pods/portforward", ["create", "pods", "--subresource=portforward"], "no"],
        ["can-i get nodes", ["get", "nodes"], "yes"],
        ["can-i list refreshtokens.dex.coreos.com", ["list", "refreshtokens.dex.coreos.com", "-n", "dex"], "no"],
        ["can-i get signingkeies.dex.coreos.com", ["get", "signingkeies.dex.coreos.com", "-n", "dex"], "no"],
    ];
    for (const [name, args, expected] of matrix) {
        await report.check(`4. ${name} is ${expected}`, () => {
            const answer = kubectl(config, "auth", "can-i", ...args).stdout.trim();
            expectThat(answer === expected, `answered ${answer}`);
        });
    }
    await report.check("4. kubectl get nodes and pods across namespaces work", () => {
        for (const args of [["get", "nodes"], ["get", "pods", "-A"]]) {
            const result = kubectl(config, ...args);
            expectThat(result.status === 0, result.stderr);
        }
    });
    await report.check("4. reading Dex's objects (refresh tokens, keys) is Forbidden", () => {
        const keys = kubectl(config, "get", "signingkeies.dex.coreos.com", "-n", "dex");
        expectThat(keys.status !== 0 && /forbidden/i.test(keys.stderr), `signing keys: ${keys.stdout}${keys.stderr}`);
        const result = kubectl(config, "get", "refreshtokens.dex.coreos.com", "-n", "dex");
        expectThat(result.status !== 0 && /forbidden/i.test(result.stderr), `refresh tokens: ${result.stdout}${result.stderr}`);
        return firstLine(result.stderr);
    });
}

export async function negativeSteps({ outputs, cluster, kubectl, report, browser, session }: ModeContext, runDir: string): Promise<void> {
    const { issuerUrl: issuer, kubectlClientId: clientId, apiServerAudience } = outputs;
    const withToken = (name: string, token: string) => cluster.kubeconfig(`token-${name}`, { name, user: { token } });
    const expectUnauthorized = (config: string) => {
        const result = kubectl(config, "get", "pods");
        expectThat(result.status !== 0 && /Unauthorized/.test(result.stderr), `not refused: ${result.stdout}${result.stderr}`);
        return firstLine(result.stderr);
    };

    // kubelogin as configured, less the scope that asks Dex for the apiserver's audience.
    await report.check("5. a Dex token without the apiserver's audience is Unauthorized", () => {
        const audienceScope = `--oidc-extra-scope=audience:server:client_id:${apiServerAudience}`;
        const user = kubeloginUser(outputs.kubeconfigUser);
        expectThat(user.user.exec.args.includes(audienceScope), `the kubeconfigUser entry does not ask for ${audienceScope}`);
        user.user.exec.args = user.user.exec.args.filter((a: string) => a !== audienceScope);
        const cacheDir = join(runDir, "token-caches", "no-audience");
        user.user.exec.args.push(`--browser-command=${browser.commandFor(ned)}`, `--token-cache-dir=${cacheDir}`);
        const refused = expectUnauthorized(cluster.kubeconfig("no-audience", user));
        const aud = jwtClaims(cachedTokens(cacheDir).id_token).aud;
        expectThat(![aud].flat().includes(apiServerAudience), `the token has the audience anyway: ${JSON.stringify(aud)}`);
        return `aud ${JSON.stringify(aud)}: ${refused}`;
    });
    await report.check("5. (control) the same login with the audience scope, as configured, carries the apiserver's audience", () => {
        const aud = jwtClaims(session(ned).tokens().id_token).aud;
        expectThat([aud].flat().includes(apiServerAudience), `aud ${JSON.stringify(aud)}`);
        return `aud ${JSON.stringify(aud)}`;
    });
    const claims = { aud: [apiServerAudience, clientId], email: ned.tokenEmail, email_verified: true, groups: [ALLOWED_GROUP], sub: "forged" };
    await report.check("5. a token from another issuer is Unauthorized", () => expectUnauthorized(withToken("other-issuer", forgeJwt({ ...claims, iss: "https://dex.elsewhere.lan" }))));
    await report.check("5. a token claiming our issuer but signed by another key is Unauthorized", () => expectUnauthorized(withToken("forged", forgeJwt({ ...claims, iss: issuer }))));
}
