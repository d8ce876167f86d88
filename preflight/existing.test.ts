// The existing-objects preflight: a cluster that already runs the manual setup
// (the guide's cluster-reader and bindings, owned by Flux) is refused before
// anything is created, or taken over with adoptExisting, and then only those
// objects get the provider's patchForce.
import { expect } from "chai";
import { ConfigError, type Exposure } from "../config/types";
import type { ClusterAccess } from "../program";
import { reveal, ProgramFailed, readyCluster, runStack } from "../lab/stack";
import { STACKS } from "../test/support/stacks";
import { CannotAskCluster, type ClusterGet } from "./cluster";
import { checkExisting, foreignManagers, MIGRATION_SECTION, programObjects, releaseCommand } from "./existing";

const route: Exposure = { kind: "httproute", gatewayName: "platform", gatewayNamespace: "kube-system", proxyNamespace: "kube-system" };
const CLUSTER_READER = "/apis/rbac.authorization.k8s.io/v1/clusterroles/cluster-reader";
const OIDC_VIEW = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/oidc-view";
const DEX_NAMESPACE = "/api/v1/namespaces/dex";
const DEX_DEPLOYMENT = "/apis/apps/v1/namespaces/dex/deployments/dex";

/** A live object whose fields these managers own; a third element marks a subresource. */
function owned(managers: [string, string, string?][], extra: Record<string, unknown> = {}) {
    return { metadata: { managedFields: managers.map(([manager, operation, subresource]) => ({ manager, operation, ...(subresource ? { subresource } : {}) })) }, ...extra };
}
const guideClusterReader = owned([["flux", "Apply"]], { rules: [{ apiGroups: [""], resources: ["nodes"] }, { apiGroups: ["dex.coreos.com"], resources: ["*"] }] });
const byFlux = owned([["flux", "Apply"]]);

/** A cluster holding `objects` (path to body); anything else is 404. Records what was asked. */
function clusterWith(objects: Record<string, unknown>): ClusterGet & { asked: string[] } {
    const asked: string[] = [];
    const get = async (path: string) => {
        asked.push(path);
        return path in objects ? { status: 200, body: JSON.stringify(objects[path]) } : { status: 404, body: "{}" };
    };
    return Object.assign(get, { asked });
}

describe("existing objects preflight", () => {
    it("passes a fresh cluster, and asks nothing inside a namespace that does not exist", async () => {
        const cluster = clusterWith({});
        expect(await checkExisting(route, false, "admin@local", cluster)).to.deep.equal({ problems: [], warnings: [], adopted: new Set() });
        expect(cluster.asked).to.include(CLUSTER_READER).and.include(DEX_NAMESPACE);
        expect(cluster.asked.filter((path) => path.startsWith(`${DEX_NAMESPACE}/`))).to.deep.equal([]);
    });

    it("refuses the guide's objects, naming each, its field manager and the README section", async () => {
        const { problems, adopted } = await checkExisting(route, false, "admin@local", clusterWith({ [CLUSTER_READER]: guideClusterReader, [OIDC_VIEW]: byFlux }));
        expect(problems.map((p) => p.key)).to.deep.equal(["adoptExisting", "adoptExisting"]);
        expect(problems[0].message).to.include("ClusterRole cluster-reader").and.include('"flux"').and.include(MIGRATION_SECTION).and.include("dex.coreos.com");
        expect(problems[1].message).to.include("ClusterRoleBinding oidc-view").and.include('"flux"').and.include(MIGRATION_SECTION).and.not.include("dex.coreos.com");
        expect([...adopted]).to.deep.equal([]);
    });

    it("passes objects only Pulumi's provider applied, whatever controllers write to their status", async () => {
        const ours = owned([["pulumi-kubernetes-5f3a2b1c", "Apply"], ["kube-controller-manager", "Update", "status"]]);
        const cluster = clusterWith({ [OIDC_VIEW]: ours, [DEX_NAMESPACE]: owned([["pulumi-kubernetes", "Update"]]), [DEX_DEPLOYMENT]: ours });
        expect(await checkExisting(route, false, "admin@local", cluster)).to.deep.equal({ problems: [], warnings: [], adopted: new Set() });
        expect(cluster.asked).to.include(DEX_DEPLOYMENT);
    });

    it("with adoptExisting only warns, naming each object and whom it takes over from, and adopts exactly those", async () => {
        const cluster = clusterWith({
            [CLUSTER_READER]: guideClusterReader,
            [OIDC_VIEW]: owned([["flux", "Apply"], ["pulumi-kubernetes-1a2b3c4d", "Apply"]]),
            [DEX_NAMESPACE]: owned([["helm-controller", "Update"]]),
            [DEX_DEPLOYMENT]: owned([["pulumi-kubernetes-1a2b3c4d", "Apply"]]),
        });
        const { problems, warnings, adopted } = await checkExisting(route, true, "admin@local", cluster);
        expect(problems).to.deep.equal([]);
        expect([...adopted].sort()).to.deep.equal(["ClusterRole/cluster-reader", "ClusterRoleBinding/oidc-view", "Namespace/dex"]);
        expect(warnings).to.have.length(3);
        expect(warnings[0]).to.include("ClusterRole cluster-reader").and.include('"flux"').and.include("dex.coreos.com").and.include("replaces its rules whole");
        expect(warnings[1]).to.include("ClusterRoleBinding oidc-view").and.include('"flux"').and.not.include("pulumi-kubernetes");
        expect(warnings[2]).to.include("Namespace dex").and.include('"helm-controller"').and.include("--show-managed-fields");
    });

    it("treats an object without any field manager as someone else's", async () => {
        const { problems } = await checkExisting(route, false, "admin@local", clusterWith({ [OIDC_VIEW]: { metadata: {} } }));
        expect(problems[0].message).to.include("(none recorded)");
        expect(foreignManagers(owned([["kube-controller-manager", "Update", "status"]]))).to.deep.equal([{ manager: "(none recorded)", operation: "" }]);
    });

    it("only warns when it cannot ask (forbidden, or no way to log in)", async () => {
        const forbidden = await checkExisting(route, false, "ci", async () => ({ status: 403, body: "{}" }));
        expect(forbidden.problems).to.deep.equal([]);
        expect(forbidden.warnings[0]).to.include("403").and.include("ClusterRole cluster-reader");
        const unreachable = await checkExisting(route, false, "ci", () => Promise.reject(new CannotAskCluster("connection refused")));
        expect(unreachable).to.deep.include({ problems: [] });
        expect(unreachable.warnings).to.have.length(1);
        expect(unreachable.warnings[0]).to.include("connection refused");
        const proxyPage = await checkExisting(route, false, "ci", async () => ({ status: 200, body: "<html>sign in</html>" }));
        expect(proxyPage.problems).to.deep.equal([]);
        expect(proxyPage.warnings[0]).to.include("not JSON");
    });

    it("releases an applied manager by applying the bare identity as that manager, quoted for the shell", () => {
        const [, view] = programObjects("httproute");
        expect(releaseCommand(view, { manager: "flux", operation: "Apply" }, "admin@local")).to.equal(
            `echo '{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding","metadata":{"name":"oidc-view"}}' | kubectl --context admin@local apply --server-side --field-manager=flux -f -`,
        );
        const secret = programObjects("httproute").find((o) => o.kind === "Secret")!;
        expect(releaseCommand(secret, { manager: "it's mine", operation: "Apply" }, "admin@local")).to.include(`"namespace":"dex"`).and.include(`--field-manager='it'\\''s mine'`);
    });
});

