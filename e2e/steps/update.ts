// Step 8: living with the stack on the real engine. A no-op preview right
// after `up`; a rotated GitHub secret and a changed token lifetime roll Dex
// without its Secrets ever being absent; the policy pack passes the program
// and refuses a violating one; `pulumi destroy` leaves nothing behind.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { programObjects } from "../../preflight/existing";
import { REPO_ROOT, stackFileConfig, USER_KEYS } from "../../lab/stack-file";
import { policies } from "../../policy/rules";
import { copyFixture } from "../../lab/engine";
import { expectThat, firstLine } from "../../lab/report";
import { onStack, setConfig, deployedDex, type EngineContext } from "../../lab/deployment";

const DEX_SECRETS = ["dex-config", "dex-credentials"];

export async function noOpPreviewStep(ctx: EngineContext): Promise<void> {
    await ctx.report.check("8. pulumi preview --expect-no-changes passes right after up", async () => {
        const preview = await onStack(ctx, "preview", "--expect-no-changes");
        expectThat(preview.status === 0, preview.stdout + preview.stderr);
        return firstLine(preview.stdout.split("Resources:")[1] ?? "");
    });
}

/** Changes one config value and runs `up`, watching Dex's Secrets and pods meanwhile. */
async function rolledUpdate(ctx: EngineContext, what: string, configArgs: string[], expectInSecrets: (deployed: ReturnType<typeof deployedDex>) => string | undefined): Promise<void> {
    const { report, kubectl, cluster } = ctx;
    const templateAnnotations = () => JSON.parse(kubectl(cluster.adminKubeconfig, "get", "deployment", "dex", "-n", "dex", "-o", "json").stdout).spec.template.metadata.annotations;
    const before = templateAnnotations();
    await setConfig(ctx, ...configArgs);
    const watch = watchSecretEvents(ctx);
    const up = await onStack(ctx, "up", "--yes", "--skip-preview");
    const events = await watch.stop();
    await report.check(`8. ${what}: up succeeds, and Dex's config and credentials Secrets are never absent`, () => {
        expectThat(up.status === 0, up.stdout + up.stderr);
        const deleted = events.filter((e) => e.type === "DELETED");
        expectThat(deleted.length === 0, `deleted during the update: ${deleted.map((e) => e.name).join(", ")}`);
        const modified = events.filter((e) => e.type === "MODIFIED").map((e) => e.name);
        expectThat(modified.length > 0, "no Secret was updated in place, so the check watched nothing");
        return `Secret events: ${events.map((e) => `${e.type} ${e.name}`).join(", ")}`;
    });
    await report.check(`8. ${what}: Dex rolled onto the new pod template, and the Secrets it reads hold the new values`, () => {
        const rollout = kubectl(cluster.adminKubeconfig, "rollout", "status", "deployment/dex", "-n", "dex", "--timeout=120s");
        expectThat(rollout.status === 0, rollout.stderr);
        const after = templateAnnotations();
        expectThat(JSON.stringify(after) !== JSON.stringify(before), "the pod template did not change, so no pod rolled");
        const pods = JSON.parse(kubectl(cluster.adminKubeconfig, "get", "pods", "-n", "dex", "-l", "app.kubernetes.io/name=dex", "-o", "json").stdout).items;
        const stale = pods.filter((p: any) => p.metadata.deletionTimestamp === undefined && JSON.stringify(pick(p.metadata.annotations, Object.keys(after))) !== JSON.stringify(after));
        expectThat(pods.length > 0 && stale.length === 0, `${stale.length} of ${pods.length} pods still run the old template`);
        const missing = expectInSecrets(deployedDex(ctx));
        expectThat(missing === undefined, missing ?? "");
        return `${pods.length} pod(s) on the new template`;
    });
}

export async function rotationSteps(ctx: EngineContext, rotatedSecret: string): Promise<void> {
    // As the app's owner does first: a new client secret in GitHub (the old one stays valid until deleted).
    ctx.github.addClientSecret(rotatedSecret);
    await rolledUpdate(ctx, "rotating githubClientSecret", ["--secret", "githubClientSecret", "--", rotatedSecret], ({ env }) =>
        env.GITHUB_CLIENT_SECRET === rotatedSecret ? undefined : "the GITHUB_CLIENT_SECRET the pod reads is not the rotated secret",
    );
    // Then the old one is deleted: every later login proves Dex exchanges codes with the new one.
    ctx.github.deleteClientSecret(USER_KEYS.githubClientSecret);
    // A lifetime still short enough for the run's later refresh steps.
    await rolledUpdate(ctx, "changing the ID token lifetime", ["--path", "tokenLifetimes.idToken", "12s"], ({ config }) =>
        config.expiry.idTokens === "12s" ? undefined : `Dex's config says idTokens ${config.expiry.idTokens}`,
    );
}

