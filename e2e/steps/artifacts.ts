// Step 1: what users copy from the stack outputs does what the outputs say:
// the setCredentialsCommand line creates exactly the kubeconfigUser entry.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import type { Outputs } from "../../lab/stack";
import type { Kubectl } from "../../lab/control-plane";
import { run } from "../../lab/processes";
import { expectThat, type Report } from "../../lab/report";

/** `expected`: the outputs of the same program under the mock engine; the real engine must give at least those. */
export async function artifactSteps(outputs: Outputs, expected: Outputs, env: NodeJS.ProcessEnv, kubectl: Kubectl, runDir: string, report: Report): Promise<void> {
    await report.check("1. the real engine's outputs are all there", () => {
        const missing = Object.keys(expected).filter((name) => !outputs[name as keyof Outputs]);
        expectThat(missing.length === 0, `missing outputs: ${missing.join(", ")}`);
        return `issuer ${outputs.issuerUrl}, client ${outputs.kubectlClientId}, apiserver audience ${outputs.apiServerAudience}, patch mode ${outputs.talosPatchMode}`;
    });
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
}
