import { expect } from "chai";
import { programResources } from "../test/harness";
import { checkNetworkPeers } from "./network-peers";
import { RULES, type Resource } from "./resource";

const dexPolicy = (ingress: unknown[]): Resource => ({
    type: "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    name: "dex",
    props: { kind: "NetworkPolicy", metadata: { name: "dex", namespace: "dex" }, spec: { podSelector: { matchLabels: { "app.kubernetes.io/name": "dex" } }, ingress } },
});
const http = [{ port: 5556, protocol: "TCP" }];

describe("policy: dex-network-peers", () => {
    it("passes the program's own NetworkPolicy on both stacks", async () => {
        for (const stack of ["local", "prod"] as const) {
            const policies = (await programResources(stack)).filter((r) => r.type.endsWith(":NetworkPolicy"));
            expect(policies, stack).to.have.length(1);
            expect(checkNetworkPeers(policies[0]), stack).to.deep.equal([]);
        }
    });

    it("fails a rule by ports alone, naming the rule, its ports and the fix", () => {
        expect(checkNetworkPeers(dexPolicy([{ ports: http }]))).to.deep.equal([
            `${RULES.networkPeers}: NetworkPolicy/dex lets ingress rule 0 (5556) in from any pod in the cluster. Fix: name the peers: the gateway's or ingress controller's namespace for the HTTP port, the monitoring namespace for metrics.`,
        ]);
    });

    it("fails an empty selector, which names every namespace, and a rule with no ports that admits everything", () => {
        expect(checkNetworkPeers(dexPolicy([{ from: [{ namespaceSelector: {} }], ports: http }]))[0]).to.contain("a peer that selects everything");
        expect(checkNetworkPeers(dexPolicy([{}]))[0]).to.contain("rule 0 (every port) in from any pod");
        // A podSelector beside an empty namespaceSelector matches those pods in every namespace; 0.0.0.0/0 is everyone.
        const anyNamespace = { namespaceSelector: {}, podSelector: { matchLabels: { app: "gateway" } } };
        expect(checkNetworkPeers(dexPolicy([{ from: [anyNamespace], ports: http }]))[0]).to.contain("a peer that selects everything");
        expect(checkNetworkPeers(dexPolicy([{ from: [{ ipBlock: { cidr: "0.0.0.0/0" } }], ports: http }]))[0]).to.contain("a peer that selects everything");
    });

    it("passes named namespaces, pods and address blocks, and ignores other workloads' policies", () => {
        const named = [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } } }, { podSelector: { matchExpressions: [{ key: "app", operator: "Exists" }] } }, { ipBlock: { cidr: "10.0.0.0/8" } }];
        expect(checkNetworkPeers(dexPolicy([{ from: named, ports: http }]))).to.deep.equal([]);
        const other = dexPolicy([{ ports: http }]);
        (other.props.spec as { podSelector: unknown }).podSelector = { matchLabels: { app: "web" } };
        expect(checkNetworkPeers(other)).to.deep.equal([]);
    });
});
