// Whether the objects the program creates already exist under another owner,
// checked before any resource exists. The manual setup this program replaces
// (the user guide's Flux objects) uses the same names: cluster-reader,
// oidc-view, oidc-cluster-reader, and Dex in namespace dex. The provider
// forces conflicts in a preview's dry run of a create, so without this check
// `pulumi preview` passes and `pulumi up` stops halfway on a Server-Side Apply
// conflict, after the namespace and Dex already exist. By default such objects
// are refused; `adoptExisting` takes exactly these over, and nothing else.
import { adoptionKey, CREDENTIAL_API_GROUPS, type AdoptedObjects, type Exposure } from "../config/types";
import { CannotAskCluster, jsonBody, type ClusterGet } from "./cluster";
import type { PreflightResult } from "./exposure";
import { shellQuote } from "../config/shell";

export const MIGRATION_SECTION = 'docs/operations.md "Moving from the manual setup"';

export interface ProgramObject {
    apiVersion: string;
    kind: string;
    name: string;
    namespace?: string;
    /** The API path the preflight GETs. */
    path: string;
}

/** One entry of an object's `metadata.managedFields`, as far as ownership goes. */
export interface FieldManager {
    manager: string;
    operation: string;
}

export interface ExistingResult extends PreflightResult {
    /** The objects the run takes over (adoptExisting); empty unless adopting. */
    adopted: AdoptedObjects;
}

const RBAC = "rbac.authorization.k8s.io/v1";
/** Each kind's API version and resource (plural) name. */
const RESOURCES: Record<string, [string, string]> = {
    Namespace: ["v1", "namespaces"],
    ServiceAccount: ["v1", "serviceaccounts"],
    Secret: ["v1", "secrets"],
    Service: ["v1", "services"],
    ClusterRole: [RBAC, "clusterroles"],
    ClusterRoleBinding: [RBAC, "clusterrolebindings"],
    Role: [RBAC, "roles"],
    RoleBinding: [RBAC, "rolebindings"],
    Deployment: ["apps/v1", "deployments"],
    PodDisruptionBudget: ["policy/v1", "poddisruptionbudgets"],
    NetworkPolicy: ["networking.k8s.io/v1", "networkpolicies"],
    Ingress: ["networking.k8s.io/v1", "ingresses"],
    HTTPRoute: ["gateway.networking.k8s.io/v1", "httproutes"],
    CustomResourceDefinition: ["apiextensions.k8s.io/v1", "customresourcedefinitions"],
};
const DEX_NAMESPACE = "dex";
/** The names rbac/ and dex/ give their objects; a stack test holds this list to what the program registers. */
const CLUSTER_OBJECTS = [
    ["ClusterRole", "cluster-reader"], ["ClusterRoleBinding", "oidc-view"], ["ClusterRoleBinding", "oidc-cluster-reader"],
    ["Namespace", DEX_NAMESPACE],
    // Dex's storage kinds, which a Dex that ran before the program created itself.
    ...["authcodes", "authrequests", "oauth2clients", "signingkeies", "refreshtokens", "passwords", "offlinesessionses", "connectors", "devicerequests", "devicetokens"].map(
        (plural) => ["CustomResourceDefinition", `${plural}.dex.coreos.com`],
    ),
];
const DEX_OBJECTS = [
    ["ServiceAccount", "dex"], ["Role", "dex-storage"], ["RoleBinding", "dex-storage"], ["Secret", "dex-config"], ["Secret", "dex-credentials"],
    ["Deployment", "dex"], ["Service", "dex"], ["PodDisruptionBudget", "dex"], ["NetworkPolicy", "dex"],
];
/** What stands for the owner of an object that records no field manager (made before Server-Side Apply). */
const UNRECORDED: FieldManager = { manager: "(none recorded)", operation: "" };

/** Every Kubernetes object the program creates; Dex's exposure is an HTTPRoute or an Ingress. */
export function programObjects(exposureKind: Exposure["kind"]): ProgramObject[] {
    const dex = [...DEX_OBJECTS, [exposureKind === "httproute" ? "HTTPRoute" : "Ingress", "dex"]];
    return [
        ...CLUSTER_OBJECTS.map(([kind, name]) => programObject(kind, name)),
        ...dex.map(([kind, name]) => programObject(kind, name, DEX_NAMESPACE)),
    ];
}

function programObject(kind: string, name: string, namespace?: string): ProgramObject {
    const [apiVersion, resource] = RESOURCES[kind];
    const base = apiVersion === "v1" ? "/api/v1" : `/apis/${apiVersion}`;
    return { apiVersion, kind, name, namespace, path: `${base}${namespace ? `/namespaces/${namespace}` : ""}/${resource}/${name}` };
}

/**
 * Who other than a Pulumi program owns `live`. Pulumi's kubernetes provider applies
 * as `pulumi-kubernetes-<random>` (Server-Side Apply), `pulumi-kubernetes` (its
 * client-side mode) or the legacy `pulumi-resource-kubernetes`. Entries on a
 * subresource are controllers writing status, which never meets the apply.
 * Another Pulumi stack owning the same objects is not told apart from this one.
 */
