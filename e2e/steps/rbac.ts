// Step 3: the program's RBAC and Dex's runtime objects are applied for real;
// everything else the program registers goes through a server-side dry-run,
// which admission (Pod Security included) sees as it would see a real apply.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import type { Cluster, Kubectl } from "../control-plane";
import { expectThat, type Report } from "../report";
import type { Manifest } from "./artifacts";

export async function rbacSteps(manifests: Manifest[], cluster: Cluster, kubectl: Kubectl, runDir: string, report: Report): Promise<void> {
    const file = (name: string, objects: Manifest[]) => {
        const path = join(runDir, `${name}.yaml`);
        writeFileSync(path, objects.map((o) => stringify(o)).join("---\n"));
        return path;
    };
    const admin = (...args: string[]) => kubectl(cluster.adminKubeconfig, ...args);
    const isOidcRbac = (m: Manifest) => m.metadata.name === "cluster-reader" || m.metadata.name.startsWith("oidc-");
    // Dex needs its namespace, ServiceAccount and storage RBAC for real to run at all.
    const isDexRuntime = (m: Manifest) => ["Namespace", "ServiceAccount", "Role", "RoleBinding"].includes(m.kind) || (m.kind.startsWith("ClusterRole") && m.metadata.name === "dex-storage-crds");
    const rest = manifests.filter((m) => !isOidcRbac(m) && !isDexRuntime(m));

    await report.check("3. the program's read-only RBAC applies", () => {
        const applied = admin("apply", "--server-side", "-f", file("oidc-rbac", manifests.filter(isOidcRbac)));
        expectThat(applied.status === 0, applied.stderr);
        return applied.stdout.trim().split("\n").join("; ");
    });
    await report.check("3. Dex's namespace (Pod Security: restricted), ServiceAccount and storage RBAC apply", () => {
        const applied = admin("apply", "--server-side", "-f", file("dex-runtime", manifests.filter(isDexRuntime)));
        expectThat(applied.status === 0, applied.stderr);
        const labels = JSON.parse(admin("get", "namespace", "dex", "-o", "json").stdout).metadata.labels;
        expectThat(labels["pod-security.kubernetes.io/enforce"] === "restricted", "the dex namespace does not enforce restricted");
        return `${manifests.filter(isDexRuntime).length} objects`;
    });

    const api = admin("api-resources", "-o", "name").stdout.split("\n");
    const available = rest.filter((m) => m.apiVersion.includes("/") ? api.some((r) => r.endsWith(`.${m.apiVersion.split("/")[0]}`)) : true);
    for (const missing of rest.filter((m) => !available.includes(m))) {
        report.note(`not dry-run: ${describeManifest(missing)} (its CRD, from Gateway API, is not installed on this offline apiserver)`);
    }
    await report.check("3. every other object passes a server-side dry-run", () => {
        const dryRun = admin("apply", "--server-side", "--dry-run=server", "-f", file("dry-run", available));
        expectThat(dryRun.status === 0, dryRun.stderr);
        expectThat(!/PodSecurity|would violate/i.test(dryRun.stderr), `Pod Security warnings: ${dryRun.stderr}`);
        return available.map(describeManifest).join(", ");
    });
    await report.check("3. Dex's pod is admitted where Pod Security `restricted` is enforced", () => {
        const deployment = available.find((x) => x.kind === "Deployment")!;
        const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "dex-pod-security-probe", namespace: "dex", labels: deployment.spec.template.metadata.labels }, spec: deployment.spec.template.spec };
        const created = admin("create", "--dry-run=server", "-f", file("dex-pod", [pod as Manifest]));
        expectThat(created.status === 0, created.stderr);
        const privileged = { ...pod, spec: { ...pod.spec, containers: pod.spec.containers.map((c: any) => ({ ...c, securityContext: { ...c.securityContext, allowPrivilegeEscalation: true } })) } };
        const refused = admin("create", "--dry-run=server", "-f", file("dex-pod-escalating", [privileged as Manifest]));
        expectThat(refused.status !== 0 && /forbidden.*PodSecurity/i.test(refused.stderr), `a weakened pod was not refused, so the check proves nothing: ${refused.stderr}`);
        return "restricted admits it; the same pod with privilege escalation is refused";
    });
}

function describeManifest(manifest: Manifest): string {
    return `${manifest.kind}/${manifest.metadata.name}`;
}
