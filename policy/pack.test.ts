// The whole registered pack against the real program's resources for both
// stacks, before and after the edits the pack exists to stop.
import { expect } from "chai";
import { USER_KEYS } from "../lab/stack-file";
import { type Resource, RULES } from "./rules/resource";
import { apiServerIssuers } from "./rules/tls-issuer";
import { aggregated, k8s, rule, TYPES } from "./test/fixtures";
import { editTalosPatch, programResources, runPack, type Violation } from "./test/harness";

function find(resources: Resource[], kind: string, name: string): Record<string, any> {
    const found = resources.find((r) => r.type === TYPES[kind] && (r.props.metadata as { name?: string } | undefined)?.name === name);
    if (!found) throw new Error(`no ${kind}/${name} in the program's resources`);
    return found.props;
}

describe("policy pack on the program's own stacks", () => {
    const stacks: [string, "local" | "prod", Record<string, string>][] = [
        ["local", "local", {}],
        ["prod", "prod", {}],
        // With nodes the patch also reaches the talosctl Command.
        ["prod with Talos nodes (v1.13 flags)", "prod", { talosNodes: '["10.0.0.2"]' }],
        ["local with Talos nodes (v1.14 document)", "local", { talosNodes: '["10.0.0.2"]', talosVersion: "v1.14" }],
    ];
    for (const [what, stack, overrides] of stacks) {
        it(`passes the whole pack, having read the apiserver's issuer: ${what}`, async () => {
            const resources = await programResources(stack, overrides);
            expect(await runPack(resources)).to.deep.equal([]);
            // tls-issuer had the apiserver's issuer to compare: from the component, and the Command with nodes.
            const issuer = stack === "prod" ? "https://dex.platform.devantler.tech" : "https://dex.platform.lan";
            expect(resources.flatMap(apiServerIssuers)).to.deep.equal(overrides.talosNodes ? [issuer, issuer] : [issuer]);
        });
    }

    describe("fails the edits the pack exists to stop (prod)", () => {
        let program: Resource[];
        before(async () => {
            program = await programResources("prod", { talosNodes: '["10.0.0.2"]' });
        });
        /** The pack's violations after `edit` is applied to a fresh copy of the program's resources. */
        async function after(edit: (copy: Resource[]) => void): Promise<Violation[]> {
            const copy = structuredClone(program);
            edit(copy);
            return runPack(copy);
        }
        const readerRules = (copy: Resource[]) => find(copy, "ClusterRole", "cluster-reader").rules as { apiGroups: string[]; resources: string[]; verbs: string[] }[];

        const readerEdits: [string, (copy: Resource[]) => void, string][] = [
            ["a write verb in cluster-reader", (c) => readerRules(c)[0].verbs.push("delete"), "grants verbs delete"],
            ["secrets in cluster-reader", (c) => readerRules(c)[0].resources.push("secrets"), "grants secrets"],
            ["dex.coreos.com in cluster-reader", (c) => readerRules(c).push(rule(["dex.coreos.com"], ["*"])), "grants dex.coreos.com"],
        ];
        for (const [what, edit, expected] of readerEdits) {
            it(what, async () => {
                const violations = await after(edit);
                expect(violations.map((v) => v.policy)).to.deep.equal([RULES.readOnly]);
                expect(violations[0].message).to.contain("ClusterRoleBinding/oidc-cluster-reader").and.contain(expected);
            });
        }

        it("binding the OIDC users to edit", async () => {
            const violations = await after((c) => (find(c, "ClusterRoleBinding", "oidc-view").roleRef.name = "edit"));
            expect(violations.map((v) => v.policy)).to.deep.equal([RULES.readOnly]);
            expect(violations[0].message).to.contain("ClusterRoleBinding/oidc-view binds OIDC subjects oidc:ned@devantler.tech").and.contain("ClusterRole/edit");
        });

        it("a ClusterRole that aggregates writes into view, which oidc-view binds", async () => {
            const violations = await after((c) => c.push(aggregated("view-extras", "view", [rule(["apps"], ["deployments"], ["get", "patch"])])));
            expect(violations.map((v) => v.policy)).to.deep.equal([RULES.readOnly]);
            expect(violations[0].message).to.contain("ClusterRoleBinding/oidc-view").and.contain("ClusterRole/view-extras").and.contain("grants verbs patch");
        });

        it("moving the client secret into a ConfigMap", async () => {
            const violations = await after((c) => {
                const config = find(c, "Secret", "dex-config").stringData["config.yaml"] as string;
                const literal = config.replace("$GITHUB_CLIENT_SECRET", USER_KEYS.githubClientSecret);
                c.push(k8s("ConfigMap", "dex-config", { data: { "config.yaml": literal } }, "dex"));
            });
            expect(violations.map((v) => v.policy)).to.deep.equal([RULES.credentials]);
            expect(violations[0].message).to.contain("ConfigMap/dex-config").and.contain("literal clientSecret");
        });

        it("putting the client secret into a plain env value", async () => {
            const violations = await after((c) => {
                const env = find(c, "Deployment", "dex").spec.template.spec.containers[0].env as { name: string; value?: string; valueFrom?: object }[];
                const secret = env.find((e) => e.name === "GITHUB_CLIENT_SECRET")!;
                delete secret.valueFrom;
                secret.value = USER_KEYS.githubClientSecret;
            });
            expect(violations.map((v) => v.policy)).to.deep.equal([RULES.credentials]);
            expect(violations[0].message).to.contain("Deployment/dex").and.contain("GITHUB_CLIENT_SECRET");
        });

        it("an apiserver issuer that drifts from Dex's, in the component and the Command", async () => {
            const violations = await after((c) => editTalosPatch(c, (patch) => patch.replace("https://dex.platform.devantler.tech", "https://dex.platform.devantler.tech/")));
            expect(violations.map((v) => v.policy)).to.deep.equal([RULES.issuer, RULES.issuer]);
            expect(violations.map((v) => v.message.split(" ")[1])).to.have.members(["Command/talos-apply", "TalosApiServerPatch/talos"]);
        });

        it("an unconfined AppArmor annotation on Dex's pod template", async () => {
            const violations = await after((c) => {
                find(c, "Deployment", "dex").spec.template.metadata.annotations["container.apparmor.security.beta.kubernetes.io/dex"] = "unconfined";
            });
            expect(violations.map((v) => v.policy)).to.deep.equal([RULES.podSecurity]);
            expect(violations[0].message).to.contain("Deployment/dex").and.contain("container.apparmor.security.beta.kubernetes.io/dex");
        });

        it("a Dex container without its restricted security context", async () => {
            const violations = await after((c) => delete find(c, "Deployment", "dex").spec.template.spec.containers[0].securityContext);
            expect(new Set(violations.map((v) => v.policy))).to.deep.equal(new Set([RULES.podSecurity]));
            expect(violations.map((v) => v.message).join("\n")).to.contain("Deployment/dex").and.contain("escalate privileges");
        });
    });
});