export function foreignManagers(live: { metadata?: { managedFields?: (FieldManager & { subresource?: string })[] } }): FieldManager[] {
    const entries = (live.metadata?.managedFields ?? []).filter((entry) => !entry.subresource);
    if (entries.length === 0) return [UNRECORDED];
    return entries.filter(({ manager }) => !manager.startsWith("pulumi-kubernetes") && manager !== "pulumi-resource-kubernetes").map(({ manager, operation }) => ({ manager, operation }));
}

/** Whether a role's rules let its subjects read a group whose objects are credentials (Dex's tokens and keys). */
function grantsCredentials(live: { rules?: { apiGroups?: string[] }[] }): boolean {
    return (live.rules ?? []).some((rule) => (rule.apiGroups ?? []).some((group) => group === "*" || CREDENTIAL_API_GROUPS.includes(group)));
}

/** The shell command that makes `owner` let go of what it still co-owns in `object` after the takeover. */
export function releaseCommand(object: ProgramObject, owner: FieldManager, context: string): string {
    const where = `${object.kind} ${object.name}${object.namespace ? ` -n ${object.namespace}` : ""}`;
    // Only an apply by the same manager gives up applied fields; an Update's entry can only be removed.
    if (owner.operation !== "Apply") return `kubectl --context ${shellQuote(context)} edit ${where} --show-managed-fields   # delete the entry of manager ${shellQuote(owner.manager)}`;
    const identity = { apiVersion: object.apiVersion, kind: object.kind, metadata: { name: object.name, ...(object.namespace ? { namespace: object.namespace } : {}) } };
    return `echo '${JSON.stringify(identity)}' | kubectl --context ${shellQuote(context)} apply --server-side --field-manager=${shellQuote(owner.manager)} -f -`;
}

export async function checkExisting(exposure: Exposure, adopt: boolean, context: string, get: ClusterGet): Promise<ExistingResult> {
    const adopted = new Set<string>();
    const result: ExistingResult = { problems: [], warnings: [], adopted };
    try {
        // Each question is a round trip: the cluster-wide ones at once, then, if the namespace is there,
        // those inside it at once (nothing can exist in a namespace that does not).
        const objects = programObjects(exposure.kind);
        const ask = (which: typeof objects) => Promise.all(which.map(async (object) => ({ object, answer: await get(object.path) })));
        const clusterWide = await ask(objects.filter((object) => !object.namespace));
        const namespaceExists = clusterWide.some(({ object, answer }) => object.kind === "Namespace" && answer.status !== 404);
        const answers = [...clusterWide, ...(namespaceExists ? await ask(objects.filter((object) => object.namespace)) : [])];
        for (const { object, answer } of answers) {
            if (answer.status === 404) continue;
            const live = answer.status === 200 ? jsonBody(answer.body) : undefined;
            if (live === undefined) {
                result.warnings.push(`could not check whether ${describe(object)} exists: the cluster of kubernetes:context ${context} answered ${answer.status}${answer.status === 200 ? " with something that is not JSON" : ""}; an object made outside this program would only show at \`pulumi up\`, as a Server-Side Apply conflict.`);
                continue;
            }
            const owners = foreignManagers(live);
            if (owners.length === 0) continue;
            // Its rules list is atomic: the forced apply replaces it whole, so the grant cannot survive a takeover.
            const note = grantsCredentials(live) ? ` (it lets its subjects read ${CREDENTIAL_API_GROUPS.join(", ")}, Dex's refresh tokens and signing keys; taking it over replaces its rules whole)` : "";
            if (adopt) {
                adopted.add(adoptionKey(object.kind, object.name));
                result.warnings.push(adoptionWarning(object, owners, note, context));
            } else {
                result.problems.push({ key: "adoptExisting", message: refusal(object, owners, note) });
            }
        }
    } catch (error) {
        if (!(error instanceof CannotAskCluster)) throw error;
        result.warnings.push(`could not check for existing objects in the cluster of kubernetes:context ${context} (${error.message}); one made outside this program would only show at \`pulumi up\`, as a Server-Side Apply conflict.`);
    }
    return result;
}

function describe(object: ProgramObject): string {
    return `${object.kind} ${object.namespace ? `${object.namespace}/` : ""}${object.name}`;
}

function managerList(owners: FieldManager[]): string {
    // A manager that both applied and updated has two entries; name it once.
    return [...new Set(owners.map((owner) => (owner === UNRECORDED ? owner.manager : `"${owner.manager}"`)))].join(", ");
}

function refusal(object: ProgramObject, owners: FieldManager[], note: string): string {
    return `${describe(object)} already exists, owned by field manager ${managerList(owners)}, not by this program${note}; \`pulumi up\` would stop on it halfway with a Server-Side Apply conflict. To take it over, follow ${MIGRATION_SECTION} (it ends with \`pulumi config set adoptExisting true\`).`;
}

function adoptionWarning(object: ProgramObject, owners: FieldManager[], note: string, context: string): string {
    const releases = owners.filter((owner) => owner !== UNRECORDED).map((owner) => `\n    ${releaseCommand(object, owner, context)}`);
    const after = releases.length > 0 ? ` Once \`pulumi up\` is done, release what the old owner still co-owns (${MIGRATION_SECTION}):${releases.join("")}` : "";
    return `adoptExisting: taking over ${describe(object)} from field manager ${managerList(owners)}${note}; its apply forces the conflicting fields.${after}`;
}
