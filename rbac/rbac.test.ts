// A model of `kubectl auth can-i` for an OIDC user: the real upstream roles
// (`view` aggregated as kube-controller-manager does) plus the program's own
// RBAC objects, for the seed's test matrix and more. The e2e asks the real
// apiserver the same questions; these run in milliseconds and cover more.
import { expect } from "chai";
import { clusterReaderRules } from "./rules";
import { RbacModel, type Identity, type Request } from "../test/support/can-i";
import { makeCa } from "../lab/pki";
import { byKind } from "../test/support/resources";
import { reveal, runStack, type StackRun } from "../lab/stack";
import { USER_KEYS } from "../lab/stack-file";

const ned: Identity = { user: "oidc:ned@devantler.tech", groups: [] };
const teamMember: Identity = { user: "oidc:alice@example.com", groups: ["oidc:devantler-tech:platform"] };
const stranger: Identity = { user: "oidc:mallory@example.com", groups: ["oidc:devantler-tech:everyone"] };

function modelOf(run: StackRun): RbacModel {
    const model = RbacModel.upstream();
    for (const role of byKind(run.resources, "ClusterRole")) model.addRole(reveal(role.inputs));
    for (const binding of byKind(run.resources, "ClusterRoleBinding")) model.addBinding(reveal(binding.inputs));
    return model;
}

const allowed: [string, Request][] = [
    ["list pods", { verb: "list", resource: "pods" }],
    ["read pod logs", { verb: "get", resource: "pods", subresource: "log" }],
    ["watch deployments", { verb: "watch", resource: "deployments", group: "apps" }],
    ["get nodes", { verb: "get", resource: "nodes" }],
    ["list persistent volumes", { verb: "list", resource: "persistentvolumes" }],
    ["list CRDs", { verb: "list", resource: "customresourcedefinitions", group: "apiextensions.k8s.io" }],
    ["list storage classes", { verb: "list", resource: "storageclasses", group: "storage.k8s.io" }],
    ["read HTTPRoutes (an allowed platform group)", { verb: "get", resource: "httproutes", group: "gateway.networking.k8s.io" }],
    ["read cluster role bindings", { verb: "list", resource: "clusterrolebindings", group: "rbac.authorization.k8s.io" }],
];
const denied: [string, Request][] = [
    ["get secrets", { verb: "get", resource: "secrets" }],
    ["list secrets", { verb: "list", resource: "secrets" }],
    ["create deployments", { verb: "create", resource: "deployments", group: "apps" }],
    ["delete pods", { verb: "delete", resource: "pods" }],
    ["patch nodes", { verb: "patch", resource: "nodes" }],
    ["exec into pods", { verb: "create", resource: "pods", subresource: "exec" }],
    ["port-forward", { verb: "create", resource: "pods", subresource: "portforward" }],
    ["read Dex's refresh tokens", { verb: "list", resource: "refreshtokens", group: "dex.coreos.com" }],
    ["read Dex's signing keys", { verb: "get", resource: "signingkeies", group: "dex.coreos.com" }],
    ["impersonate users", { verb: "impersonate", resource: "users" }],
    ["escalate roles", { verb: "escalate", resource: "clusterroles", group: "rbac.authorization.k8s.io" }],
    ["approve CSRs", { verb: "update", resource: "certificatesigningrequests", subresource: "approval", group: "certificates.k8s.io" }],
    ["read service account tokens", { verb: "create", resource: "serviceaccounts", subresource: "token" }],
];

for (const stack of ["local", "prod"]) {
    describe(`model: kubectl auth can-i (${stack})`, () => {
        let run: StackRun;
        before(async () => {
            run = await runStack(stack, { ...USER_KEYS, issuerCaPem: makeCa("ca").certPem });
        });
        // A fresh model per test: one test removing bindings must not change another's answer.
        const model = () => modelOf(run);

        for (const [what, request] of allowed) {
            it(`an OIDC user can ${what}`, () => expect(model().can(ned, request)).to.equal(true));
        }
        for (const [what, request] of denied) {
            it(`an OIDC user cannot ${what}`, () => expect(model().can(ned, request)).to.equal(false));
        }
        it("a member of an allowed team gets the same read access through the group", () => {
            expect(model().can(teamMember, { verb: "list", resource: "pods" })).to.equal(true);
            expect(model().can(teamMember, { verb: "get", resource: "secrets" })).to.equal(false);
        });
        it("an identity outside the bound users and groups cannot even read pods", () => {
            expect(model().can(stranger, { verb: "list", resource: "pods" })).to.equal(false);
        });
        it("deleting the bindings revokes read access", () => {
            const revoked = model().removeBinding("oidc-view").removeBinding("oidc-cluster-reader");
            expect(revoked.can(ned, { verb: "list", resource: "pods" })).to.equal(false);
            expect(revoked.can(ned, { verb: "get", resource: "nodes" })).to.equal(false);
        });
    });
}

describe("cluster-reader rules", () => {
    it("grant only read verbs", () => {
        for (const rule of clusterReaderRules(["gateway.networking.k8s.io"])) expect(rule.verbs).to.deep.equal(["get", "list", "watch"]);
    });
    it("never wildcard the core group, nor grant secrets or Dex's group", () => {
        const rules = clusterReaderRules(["cert-manager.io"]);
        const coreResources = rules.filter((r) => r.apiGroups.includes("")).flatMap((r) => r.resources);
        expect(coreResources).to.not.include("*");
        expect(coreResources).to.not.include("secrets");
        expect(rules.flatMap((r) => r.apiGroups)).to.not.include("*");
        expect(rules.flatMap((r) => r.apiGroups)).to.not.include("dex.coreos.com");
    });
    it("model: a secrets grant is seen by the model (guards against a blind model)", () => {
        const leaky = RbacModel.upstream()
            .addRole({ metadata: { name: "leaky" }, rules: [{ apiGroups: [""], resources: ["secrets"], verbs: ["get"] }] })
            .addBinding({ metadata: { name: "leaky" }, roleRef: { name: "leaky" }, subjects: [{ kind: "User", name: ned.user }] });
        expect(leaky.can(ned, { verb: "get", resource: "secrets" })).to.equal(true);
        expect(leaky.can(ned, { verb: "list", resource: "pods" })).to.equal(false);
    });
    it("model: upstream `view` aggregates the workload read rules but not secrets", () => {
        const view = RbacModel.upstream().rulesOf("view");
        expect(view.some((r) => r.resources?.includes("pods"))).to.equal(true);
        expect(view.some((r) => r.resources?.includes("secrets"))).to.equal(false);
    });
});
