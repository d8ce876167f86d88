// What the steps share within one run: the stack on the real engine, and
// after it is up, its outputs, the cluster and Dex it configured, and the ways
// in that users have.
import type { Outputs } from "../../test/support/stack";
import type { Engine } from "../engine";
import type { GitHubStandIn } from "../github";
import type { Cluster, Kubectl, Pki } from "../control-plane";
import type { DexHandle, StaticUser } from "../dex";
import type { Report } from "../report";

/** One stack on the real engine: its copy of the program, the cluster it deploys to, and the GitHub stand-in. */
export interface EngineContext {
    engine: Engine;
    projectDir: string;
    stack: string;
    cluster: Cluster;
    kubectl: Kubectl;
    /** For the one watch that must run beside the engine rather than after it. */
    kubectlBinary: string;
    github: GitHubStandIn;
    report: Report;
    runDir: string;
}

export interface ModeContext {
    /** The stack's outputs, as `pulumi stack output` gives them. */
    outputs: Outputs;
    cluster: Cluster;
    pki: Pki;
    dex: DexHandle;
    kubectl: Kubectl;
    /** The issuer's CA, which kubelogin and direct token requests trust. */
    issuerCaPem: string;
    /** kubelogin's HOME: its token cache lives below it. */
    home: string;
    report: Report;
    /** A kubeconfig with the program's kubeconfigUser entry, logging in as `who` by password grant. */
    oidcKubeconfig(who: StaticUser, password?: string): string;
}

/** `pulumi <args>` on the run's stack, in its copy of the program, without prompts (`args` must not contain `--`). */
export function onStack(ctx: Pick<EngineContext, "engine" | "projectDir" | "stack">, ...args: string[]): ReturnType<Engine["pulumi"]> {
    return ctx.engine.pulumi(ctx.projectDir, [...args, "--stack", ctx.stack, "--non-interactive"]);
}

/** `pulumi config set <args>` on the run's stack (a value after `--` may start with a dash); fails the step loudly. */
export async function setConfig(ctx: Pick<EngineContext, "engine" | "projectDir" | "stack">, ...args: string[]): Promise<void> {
    const set = await ctx.engine.pulumi(ctx.projectDir, ["config", "set", "--stack", ctx.stack, ...args]);
    if (set.status !== 0) throw new Error(`pulumi config set ${args.filter((a) => !a.includes("\n")).join(" ")} failed: ${set.stderr}`);
}