describe("existing objects preflight on the program (mock engine)", () => {
    const local = STACKS.local.userKeys;
    const guide: Record<string, unknown> = { [CLUSTER_READER]: guideClusterReader, [OIDC_VIEW]: byFlux, [DEX_NAMESPACE]: byFlux };
    /** A cluster that is fresh but for the guide's objects. */
    const manualSetup: ClusterAccess = (context) => {
        const fresh = readyCluster(context);
        return async (path) => (path in guide ? { status: 200, body: JSON.stringify(guide[path]) } : fresh(path));
    };

    it("checks every Kubernetes object the program creates, for either exposure", async () => {
        for (const exposure of [route, { kind: "ingress", className: "nginx", controllerNamespace: "ingress-nginx" }] as Exposure[]) {
            const run = await runStack("local", local, { "platform-auth:exposure": JSON.stringify(exposure) });
            const created = run.resources.filter((r) => r.type.startsWith("kubernetes:") && !r.type.startsWith("kubernetes:pulumi")).map((r) => reveal(r.inputs));
            const identity = (o: { kind: string; metadata?: { name: string; namespace?: string }; name?: string; namespace?: string }) => `${o.kind} ${o.metadata?.namespace ?? o.namespace ?? ""}/${o.metadata?.name ?? o.name}`;
            expect(programObjects(exposure.kind).map(identity).sort()).to.deep.equal(created.map(identity).sort());
        }
    });

    it("refuses the manual setup before any resource but the providers exists", async () => {
        const failure = await runStack("local", local, {}, manualSetup).then(
            () => expect.fail("the program went on over Flux's objects"),
            (error: unknown) => error as ProgramFailed,
        );
        expect(failure.error).to.be.instanceOf(ConfigError);
        expect(failure.message).to.match(/platform-auth:adoptExisting: ClusterRoleBinding oidc-view already exists, owned by field manager "flux"/);
        expect(failure.resources.filter((r) => !r.type.startsWith("pulumi:providers:"))).to.deep.equal([]);
    });

    it("with adoptExisting, patchForce lands on the adopted objects and on nothing else", async () => {
        const run = await runStack("local", local, { "platform-auth:adoptExisting": "true" }, manualSetup);
        const forced = run.resources.filter((r) => reveal(r.inputs).metadata?.annotations?.["pulumi.com/patchForce"] === "true");
        expect(forced.map((r) => `${reveal(r.inputs).kind}/${reveal(r.inputs).metadata.name}`).sort()).to.deep.equal(["ClusterRole/cluster-reader", "ClusterRoleBinding/oidc-view", "Namespace/dex"]);
    });
});
