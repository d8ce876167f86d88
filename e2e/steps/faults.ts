// Steps 7 and 9: what still works with Dex down (break-glass, still-valid
// tokens), what deleting the bindings revokes, and what OIDC costs per request.
import { Agent, request, type AgentOptions } from "node:https";
import { readFileSync } from "node:fs";
import type { Cluster, Pki } from "../../lab/control-plane";
import { ned } from "../../lab/github-people";
import { expectThat, firstLine, median } from "../../lab/report";
import type { ModeContext } from "./context";

export async function faultSteps({ cluster, pki, dex, kubectl, report, session }: ModeContext): Promise<void> {
    const person = session(ned, "faults");
    const config = person.kubeconfig;
    expectThat(kubectl(config, "get", "pods").status === 0, "a fresh login failed before the fault checks");
    const token = person.tokens().id_token;
    await dex.stop();
    await report.check("7. with Dex stopped, break-glass (admin client cert) still writes", () => {
        const created = kubectl(cluster.adminKubeconfig, "create", "configmap", "break-glass-probe", "-n", "default", "--from-literal=ok=yes");
        expectThat(created.status === 0, created.stderr);
        return created.stdout.trim();
    });
    await report.check("7. with Dex stopped, OIDC reads keep working on a still-valid token", () => {
        const pods = kubectl(config, "get", "pods", "-n", "default");
        expectThat(pods.status === 0, pods.stderr);
        expectThat(person.tokens().id_token === token, "kubelogin fetched a new token, so Dex was not needed to be down");
    });

    // 9. Performance, while the token is valid and the bindings exist.
    await report.check("9. OIDC authentication overhead (median authorized read, OIDC token / admin client cert)", () => measureOverhead(cluster, pki, token));

    await report.check("7. deleting the bindings revokes OIDC access at once", () => {
        const deleted = kubectl(cluster.adminKubeconfig, "delete", "clusterrolebinding", "oidc-view", "oidc-cluster-reader");
        expectThat(deleted.status === 0, deleted.stderr);
        const pods = kubectl(config, "get", "pods", "-n", "default");
        expectThat(pods.status !== 0 && /forbidden/i.test(pods.stderr), `still allowed: ${pods.stdout}${pods.stderr}`);
        return firstLine(pods.stderr);
    });
}

/** Median latency of the same authorized read, OIDC bearer token against client certificate, interleaved. */
async function measureOverhead(cluster: Cluster, pki: Pki, token: string): Promise<string> {
    const url = `${cluster.server}/api/v1/namespaces/default/configmaps`;
    const options: AgentOptions = { keepAlive: true, maxSockets: 1, ca: pki.ca.certPem };
    const oidc = new Agent(options);
    const cert = new Agent({ ...options, cert: readFileSync(pki.admin.certFile), key: readFileSync(pki.admin.keyFile) });
    const timed = (agent: Agent, headers: Record<string, string>) =>
        new Promise<number>((resolve, reject) => {
            const started = process.hrtime.bigint();
            request(url, { agent, headers }, (res) => {
                res.resume();
                res.on("end", () => (res.statusCode === 200 ? resolve(Number(process.hrtime.bigint() - started) / 1e6) : reject(new Error(`HTTP ${res.statusCode}`))));
            }).on("error", reject).end();
        });
    const rounds = 200;
    const samples = { oidc: [] as number[], cert: [] as number[] };
    for (let i = 0; i < rounds + 20; i++) {
        const o = await timed(oidc, { authorization: `Bearer ${token}` });
        const c = await timed(cert, {});
        // The first rounds warm connections and caches on both sides.
        if (i >= 20) {
            samples.oidc.push(o);
            samples.cert.push(c);
        }
    }
    oidc.destroy();
    cert.destroy();
    return `${(median(samples.oidc) / median(samples.cert)).toFixed(2)}x (${median(samples.oidc).toFixed(2)} ms vs ${median(samples.cert).toFixed(2)} ms, ${rounds} interleaved reads each)`;
}
