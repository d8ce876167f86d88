import { expect } from "chai";
import { aggregated, clusterBinding, clusterRole, k8s, rule, user } from "../test/fixtures";
import { runPack } from "../test/harness";
import { checkReadOnlyOidcAccess } from "./read-only-access";
import { type Resource, RULES } from "./resource";

describe("policy: oidc-read-only-access", () => {
    it("passes read-only roles, the built-in view, and non-OIDC subjects with write access", () => {
        const reader = clusterRole("cluster-reader", [rule([""], ["nodes"]), rule(["gateway.networking.k8s.io"], ["*"])]);
        const dexStorage = k8s("Role", "dex-storage", { rules: [rule(["dex.coreos.com"], ["*"], ["*"])] }, "dex");
        const dexBinding = k8s(
            "RoleBinding",
            "dex-storage",
            { roleRef: { kind: "Role", name: "dex-storage" }, subjects: [{ kind: "ServiceAccount", name: "dex", namespace: "dex" }] },
            "dex",
        );
        const resources = [reader, clusterBinding("oidc-cluster-reader", "cluster-reader"), clusterBinding("oidc-view", "view"), dexStorage, dexBinding];
        expect(checkReadOnlyOidcAccess(resources)).to.deep.equal([]);
    });

    it("passes reads of pod logs and status, which are no action subresources", () => {
        const resources = [clusterRole("cluster-reader", [rule([""], ["pods", "pods/log", "pods/status", "nodes/metrics"])]), clusterBinding("oidc-cluster-reader", "cluster-reader")];
        expect(checkReadOnlyOidcAccess(resources)).to.deep.equal([]);
    });

    /** What the stack defines besides the binding, built per test. */
    const failing: [string, () => Resource[], string][] = [
        ["a write verb", () => [clusterRole("cluster-reader", [rule([""], ["nodes"], ["get", "patch"])])], "grants verbs patch"],
        ["wildcard verbs", () => [clusterRole("cluster-reader", [rule([""], ["nodes"], ["*"])])], "grants verbs *"],
        ["secrets", () => [clusterRole("cluster-reader", [rule([""], ["secrets"])])], "grants secrets"],
        ["every core resource", () => [clusterRole("cluster-reader", [rule([""], ["*"])])], 'every core resource "*"'],
        ["dex.coreos.com", () => [clusterRole("cluster-reader", [rule(["dex.coreos.com"], ["refreshtokens"])])], "grants dex.coreos.com"],
        ["every API group", () => [clusterRole("cluster-reader", [rule(["*"], ["pods"])])], 'every API group "*"'],
        // Reads in name only: exec, attach and the proxies upgrade or forward a GET, and a token request mints a credential.
        ...["pods/exec", "pods/attach", "pods/portforward", "pods/proxy", "services/proxy", "nodes/proxy", "serviceaccounts/token"].map(
            (sub): [string, () => Resource[], string] => [`get on ${sub}`, () => [clusterRole("cluster-reader", [rule([""], [sub])])], `grants ${sub} (rule 1)`],
        ),
        ["a wildcard over pod subresources", () => [clusterRole("cluster-reader", [rule([""], ["pods/*"])])], 'grants pods/exec, pods/attach, pods/portforward, pods/proxy through "pods/*"'],
        ["a wildcard over proxies", () => [clusterRole("cluster-reader", [rule([""], ["*/proxy"])])], 'grants pods/proxy, services/proxy, nodes/proxy through "*/proxy"'],
        ["an aggregated role", () => [k8s("ClusterRole", "cluster-reader", { aggregationRule: { clusterRoleSelectors: [] } })], "aggregationRule"],
        ["a role the stack does not define", () => [], "does not define"],
    ];
    for (const [what, roles, expected] of failing) {
        it(`fails a binding to ${what}, naming the binding`, () => {
            const findings = checkReadOnlyOidcAccess([...roles(), clusterBinding("oidc-cluster-reader", "cluster-reader")]);
            expect(findings).to.have.length(1);
            expect(findings[0].message).to.contain("ClusterRoleBinding/oidc-cluster-reader").and.contain(expected).and.contain(RULES.readOnly);
            expect(findings[0].resource.name).to.equal("oidc-cluster-reader");
        });
    }

    for (const role of ["cluster-admin", "admin", "edit"]) {
        it(`fails an OIDC group bound to ${role}`, () => {
            const findings = checkReadOnlyOidcAccess([clusterBinding("oops", role, [{ kind: "Group", name: "oidc:org:platform" }])]);
            expect(findings.map((f) => f.message)).to.have.length(1);
            expect(findings[0].message).to.contain(`ClusterRoleBinding/oops binds OIDC subjects oidc:org:platform to ClusterRole/${role}, which can write`);
        });
    }

    for (const role of ["admin", "edit"]) {
        it(`fails a namespaced RoleBinding of an OIDC user to ClusterRole ${role}`, () => {
            const binding = k8s("RoleBinding", "oops", { roleRef: { kind: "ClusterRole", name: role }, subjects: [user("oidc:ned@example.com")] }, "apps");
            const findings = checkReadOnlyOidcAccess([binding]);
            expect(findings.map((f) => f.message)).to.have.length(1);
            expect(findings[0].message).to.contain(`RoleBinding/oops binds OIDC subjects oidc:ned@example.com to ClusterRole/${role}, which can write`);
        });
    }

    it("passes read-only roles aggregated into view, and writing roles aggregated only into edit or admin", () => {
        const resources = [
            aggregated("extra-view", "view", [rule([""], ["nodes"])]),
            aggregated("extra-edit", "edit", [rule([""], ["secrets"], ["*"])]),
            aggregated("extra-admin", "admin", [rule(["dex.coreos.com"], ["*"], ["*"])]),
            clusterBinding("oidc-view", "view"),
        ];
        expect(checkReadOnlyOidcAccess(resources)).to.deep.equal([]);
    });

    const aggregatedGrants: [string, () => object, string][] = [
        ["a write verb", () => rule([""], ["nodes"], ["get", "patch"]), "grants verbs patch"],
        ["secrets", () => rule([""], ["secrets"]), "grants secrets"],
        ["dex.coreos.com", () => rule(["dex.coreos.com"], ["refreshtokens"]), "grants dex.coreos.com"],
        ["every API group", () => rule(["*"], ["pods"]), 'every API group "*"'],
        ["pods/exec", () => rule([""], ["pods/exec"]), "grants pods/exec"],
    ];
    for (const [what, grant, expected] of aggregatedGrants) {
        it(`fails a binding to view when a ClusterRole aggregated into view grants ${what}`, () => {
            const findings = checkReadOnlyOidcAccess([aggregated("extra-view", "view", [grant()]), clusterBinding("oidc-view", "view")]);
            expect(findings).to.have.length(1);
            expect(findings[0].message)
                .to.contain("ClusterRoleBinding/oidc-view binds OIDC subjects oidc:ned@example.com to ClusterRole/view")
                .and.contain("ClusterRole/extra-view")
                .and.contain(expected);
            expect(findings[0].resource.name).to.equal("oidc-view");
        });
    }

    it("resolves a RoleBinding's Role in the binding's own namespace", () => {
        const role = k8s("Role", "reader", { rules: [rule([""], ["pods"])] }, "apps");
        const binding = (namespace: string) =>
            k8s("RoleBinding", "oidc-reader", { roleRef: { kind: "Role", name: "reader" }, subjects: [user("oidc:ned@example.com")] }, namespace);
        expect(checkReadOnlyOidcAccess([role, binding("apps")])).to.deep.equal([]);
        expect(checkReadOnlyOidcAccess([role, binding("other")])[0].message).to.contain("RoleBinding/oidc-reader").and.contain("does not define");
    });

    it("takes the OIDC prefix from the pack config", async () => {
        const resources = [clusterBinding("sso-edit", "edit", [user("sso:ned@example.com")])];
        expect(await runPack(resources)).to.deep.equal([]);
        const violations = await runPack(resources, { [RULES.readOnly]: { oidcPrefix: "sso:" } });
        expect(violations.map((v) => v.policy)).to.deep.equal([RULES.readOnly]);
        expect(violations[0].urn).to.contain("::sso-edit");
    });
});
