// Step 1: the artifacts come from the program itself, run by the mock engine
// as the tests run it; later steps take everything they deploy from here.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { reveal } from "../../test/support/resources";
import { runStack, USER_KEYS, type StackRun } from "../../test/support/stack";
import type { Kubectl } from "../control-plane";
import { run } from "../processes";
import { expectThat, type Report } from "../report";

export async function artifactSteps(talosVersion: string, issuerCaPem: string, env: NodeJS.ProcessEnv, kubectl: Kubectl, runDir: string, report: Report): Promise<StackRun> {
    const program = await runStack("local", { ...USER_KEYS, issuerCaPem }, { "platform-auth:talosVersion": talosVersion });
    const { outputs } = program;
    await report.check("1. artifacts come from the program", () => `issuer ${outputs.issuerUrl}, client ${outputs.kubectlClientId}, apiserver audience ${outputs.apiServerAudience}, patch mode ${outputs.talosPatchMode}`);
    await report.check("1. setCredentialsCommand creates exactly the kubeconfigUser entry", () => {
        const kubeconfig = join(runDir, "set-credentials.kubeconfig");
        writeFileSync(kubeconfig, "apiVersion: v1\nkind: Config\n");
        // The command as users paste it: a shell line that edits $KUBECONFIG.
        const created = run("sh", ["-c", outputs.setCredentialsCommand], { ...env, KUBECONFIG: kubeconfig });
        expectThat(created.status === 0, `the command failed: ${created.stderr}`);
        const user = JSON.parse(kubectl(kubeconfig, "config", "view", "--raw", "-o", "json").stdout).users[0];
        const expected = parse(outputs.kubeconfigUser);
        expectThat(user.name === expected.name, `user ${user.name} != ${expected.name}`);
        for (const field of ["apiVersion", "command", "args", "interactiveMode"]) {
            expectThat(JSON.stringify(user.user.exec[field]) === JSON.stringify(expected.user.exec[field]), `exec.${field} differs: ${JSON.stringify(user.user.exec[field])}`);
        }
        return `${user.user.exec.args.length} exec args`;
    });
    return program;
}

export interface Manifest {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace?: string };
    [key: string]: any;
}

/** Every Kubernetes object the program registers, as plain manifests. */
export function kubernetesManifests(program: StackRun): Manifest[] {
    return program.resources.filter((r) => r.type.startsWith("kubernetes:")).map((r) => reveal<Manifest>(r.inputs));
}

/** The environment the kubelet would give the Deployment's container, resolving secretKeyRefs against the program's Secrets. */
export function podEnvironment(manifests: Manifest[], deploymentName: string): Record<string, string> {
    const deployment = manifests.find((x) => x.kind === "Deployment" && x.metadata.name === deploymentName)!;
    const secret = (name: string) => manifests.find((x) => x.kind === "Secret" && x.metadata.name === name)?.stringData ?? {};
    return Object.fromEntries(
        deployment.spec.template.spec.containers[0].env.map((e: any) => [e.name, e.value ?? secret(e.valueFrom.secretKeyRef.name)[e.valueFrom.secretKeyRef.key]]),
    );
}
