// Steps 4 and 5: logging in with the program's kubeconfig snippet, as a user
// would, gets exactly the read-only access the program grants; tokens the
// apiserver must not accept are refused.
import { createSign, generateKeyPairSync } from "node:crypto";
import { jwtClaims, mallory, ned, passwordGrantToken } from "../dex";
import { waitFor } from "../processes";
import { expectThat, firstLine } from "../report";
import type { ModeContext } from "./context";

export async function loginSteps({ cluster, kubectl, report, oidcKubeconfig }: ModeContext): Promise<void> {
    const config = oidcKubeconfig(ned);
    // The apiserver fetches the issuer's discovery document in the background; until then it refuses every token.
    await waitFor("the apiserver to accept OIDC tokens", () => (kubectl(config, "auth", "whoami", "-o", "json").status === 0 ? true : undefined), 90_000, cluster.apiServer).catch((error) => {
        throw new Error(`${error.message}\n${kubectl(config, "auth", "whoami").stderr}`);
    });

    await report.check("4. kubectl auth whoami", () => {
        const whoami = kubectl(config, "auth", "whoami", "-o", "json");
        expectThat(whoami.status === 0, whoami.stderr);
        const info = JSON.parse(whoami.stdout).status.userInfo;
        expectThat(info.username === `oidc:${ned.email}`, `username ${info.username}`);
        expectThat(info.groups.includes("oidc:devantler-tech:platform"), `groups ${info.groups}`);
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

export async function negativeSteps({ outputs, cluster, kubectl, issuerCaPem, report, oidcKubeconfig }: ModeContext): Promise<void> {
    const { issuerUrl: issuer, kubectlClientId: clientId, apiServerAudience } = outputs;
    const withToken = (name: string, token: string) => cluster.kubeconfig(`token-${name}`, { name, user: { token } });
    const expectUnauthorized = (name: string, token: string) => {
        const result = kubectl(withToken(name, token), "get", "pods");
        expectThat(result.status !== 0 && /Unauthorized/.test(result.stderr), `not refused: ${result.stdout}${result.stderr}`);
        return firstLine(result.stderr);
    };

    const malloryConfig = oidcKubeconfig(mallory);
    await report.check("5. an identity outside the bound users and groups is Forbidden on reads", () => {
        const whoami = JSON.parse(kubectl(malloryConfig, "auth", "whoami", "-o", "json").stdout).status.userInfo.username;
        const result = kubectl(malloryConfig, "get", "pods");
        expectThat(result.status !== 0 && /forbidden/i.test(result.stderr), `${result.stdout}${result.stderr}`);
        return `${whoami}: ${firstLine(result.stderr)}`;
    });
    // Straight from Dex, because kubelogin always asks for the audience scope the program configures.
    const scopes = ["openid", "email", "groups"];
    await report.check("5. a Dex token without the apiserver's audience is Unauthorized", async () => {
        const token = await passwordGrantToken(issuer, issuerCaPem, clientId, ned, scopes);
        return `aud ${JSON.stringify(jwtClaims(token).aud)}: ${expectUnauthorized("no-audience", token)}`;
    });
    await report.check("5. (control) the same grant with the audience scope is accepted", async () => {
        const token = await passwordGrantToken(issuer, issuerCaPem, clientId, ned, [...scopes, `audience:server:client_id:${apiServerAudience}`]);
        const result = kubectl(withToken("with-audience", token), "get", "pods");
        expectThat(result.status === 0, result.stderr);
        return `aud ${JSON.stringify(jwtClaims(token).aud)}`;
    });
    const claims = { aud: [apiServerAudience, clientId], email: ned.email, email_verified: true, groups: ned.groups, sub: "forged" };
    await report.check("5. a token from another issuer is Unauthorized", () => expectUnauthorized("other-issuer", forgeJwt({ ...claims, iss: "https://dex.elsewhere.lan" })));
    await report.check("5. a token claiming our issuer but signed by another key is Unauthorized", () => expectUnauthorized("forged", forgeJwt({ ...claims, iss: issuer })));
}

/** A well-formed RS256 ID token signed by a key Dex never had. */
function forgeJwt(claims: Record<string, unknown>): string {
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const now = Math.floor(Date.now() / 1000);
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
    const unsigned = `${encode({ alg: "RS256", typ: "JWT", kid: "forged" })}.${encode({ iat: now, exp: now + 600, ...claims })}`;
    return `${unsigned}.${createSign("RSA-SHA256").update(unsigned).sign(privateKey).toString("base64url")}`;
}
