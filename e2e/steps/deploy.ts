// Step 3: the program on the real engine. `pulumi preview`, then `pulumi up`
// against the loopback cluster and the GitHub stand-in; what Pulumi created is
// then what every later step logs in through.
import { readApiServerOidc } from "../../talos/read";
import { programWarnings } from "../../lab/engine";
import { reveal, type Outputs, type StackRun } from "../../lab/stack";
import { expectThat, firstLine } from "../../lab/report";
import { canonical, configuredTeams } from "./context";
import { onStack, setConfig, stackOutputs, type EngineContext } from "../../lab/deployment";


/** On a cluster without the Gateway API, the preview itself refuses, naming `exposure`, and nothing is created. */
export async function preflightRefusalStep(ctx: EngineContext): Promise<void> {
    await ctx.report.check("3. without the Gateway API, pulumi preview refuses before any resource, naming exposure", async () => {
        const preview = await ctx.engine.pulumi(ctx.projectDir, ["preview", "--stack", ctx.stack, "--non-interactive"]);
        const text = preview.stdout + preview.stderr;
        expectThat(preview.status !== 0, "the preview passed on a cluster that cannot serve the HTTPRoute");
        const line = text.split("\n").find((l) => /platform-auth:exposure: .*does not serve HTTPRoute/.test(l));
        expectThat(line !== undefined, `refused, but not by the exposure preflight: ${text}`);
        expectCleanRefusal(text);
        const namespaces = ctx.kubectl(ctx.cluster.adminKubeconfig, "get", "namespace", "dex");
        expectThat(namespaces.status !== 0, "namespace dex exists after a refused preview");
        return line!.trim();
    });
}

/** A refusal reads as one: no "unhandled exception", no stack trace, no terminal colour codes. */
export function expectCleanRefusal(text: string): void {
    const crash = text.split("\n").filter((l) => /unhandled exception|^\s+at .+[(:]\d+|\u001b\[/.test(l));
    expectThat(crash.length === 0, `the refusal reads as a crash: ${crash.slice(0, 3).join(" | ")}`);
}

/** A githubClientSecret set without --secret is refused by the preview, naming the key and the command; then it is set right. */
export async function plainSecretRefusalStep(ctx: EngineContext, secret: string): Promise<void> {
    // --plaintext: without it, `config set` keeps a key that is already a secret encrypted.
    await setConfig(ctx, "--plaintext", "githubClientSecret", "--", secret);
    await ctx.report.check("3. a githubClientSecret stored in plain text is refused by the preview, naming the key and `--secret`, as a refusal", async () => {
        const preview = await onStack(ctx, "preview");
        const text = preview.stdout + preview.stderr;
        expectThat(preview.status !== 0, "the preview accepted a plain-text client secret");
        const line = text.split("\n").find((l) => /platform-auth:githubClientSecret: is stored in plain text .*pulumi config set --secret githubClientSecret/.test(l));
        expectThat(line !== undefined, text);
        expectCleanRefusal(text);
        return line!.trim();
    });
    await setConfig(ctx, "--secret", "githubClientSecret", "--", secret);
}

export async function deploySteps(ctx: EngineContext, expected: StackRun): Promise<Outputs> {
    const { report, kubectl, cluster, github } = ctx;

    await report.check("3. pulumi preview succeeds on the real engine", async () => {
        const preview = await onStack(ctx, "preview");
        expectThat(preview.status === 0, preview.stdout + preview.stderr);
        expectNoDeprecation(preview);
        return firstLine(preview.stdout.split("Resources:")[1] ?? "");
    });
    const up = await onStack(ctx, "up", "--yes", "--skip-preview");
    await report.check("3. pulumi up succeeds, with no deprecation warning from our own resources", () => {
        expectThat(up.status === 0, `${up.stdout}\n${up.stderr}`);
        expectNoDeprecation(up);
        return firstLine(up.stdout.split("Resources:")[1] ?? "");
    });
    if (up.status !== 0) throw new Error("pulumi up failed; later steps need what it creates");

    await report.check("3. Dex's Deployment is available", () => {
        const rollout = kubectl(cluster.adminKubeconfig, "rollout", "status", "deployment/dex", "-n", "dex", "--timeout=120s");
        expectThat(rollout.status === 0, rollout.stderr || rollout.stdout);
        return firstLine(rollout.stdout);
    });
    await report.check("3. every Kubernetes object the mock tests expect exists on the server", () => {
        const objects = expected.resources.filter((r) => r.type.startsWith("kubernetes:") && !r.type.startsWith("kubernetes:pulumi")).map((r) => reveal(r.inputs));
        expectThat(objects.length > 10, `only ${objects.length} objects expected: the mock run is not the program's`);
        const missing = objects.filter((o) => {
            const [group, version] = o.apiVersion.includes("/") ? o.apiVersion.split("/") : ["", o.apiVersion];
            const kind = group ? `${o.kind}.${version}.${group}` : o.kind;
            return kubectl(cluster.adminKubeconfig, "get", kind, o.metadata.name, ...(o.metadata.namespace ? ["-n", o.metadata.namespace] : [])).status !== 0;
        });
        expectThat(missing.length === 0, `missing: ${missing.map((o) => `${o.kind}/${o.metadata.name}`).join(", ")}`);
        return `${objects.length} objects`;
    });
    const configured = await configuredTeams(ctx);
    await report.check("3. the GitHub stand-in was asked for exactly the configured teams and members", () => {
        const teams = Object.fromEntries(Object.entries(github.teams()).filter(([slug]) => !github.madeByHand().includes(slug)));
        const wanted = Object.fromEntries(configured.map((t) => [t.slug, Object.fromEntries(t.members.map((m) => [m.username, m.role ?? "member"]))]));
        expectThat(canonical(teams) === canonical(wanted), `teams ${JSON.stringify(teams)}, configured ${JSON.stringify(wanted)}`);
        const unknown = github.calls().filter((c) => c.status === 404 && c.method !== "GET");
        expectThat(unknown.length === 0, `calls the stand-in does not serve: ${unknown.map((c) => `${c.method} ${c.path}`).join(", ")}`);
        return `${github.calls().length} calls: ${[...new Set(github.calls().map((c) => `${c.method} ${c.path.replace(/\d+/g, "{id}")}`))].join(", ")}`;
    });

    const outputs = await stackOutputs(ctx);
    await report.check("3. the real engine's talosPatch is the patch the apiserver was started with", () => {
        const real = readApiServerOidc(outputs.talosPatch);
        expectThat(real.length === 1, `the output configures ${real.length} issuers`);
        expectThat(JSON.stringify(real) === JSON.stringify(readApiServerOidc(expected.outputs.talosPatch)), `real ${JSON.stringify(real)} vs started ${JSON.stringify(readApiServerOidc(expected.outputs.talosPatch))}`);
        return `${real[0].mode}, issuer ${real[0].issuerUrl}, audiences ${real[0].audiences.join(",")}`;
    });
    return outputs;
}

/** No deprecation warning from the program's own resources (the engine's notes on ambient plugins aside). */
function expectNoDeprecation(result: { stdout: string; stderr: string }): void {
    const deprecated = programWarnings(result.stdout + result.stderr).filter((line) => /deprecat/i.test(line));
    expectThat(deprecated.length === 0, `deprecation warnings: ${deprecated.join("; ")}`);
}


