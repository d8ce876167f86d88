// Step 3: Pod Security. The program's namespace enforces `restricted`, and the
// pods Dex's Deployment got from it were admitted there; a control shows the
// same pod with privilege escalation is refused, so admission was really on.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import type { Cluster, Kubectl } from "../../lab/control-plane";
import { expectThat, type Report } from "../../lab/report";

export async function admissionSteps(cluster: Cluster, kubectl: Kubectl, runDir: string, report: Report): Promise<void> {
    const admin = (...args: string[]) => kubectl(cluster.adminKubeconfig, ...args);
    await report.check("3. Dex's pods were admitted where Pod Security `restricted` is enforced, and a weakened pod is not", () => {
        const labels = JSON.parse(admin("get", "namespace", "dex", "-o", "json").stdout).metadata.labels;
        expectThat(labels["pod-security.kubernetes.io/enforce"] === "restricted", "the dex namespace does not enforce restricted");
        const pods = JSON.parse(admin("get", "pods", "-n", "dex", "-l", "app.kubernetes.io/name=dex", "-o", "json").stdout).items;
        expectThat(pods.length > 0, "no Dex pod was admitted");
        const template = JSON.parse(admin("get", "deployment", "dex", "-n", "dex", "-o", "json").stdout).spec.template;
        const escalating = {
            apiVersion: "v1",
            kind: "Pod",
            metadata: { name: "dex-escalating-probe", namespace: "dex" },
            spec: { ...template.spec, containers: template.spec.containers.map((c: any) => ({ ...c, securityContext: { ...c.securityContext, allowPrivilegeEscalation: true } })) },
        };
        const file = join(runDir, "dex-pod-escalating.yaml");
        writeFileSync(file, stringify(escalating));
        const refused = admin("create", "--dry-run=server", "-f", file);
        expectThat(refused.status !== 0 && /forbidden.*PodSecurity/i.test(refused.stderr), `a weakened pod was not refused, so the check proves nothing: ${refused.stderr}`);
        return `${pods.length} pod(s) admitted; the same pod with privilege escalation is refused`;
    });
}
