// kubelogin as users run it, through the program's kubeconfigUser entry, with
// its password grant standing in for the browser; and its token cache, which
// the refresh and fault steps inspect to tell a silent refresh from a login.
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { expectThat } from "./report";

/** The kubeconfigUser entry unchanged except for kubelogin's password-grant flags. */
export function withPasswordGrant(kubeconfigUser: string, username: string, password: string): Record<string, any> {
    const user = parse(kubeconfigUser);
    user.user.exec.args.push("--grant-type=password", `--username=${username}`, `--password=${password}`);
    return user;
}

function cacheDir(home: string): string {
    return join(home, ".kube", "cache", "oidc-login");
}

export function clearTokenCache(home: string): void {
    rmSync(cacheDir(home), { recursive: true, force: true });
}

/** kubelogin's cached token set (its cache holds one entry per client setup). */
export function cachedTokens(home: string): { id_token: string; refresh_token?: string } {
    const entries = readdirSync(cacheDir(home)).filter((f) => !f.endsWith(".lock"));
    expectThat(entries.length === 1, `expected one kubelogin cache entry, found ${entries.length}`);
    return JSON.parse(readFileSync(join(cacheDir(home), entries[0]), "utf8"));
}
