// One stack on the real engine, as the e2e, the sandbox and the bench drive
// it: the stack's keys set as an operator sets them, `pulumi` on the stack,
// its outputs as users read them, and Dex's pod as the cluster holds it.
import type { Cluster, Kubectl } from "./control-plane";
import { readDexConfig, type DexConfigFile } from "../dex/read";
import type { Engine } from "./engine";
import type { GitHubStandIn } from "./github";
import type { Report } from "./report";
import type { Outputs } from "./stack";

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

/** The keys a user sets by hand, then the stand-ins' addresses; `pulumi config set` as the README says. */
export async function configureStack(ctx: EngineContext, userKeys: Record<string, string>): Promise<void> {
    const { engine, projectDir, stack } = ctx;
    const must = async (args: string[]) => {
        const result = await engine.pulumi(projectDir, args);
        if (result.status !== 0) throw new Error(`pulumi ${args.slice(0, 3).join(" ")} failed: ${result.stderr || result.stdout}`);
    };
    await must(["stack", "init", stack, "--non-interactive"]);
    for (const [key, value] of Object.entries(userKeys)) {
        // A dotted key sets one field of a structured value (tokenLifetimes.idToken).
        await must(["config", "set", "--stack", stack, ...(key === "githubClientSecret" ? ["--secret"] : []), ...(key.includes(".") ? ["--path"] : []), key, "--", value]);
    }
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

/** The stack's outputs as `pulumi stack output` gives them to users. */
export async function stackOutputs({ engine, projectDir, stack }: EngineContext): Promise<Outputs> {
    const result = await engine.pulumi(projectDir, ["stack", "output", "--json", "--show-secrets", "--stack", stack]);
    if (result.status !== 0) throw new Error(`pulumi stack output failed: ${result.stderr}`);
    return JSON.parse(result.stdout) as Outputs;
}

/** Dex's config, the environment its pod gets, and the files its Secret volumes mount, read back from the cluster's Secrets and Deployment. */
export function deployedDex({ kubectl, cluster }: EngineContext): { configYaml: string; config: DexConfigFile; env: Record<string, string>; files: Record<string, string> } {
    const get = (kind: string, name: string) => {
        const result = kubectl(cluster.adminKubeconfig, "get", kind, name, "-n", "dex", "-o", "json");
        if (result.status !== 0) throw new Error(`reading ${kind}/${name}: ${result.stderr}`);
        return JSON.parse(result.stdout);
    };
    const decoded = (secret: string): Record<string, string> => Object.fromEntries(Object.entries(get("secret", secret).data as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, "base64").toString()]));
    const configYaml = decoded("dex-config")["config.yaml"];
    const config = readDexConfig(configYaml);
    const pod = get("deployment", "dex").spec.template.spec;
    const container = pod.containers[0];
    const env = Object.fromEntries(
        container.env.map((e: { name: string; value?: string; valueFrom?: { secretKeyRef: { name: string; key: string } } }) => [
            e.name,
            e.value ?? decoded(e.valueFrom!.secretKeyRef.name)[e.valueFrom!.secretKeyRef.key],
        ]),
    );
    const files: Record<string, string> = {};
    for (const mount of container.volumeMounts as { name: string; mountPath: string }[]) {
        const secret = pod.volumes.find((v: { name: string }) => v.name === mount.name)?.secret as { secretName: string; items?: { key: string; path: string }[] } | undefined;
        if (secret === undefined) continue;
        const data = decoded(secret.secretName);
        for (const { key, path } of secret.items ?? Object.keys(data).map((k) => ({ key: k, path: k }))) files[`${mount.mountPath}/${path}`] = data[key];
    }
    return { configYaml, config, env, files };
}
