// What the steps share within one run: the stack on the real engine, and
// after it is up, its outputs, the cluster and Dex it configured, and the ways
// in that users have.
import type { Outputs } from "../../lab/stack";
import { setConfig, type EngineContext } from "../../lab/deployment";
import type { GitHubStandIn } from "../../lab/github";
import type { Cluster, Kubectl, Pki } from "../../lab/control-plane";
import type { Browser } from "../../lab/browser-standin";
import type { DexHandle } from "../../lab/dex";
import type { GitHubPerson } from "../../lab/github-people";
import type { Session } from "../../lab/kubelogin";
import type { Report } from "../../lab/report";

export interface ModeContext {
    /** The stack's outputs, as `pulumi stack output` gives them. */
    outputs: Outputs;
    cluster: Cluster;
    pki: Pki;
    dex: DexHandle;
    kubectl: Kubectl;
    /** The issuer's CA, as the stack's issuerCaPem holds it (the day-two step swaps it and puts it back). */
    issuerCaPem: string;
    report: Report;
    /** The GitHub people log in to, and its record of the calls Dex made. */
    github: GitHubStandIn;
    /** Every person's browser in this run, and its record of their visits. */
    browser: Browser;
    /** Which GitHub people log in to: github.com, or the local runs' Enterprise Server. */
    githubForm: "github.com" | "GitHub Enterprise Server";
    /** `who` at kubectl with the program's kubeconfigUser entry and a token cache of their own (one per `label`). */
    session(who: GitHubPerson, label?: string): Session;
}

/** A team as the stack config spells it. */
export interface TeamConfig {
    slug: string;
    existing?: boolean;
    members: { username: string; role?: string }[];
}

/** The stack's githubTeams as they are set now. */
export async function configuredTeams(ctx: Pick<EngineContext, "engine" | "projectDir" | "stack">): Promise<TeamConfig[]> {
    const get = await ctx.engine.pulumi(ctx.projectDir, ["config", "get", "githubTeams", "--stack", ctx.stack]);
    if (get.status !== 0) throw new Error(`pulumi config get githubTeams failed: ${get.stderr}`);
    return JSON.parse(get.stdout) as TeamConfig[];
}

/** A JSON text of nested records with every key sorted: GitHub lists members in its own order. */
export function canonical(value: unknown): string {
    const sort = (v: unknown): unknown => (v !== null && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)).map(([k, x]) => [k, sort(x)])) : v);
    return JSON.stringify(sort(value));
}

/** Sets the stack's githubTeams. */
export const setTeams = (ctx: Pick<EngineContext, "engine" | "projectDir" | "stack">, teams: TeamConfig[]) => setConfig(ctx, "githubTeams", "--", JSON.stringify(teams));


