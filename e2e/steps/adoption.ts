// Step 3, on a cluster that already runs the manual setup: the user guide's
// cluster-reader (with its dex.coreos.com read) and its two bindings, applied
// by a field manager standing in for Flux. It runs before the program's first
// `pulumi up` and follows docs/operations.md "Moving from the manual setup": the preview
// refuses, naming each object and its owner; `adoptExisting` takes them over;
// the old owner lets go of what it still co-owns; the key comes off again.
// deploySteps then finds the stack up and runs its checks on it.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { foreignManagers, MIGRATION_SECTION, programObjects, type ProgramObject } from "../../preflight/existing";
import { stackFileConfig } from "../../lab/stack-file";
import { ALLOWED_GROUP, ned } from "../../lab/github-people";
import { run, waitFor } from "../../lab/processes";
import { expectThat, firstLine } from "../../lab/report";
import { onStack, type EngineContext } from "../../lab/deployment";

/** The field manager standing in for Flux's kustomize-controller. */
const FLUX = "flux";
const READ = ["get", "list", "watch"];
const RBAC = "rbac.authorization.k8s.io";

/** The guide's RBAC: cluster-reader as it describes it, Dex's credential group included, bound to one user. */
const MANUAL_SETUP = [
    {
        apiVersion: `${RBAC}/v1`,
        kind: "ClusterRole",
        metadata: { name: "cluster-reader" },
        rules: [
            { apiGroups: [""], resources: ["nodes", "persistentvolumes"], verbs: READ },
            { apiGroups: ["storage.k8s.io"], resources: ["storageclasses"], verbs: READ },
            { apiGroups: ["apiextensions.k8s.io"], resources: ["customresourcedefinitions"], verbs: READ },
            { apiGroups: ["apiregistration.k8s.io"], resources: ["apiservices"], verbs: READ },
            { apiGroups: ["scheduling.k8s.io"], resources: ["priorityclasses"], verbs: READ },
            { apiGroups: ["node.k8s.io"], resources: ["runtimeclasses"], verbs: READ },
            { apiGroups: ["networking.k8s.io"], resources: ["ingressclasses"], verbs: READ },
            { apiGroups: ["certificates.k8s.io"], resources: ["certificatesigningrequests"], verbs: READ },
            { apiGroups: [RBAC], resources: ["clusterroles", "clusterrolebindings", "roles", "rolebindings"], verbs: READ },
            { apiGroups: ["metrics.k8s.io"], resources: ["nodes", "pods"], verbs: READ },
            { apiGroups: ["dex.coreos.com"], resources: ["*"], verbs: READ },
        ],
    },
    ...[["oidc-view", "view"], ["oidc-cluster-reader", "cluster-reader"]].map(([name, role]) => ({
        apiVersion: `${RBAC}/v1`,
        kind: "ClusterRoleBinding",
        metadata: { name },
        roleRef: { apiGroup: RBAC, kind: "ClusterRole", name: role },
        subjects: [{ apiGroup: RBAC, kind: "User", name: `oidc:${ned.tokenEmail}` }],
    })),
];

