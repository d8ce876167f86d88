// kubelogin as people run it: the program's kubeconfigUser entry, unchanged
// but for the person's browser and a token cache of their own; and that
// cache, which the steps read to tell a silent refresh from a login.
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import type { Browser } from "./browser-standin";
import type { Cluster } from "./control-plane";
import type { GitHubPerson } from "./github-people";
import { expectThat } from "./report";

export interface CachedTokens {
    id_token: string;
    refresh_token?: string;
}

/** One person's kubectl: their browser, their token cache. */
export interface Session {
    who: GitHubPerson;
    /** Logs in through GitHub in the person's browser whenever kubelogin needs a login. */
    kubeconfig: string;
    /** The same token cache with nobody at the browser: it works only while a token or a refresh does. */
    withoutLogin: string;
    tokens(): CachedTokens;
    /** Forgets the cached tokens: the next call logs in. */
    logOut(): void;
}

/** The kubeconfigUser entry with `extra` kubelogin flags. */
export function kubeloginUser(kubeconfigUser: string, ...extra: string[]): Record<string, any> {
    const user = parse(kubeconfigUser);
    user.user.exec.args.push(...extra);
    return user;
}

export function openSession(cluster: Cluster, kubeconfigUser: string, browser: Browser, cacheRoot: string, who: GitHubPerson, label = who.login): Session {
    const cacheDir = join(cacheRoot, label);
    const entry = (name: string, command: string) => cluster.kubeconfig(name, kubeloginUser(kubeconfigUser, `--browser-command=${command}`, `--token-cache-dir=${cacheDir}`));
    return {
        who,
        kubeconfig: entry(`oidc-${label}`, browser.commandFor(who)),
        withoutLogin: entry(`oidc-${label}-away`, browser.commandFor(who, "away")),
        tokens: () => cachedTokens(cacheDir),
        logOut: () => rmSync(cacheDir, { recursive: true, force: true }),
    };
}

/**
 * That a kubectl call through `Session.withoutLogin` failed because kubelogin
 * needed a new login (it ran the browser, where nobody was), not for another
 * reason; returns that, for the report.
 */
export function expectLoginAsked(result: { status: number; stderr: string }): string {
    expectThat(result.status !== 0, "kubectl worked without a new login");
    expectThat(/could not open the browser/.test(result.stderr), `kubectl failed, but not by asking for a login: ${result.stderr}`);
    return "kubelogin asked for a new login (nobody at the browser)";
}

/** kubelogin's cached token set (its cache holds one entry per client setup). */
export function cachedTokens(cacheDir: string): CachedTokens {
    const entries = readdirSync(cacheDir).filter((f) => !f.endsWith(".lock"));
    expectThat(entries.length === 1, `expected one kubelogin cache entry in ${cacheDir}, found ${entries.length}`);
    return JSON.parse(readFileSync(join(cacheDir, entries[0]), "utf8"));
}
