// The gate's prerequisites, checked by the node agent's inspect (so in every
// preview and before any node is touched): a node whose apiserver could never
// pass the gate, because the stack's context cannot read its /metrics or its
// Kubernetes is older than the JWKS fetch metric, is refused there, naming
// talosNodes and the fix, instead of failing each node's gate after minutes.
import { expect } from "chai";
import { parseTalosVersion } from "../config/fields";
import { oidcContract } from "../contract/contract";
import { REFUSAL } from "./compose";
import { apiServerPort } from "./gate";
import { AGENT } from "./inspect";
import { ownedSettings } from "./plan";
import { runWithStandIn } from "./talosctl-stand-in";

describe("the node agent's gate prerequisites", () => {
    // A loopback address: the stand-ins answer for it, and nothing may go further.
    const node = "127.0.0.42";
    const env = { TALOS_NODES: node, TALOS_OWNED: JSON.stringify(ownedSettings(oidcContract({ domain: "platform.lan" }), parseTalosVersion("v1.14")!, undefined, false)), TALOS_KUBE_CONTEXT: "admin@local" };
    const configs = { [node]: "version: v1alpha1\nmachine:\n  type: controlplane\ncluster:\n  apiServer: {}\n" };
    const inspect = (apiServers: Parameters<typeof runWithStandIn>[4]) => runWithStandIn(`${AGENT} inspect`, env, configs, "", apiServers);

    it("refuses a node whose apiserver is older than Kubernetes 1.35, naming talosNodes and the upgrade, before any change", () => {
        const run = inspect({ version: "v1.34.2" });
        expect(run.stdout).to.match(new RegExp(`^${REFUSAL}talosNodes: node 127\\.0\\.0\\.42: its apiserver runs Kubernetes v1\\.34\\.2, and the rollout's gate needs 1\\.35 or newer .*talosctl upgrade-k8s`));
        expect(run.calls).to.deep.equal([]);
    });

    it("refuses a node whose /metrics the stack's context cannot read, naming the context, kubectl's answer and system:monitoring, before any change", () => {
        const run = inspect({ forbidden: [node] });
        expect(run.stdout).to.match(new RegExp(`^${REFUSAL}talosNodes: node 127\\.0\\.0\\.42: its apiserver's /metrics cannot be read with kubernetes:context admin@local \\(Error from server \\(Forbidden\\).*system:monitoring`));
        expect(run.calls).to.deep.equal([]);
    });

    it("passes a node on Kubernetes 1.35 whose /metrics the context reads", () => {
        const run = inspect({ version: "v1.35.0" });
        expect([run.exitCode, run.stdout.includes(REFUSAL)], run.stdout + run.stderr).to.deep.equal([0, false]);
    });

    it("reaches each node's apiserver on the port Talos gives it: the 1.14 document's apiPort, else localAPIServerPort, 6443 by default, an explicit secure-port first", () => {
        const machine = (cluster: Record<string, unknown>) => ({ version: "v1alpha1", machine: { type: "controlplane" }, cluster });
        expect(apiServerPort([machine({})])).to.equal(6443);
        expect(apiServerPort([machine({ controlPlane: { localAPIServerPort: 7443 } })])).to.equal(7443);
        // With the document, Talos reads the port from it alone.
        expect(apiServerPort([machine({ controlPlane: { localAPIServerPort: 7443 } }), { apiVersion: "v1alpha1", kind: "KubeAPIServerConfig", apiPort: 8443 }])).to.equal(8443);
        expect(apiServerPort([machine({ controlPlane: { localAPIServerPort: 7443 } }), { apiVersion: "v1alpha1", kind: "KubeAPIServerConfig" }])).to.equal(6443);
        expect(apiServerPort([machine({ apiServer: { extraArgs: { "secure-port": "9443" } }, controlPlane: { localAPIServerPort: 7443 } })])).to.equal(9443);
    });
});