export async function adoptionSteps(ctx: EngineContext): Promise<void> {
    const { engine, stack, report, kubectl, cluster } = ctx;
    const admin = (...args: string[]) => kubectl(cluster.adminKubeconfig, ...args);
    // What `kubectl auth can-i --as` asks, as a SubjectAccessReview: can-i itself resolves the resource
    // through discovery, which knows no dex.coreos.com before Dex has made its CRDs, and then says no
    // whatever RBAC grants. The authorizer reads RBAC from a cache, so give it a moment to see a change.
    const reviewFile = join(ctx.runDir, "review-dex-tokens.yaml");
    writeFileSync(reviewFile, stringify({
        apiVersion: "authorization.k8s.io/v1",
        kind: "SubjectAccessReview",
        spec: { user: `oidc:${ned.tokenEmail}`, groups: [`oidc:${ALLOWED_GROUP}`], resourceAttributes: { namespace: "dex", verb: "list", group: "dex.coreos.com", resource: "refreshtokens" } },
    }));
    const mayReadDexTokens = async (expected: boolean) => {
        let allowed = !expected;
        const ask = () => admin("create", "-f", reviewFile, "-o", "jsonpath={.status.allowed}").stdout.trim() === "true";
        await waitFor("the RBAC cache", () => ((allowed = ask()) === expected ? true : undefined), 15_000).catch(() => undefined);
        return allowed;
    };
    const objects = programObjects(JSON.parse(stackFileConfig(stack)["platform-auth:exposure"]).kind);
    const guideObjects = objects.filter((o) => MANUAL_SETUP.some((m) => m.kind === o.kind && m.metadata.name === o.name));
    const guideNames = guideObjects.map((o) => `${o.kind} ${o.name}`);
    /** The managers other than Pulumi's that own an object (none for an object that does not exist). */
    const ownersOf = (o: ProgramObject) => {
        const live = admin("get", "--raw", o.path);
        return live.status === 0 ? foreignManagers(JSON.parse(live.stdout)).map((m) => m.manager) : [];
    };

    await report.check("3. manual setup: the guide's cluster-reader and bindings exist, owned by flux, and let the OIDC user read Dex's tokens", async () => {
        const file = join(ctx.runDir, "manual-setup.yaml");
        writeFileSync(file, MANUAL_SETUP.map((o) => stringify(o)).join("---\n"));
        const applied = admin("apply", "--server-side", `--field-manager=${FLUX}`, "-f", file);
        expectThat(applied.status === 0, applied.stderr);
        const owners = guideObjects.map((o) => ownersOf(o).join(", "));
        expectThat(guideObjects.length === MANUAL_SETUP.length && owners.every((o) => o === FLUX), `owners: ${owners.join("; ")}`);
        expectThat(await mayReadDexTokens(true), "the guide's role should let the OIDC user list refreshtokens.dex.coreos.com, and does not");
        return firstLine(applied.stdout);
    });

    await report.check(`3. manual setup: pulumi preview refuses, naming each object, its owner and ${MIGRATION_SECTION}, before anything exists`, async () => {
        const preview = await onStack(ctx, "preview");
        const text = preview.stdout + preview.stderr;
        expectThat(preview.status !== 0, "the preview passed over Flux's objects");
        for (const name of guideNames) {
            expectThat(new RegExp(`${name} already exists, owned by field manager "${FLUX}"`).test(text), `${name} is not named with its owner: ${text}`);
        }
        expectThat(text.includes(MIGRATION_SECTION), `the refusal does not point at ${MIGRATION_SECTION}`);
        expectThat(admin("get", "namespace", "dex").status !== 0, "namespace dex exists: the refusal came after something was created");
        return text.split("\n").find((line) => line.includes("adoptExisting:"))?.trim();
    });

    const set = await onStack(ctx, "config", "set", "adoptExisting", "true");
    if (set.status !== 0) throw new Error(`pulumi config set adoptExisting failed: ${set.stderr}`);
    const up = await onStack(ctx, "up", "--yes");
    const output = up.stdout + up.stderr;
    await report.check("3. manual setup: with adoptExisting, pulumi up takes the objects over, warning about each", () => {
        expectThat(up.status === 0, output);
        const named = guideNames.filter((name) => output.includes(`taking over ${name} from field manager "${FLUX}"`));
        expectThat(named.length === guideNames.length, `warned about ${named.join(", ") || "nothing"}`);
        return firstLine(up.stdout.split("Resources:")[1] ?? "");
    });
    if (up.status !== 0) throw new Error("the adopting pulumi up failed; later steps need what it creates");

    await report.check("3. manual setup: the OIDC user can no longer read Dex's tokens, and still reads the cluster", async () => {
        expectThat(!(await mayReadDexTokens(false)), "the OIDC user may still list refreshtokens.dex.coreos.com in namespace dex");
        const pods = admin("auth", "can-i", "list", "pods", "-A", `--as=oidc:${ned.tokenEmail}`).stdout.trim();
        expectThat(pods === "yes", `can-i list pods says ${pods}`);
        return "refreshtokens.dex.coreos.com: no; pods: yes";
    });

    await report.check("3. manual setup: the release commands the warnings print leave no object of the program owned by flux", () => {
        const coOwned = guideNames.filter((_, i) => ownersOf(guideObjects[i]).includes(FLUX));
        const releases = [...new Set(output.match(/echo '\{[^']*\}' \| kubectl [^\n]*-f -/g) ?? [])];
        expectThat(releases.length === guideObjects.length, `expected one release command per adopted object, found ${releases.length}`);
        for (const command of releases) {
            // As an operator runs it: kubectl from PATH, the stack's context from KUBECONFIG.
            const released = run("sh", ["-c", command], engine.env);
            expectThat(released.status === 0, `${command}: ${released.stderr}`);
        }
        const left = objects.filter((o) => ownersOf(o).length > 0).map((o) => `${o.kind} ${o.name}: ${ownersOf(o).join(", ")}`);
        expectThat(left.length === 0, `still owned by others: ${left.join("; ")}`);
        return `flux co-owned ${coOwned.join(", ") || "nothing"} after the takeover; released`;
    });

    await report.check("3. manual setup: with adoptExisting removed, pulumi preview passes and finds nothing to take over", async () => {
        const removed = await onStack(ctx, "config", "rm", "adoptExisting");
        expectThat(removed.status === 0, removed.stderr);
        const preview = await onStack(ctx, "preview");
        expectThat(preview.status === 0, preview.stdout + preview.stderr);
        expectThat(!/adoptExisting|already exists/.test(preview.stdout + preview.stderr), `the preview still reports existing objects: ${preview.stdout}`);
        return firstLine(preview.stdout.split("Resources:")[1] ?? "");
    });
}
