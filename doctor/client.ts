// The doctor's checks on the user's side of the login: kubelogin, the
// kubeconfig entry it runs from, and a cached login put through the apiserver.
// Pure functions, like checks.ts: main.ts reads the files and runs kubectl.
import { parse, stringify } from "yaml";
import { readKubeloginUser, type KubeloginSettings } from "../kubeconfig/read";
import { readApiServerOidc } from "../talos/read";
import { CHECKS, fail, firstLine, kubectlFailureFix, pass, skip, type CheckResult, type CommandResult } from "./checks";
import { parseJson } from "./stack";
import type { StackOutputs } from "./stack";

export function kubeloginCheck(result: CommandResult): CheckResult {
    if (result.status === 0) return pass(CHECKS.kubelogin, "`kubectl oidc-login --help` works");
    return fail(CHECKS.kubelogin, firstLine(result.stderr || result.stdout), "install kubelogin (`brew install int128/kubelogin/kubelogin` or `kubectl krew install oidc-login`); kubectl finds it as kubectl-oidc_login on PATH");
}

function setCredentials(stack: string): string {
    return `eval "$(pulumi stack output setCredentialsCommand --stack ${stack})" && eval "$(pulumi stack output setContextCommand --stack ${stack})"`;
}

/** The user's entry, found as kubectl finds it: the first file (of $KUBECONFIG's, or ~/.kube/config) that has it wins. */
export function kubeconfigEntryCheck(stack: string, outputs: StackOutputs, files: { path: string; text: string }[]): CheckResult {
    const name = CHECKS.kubeconfig;
    const expected = readKubeloginUser(outputs.kubeconfigUser);
    for (const { path, text } of files) {
        const entry = ((parseYaml(text)?.users ?? []) as { name: string; user?: { exec?: unknown } }[]).find((u) => u.name === expected.userName);
        if (!entry) continue;
        if (!entry.user?.exec) return fail(name, `${expected.userName} in ${path} does not run kubelogin`, `replace it: ${setCredentials(stack)}`);
        const actual = readKubeloginUser(stringify(entry));
        const differs = (["command", "issuerUrl", "clientId", "scopes", "caPem"] as (keyof KubeloginSettings)[]).filter((k) => JSON.stringify(actual[k]) !== JSON.stringify(expected[k]));
        if (differs.length === 0 && JSON.stringify(actual.args) !== JSON.stringify(expected.args)) differs.push("args");
        if (differs.length === 0) return pass(name, `${expected.userName} in ${path}`);
        return fail(name, `${expected.userName} in ${path} differs from the outputs in ${differs.map(label).join(", ")}`, `recreate it from the outputs: ${setCredentials(stack)}`);
    }
    const where = files.map((f) => f.path).join(", ") || "no kubeconfig file";
    return fail(name, `no user ${expected.userName} in ${where}`, `create it from the outputs: ${setCredentials(stack)}`);
}

function label(setting: keyof KubeloginSettings): string {
    return { caPem: "the issuer CA (--certificate-authority-data)", issuerUrl: "the issuer", clientId: "the client ID", scopes: "the scopes", command: "the command", args: "the arguments" }[setting as string] ?? setting;
}

function parseYaml(text: string): Record<string, any> | undefined {
    try {
        return parse(text) ?? undefined;
    } catch {
        return undefined;
    }
}

/** The ID-token claims of kubelogin's cached logins for this issuer (its cache files, as JSON text). */
export function cachedLogins(cacheFiles: string[], issuerUrl: string): Record<string, any>[] {
    return cacheFiles
        .map((text) => parseJson(text)?.id_token)
        .filter((token): token is string => typeof token === "string")
        .map((token) => parseJson(Buffer.from(token.split(".")[1] ?? "", "base64url").toString()))
        .filter((claims): claims is Record<string, any> => claims?.iss === issuerUrl);
}

/**
 * `kubectl auth whoami` through the user's OIDC context, judged against the
 * cached login: the name the stack's talosPatch maps its claims to. When the
 * apiserver refuses, the token tells which side is wrong: a token without the
 * audience comes from the client's settings; a token the patch would accept
 * means the apiserver is not running the patch.
 */
export function whoamiCheck(stack: string, outputs: StackOutputs, context: string, logins: Record<string, any>[], result?: CommandResult): CheckResult {
    const name = CHECKS.whoami;
    const relogin = `log in again: \`kubectl oidc-login clean\`, then \`kubectl --context ${context} auth whoami\``;
    if (logins.length === 0 || result === undefined) return skip(name, `no cached login for ${outputs.issuerUrl} yet; log in with \`kubectl --context ${context} auth whoami\``);
    const applied = readApiServerOidc(outputs.talosPatch).find((s) => s.issuerUrl === outputs.issuerUrl);
    const repatch = "re-apply the stack's talosPatch: `PLATFORM_AUTH_TALOS_REPAIR=1 pulumi up` with talosNodes set, or by hand only on a node without any of it (docs/talos.md, Applying the Talos patch; a second \`talosctl patch mc\` duplicates the CA file and host entries)";
    if (!applied) return fail(name, `the stack's talosPatch configures no issuer ${outputs.issuerUrl}`, `\`pulumi up\`, then ${repatch}`);
    const { claim, prefix, lowercase } = applied.username;
    const expected = logins.map((claims) => `${prefix}${lowercase ? String(claims[claim]).toLowerCase() : claims[claim]}`);
    if (result.timedOut) return fail(name, "kubelogin did not answer: the cached login has ended and it waits for a browser login", relogin);
    if (result.status === 0) {
        const username = parseJson(result.stdout)?.status?.userInfo?.username;
        if (expected.includes(username)) return pass(name, `as ${username}`);
        return fail(name, `the apiserver names you ${username}, the stack's patch maps your login to ${expected.join(" or ")}`, `the apiserver maps claims differently: ${repatch}`);
    }
    const stderr = result.stderr || result.stdout;
    if (/Unauthorized/.test(stderr)) {
        const audiences = (claims: Record<string, any>) => [claims.aud ?? []].flat() as string[];
        if (logins.every((claims) => !audiences(claims).includes(outputs.apiServerAudience))) {
            return fail(name, `Unauthorized: your token's audience is ${JSON.stringify(audiences(logins[0]))}, without ${outputs.apiServerAudience}`, `your kubeconfig user asks for other scopes than the stack's: ${setCredentials(stack)}, then ${relogin}`);
        }
        return fail(
            name,
            `Unauthorized, with a token from ${outputs.issuerUrl} for audience ${outputs.apiServerAudience}, which the stack's talosPatch accepts`,
            `the apiserver runs OIDC settings other than this stack's: ${repatch}. Just applied? The apiserver must also reach and trust ${outputs.issuerUrl}`,
        );
    }
    return fail(name, firstLine(stderr), kubectlFailureFix(context, result, relogin));
}