export async function policySteps(ctx: EngineContext, withViolatingProgram: boolean): Promise<void> {
    const pack = join(REPO_ROOT, "policy");
    await ctx.report.check("8. pulumi preview --policy-pack policy passes the program", async () => {
        const preview = await onStack(ctx, "preview", "--policy-pack", pack);
        expectThat(preview.status === 0, preview.stdout + preview.stderr);
        expectThat(/platform-auth-guardrails/.test(preview.stdout + preview.stderr), "the pack did not run");
        return `${policies.length} mandatory rules, no violation`;
    });
    if (!withViolatingProgram) return;
    await ctx.report.check("8. the pack refuses a program that binds an oidc: user to edit, with the rule's message", async () => {
        const dir = copyFixture(REPO_ROOT, "violating", join(ctx.runDir, "violating"));
        await ctx.engine.pulumi(dir, ["stack", "init", "violating", "--non-interactive"]);
        const preview = await ctx.engine.pulumi(dir, ["preview", "--stack", "violating", "--non-interactive", "--policy-pack", pack]);
        const text = preview.stdout + preview.stderr;
        expectThat(preview.status !== 0, "the violating program passed the pack");
        expectThat(/binds OIDC subjects oidc:mallory@example\.com to ClusterRole\/edit, which can write/.test(text), `refused, but not with the read-only rule's message: ${text}`);
        return firstLine(text.split("\n").find((l) => /oidc-read-only-access/.test(l)) ?? "");
    });
}

export async function destroySteps(ctx: EngineContext): Promise<void> {
    const { report, kubectl, cluster, github } = ctx;
    const destroy = await onStack(ctx, "destroy", "--yes", "--skip-preview");
    await report.check("10. pulumi destroy succeeds and leaves nothing: namespace, cluster roles, bindings, route, teams (but those made by hand before the stack)", () => {
        expectThat(destroy.status === 0, destroy.stdout + destroy.stderr);
        // Every object the program creates (the list the adoption preflight asks about, kept equal to the program's by a test).
        const exposure = JSON.parse(stackFileConfig(ctx.stack)["platform-auth:exposure"]);
        const left = programObjects(exposure.kind).filter((o) => kubectl(cluster.adminKubeconfig, "get", "--raw", o.path).status === 0);
        const routes = kubectl(cluster.adminKubeconfig, "get", "httproutes.gateway.networking.k8s.io", "-A", "-o", "name").stdout.trim();
        expectThat(left.length === 0, `still there: ${left.map((o) => `${o.kind}/${o.name}`).join(", ")}`);
        expectThat(routes === "", `routes left: ${routes}`);
        const teamsLeft = Object.keys(github.teams()).sort();
        expectThat(JSON.stringify(teamsLeft) === JSON.stringify(github.madeByHand().sort()), `teams left at the GitHub stand-in: ${JSON.stringify(github.teams())}, made by hand: ${github.madeByHand().join(", ") || "none"}`);
        return firstLine(destroy.stdout.split("Resources:")[1] ?? "");
    });
}


function pick(values: Record<string, string> = {}, keys: string[]): Record<string, string> {
    return Object.fromEntries(keys.map((k) => [k, values[k]]));
}

interface SecretEvent {
    type: string;
    name: string;
}

/** Watches the Dex Secrets' events (ADDED, MODIFIED, DELETED) until stopped. */
function watchSecretEvents({ cluster, runDir, kubectlBinary }: EngineContext): { stop(): Promise<SecretEvent[]> } {
    const child = spawn(kubectlBinary, [
        "--kubeconfig", cluster.adminKubeconfig, "get", "secrets", "-n", "dex", "--watch-only", "--output-watch-events",
        "-o", "jsonpath={.type} {.object.metadata.name}{\"\\n\"}",
    ], { cwd: runDir, stdio: ["ignore", "pipe", "pipe"] });
    let text = "";
    child.stdout.on("data", (chunk) => (text += chunk));
    return {
        stop: async () => {
            // Let the last events arrive before ending the watch.
            await new Promise((resolve) => setTimeout(resolve, 2000));
            child.kill("SIGTERM");
            return text.split("\n").filter(Boolean).map((line) => {
                const [type, name] = line.split(" ");
                return { type, name };
            }).filter((e) => DEX_SECRETS.includes(e.name));
        },
    };
}
