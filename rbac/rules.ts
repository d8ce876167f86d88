// Read-only access for OIDC identities. The built-in `view` role covers the
// namespaced workload objects (and already leaves Secrets out); cluster-reader
// adds what `view` omits. It enumerates API groups and resources on purpose:
// a wildcard would silently pick up every group installed later, including
// ones whose objects are credentials. In particular Dex's own group
// (dex.coreos.com) holds refresh tokens and signing keys, and reading it lets
// a "read-only" user mint tokens, so it is never listed.
import type { OidcContract } from "../contract/contract";
import { oidcGroup, oidcUser } from "../contract/contract";

export interface PolicyRule {
    apiGroups: string[];
    resources: string[];
    verbs: string[];
}

export interface Subject {
    apiGroup: "rbac.authorization.k8s.io";
    kind: "User" | "Group";
    name: string;
}

export const READ_VERBS = ["get", "list", "watch"];
export const CLUSTER_READER_ROLE = "cluster-reader";

/** Resources `view` leaves out, by group. The core group lists names, never "*". */
const CLUSTER_READER_RESOURCES: Record<string, string[]> = {
    "": ["nodes", "nodes/status", "persistentvolumes", "persistentvolumes/status", "componentstatuses"],
    "storage.k8s.io": ["storageclasses", "csidrivers", "csinodes", "csistoragecapacities", "volumeattachments", "volumeattributesclasses"],
    "apiextensions.k8s.io": ["customresourcedefinitions"],
    "apiregistration.k8s.io": ["apiservices"],
    "scheduling.k8s.io": ["priorityclasses"],
    "node.k8s.io": ["runtimeclasses"],
    "networking.k8s.io": ["ingressclasses", "ipaddresses", "servicecidrs"],
    "certificates.k8s.io": ["certificatesigningrequests"],
    "rbac.authorization.k8s.io": ["clusterroles", "clusterrolebindings", "roles", "rolebindings"],
    "admissionregistration.k8s.io": [
        "mutatingwebhookconfigurations",
        "validatingwebhookconfigurations",
        "validatingadmissionpolicies",
        "validatingadmissionpolicybindings",
    ],
    "flowcontrol.apiserver.k8s.io": ["flowschemas", "prioritylevelconfigurations"],
    "coordination.k8s.io": ["leases"],
    "metrics.k8s.io": ["nodes", "pods"],
};

/**
 * cluster-reader's rules: the fixed cluster-scoped list plus whole named groups
 * the stack allows (the platform's CRDs), all with read verbs only.
 */
export function clusterReaderRules(extraApiGroups: string[]): PolicyRule[] {
    const fixed = Object.entries(CLUSTER_READER_RESOURCES).map(([group, resources]) => ({
        apiGroups: [group],
        resources,
        verbs: READ_VERBS,
    }));
    const extra = [...new Set(extraApiGroups)].sort().map((group) => ({ apiGroups: [group], resources: ["*"], verbs: READ_VERBS }));
    return [...fixed, ...extra];
}

/** The subjects both read-only bindings name, in the apiserver's prefixed form. */
export function readOnlySubjects(contract: OidcContract, users: string[], groups: string[]): Subject[] {
    return [
        ...users.map((email) => ({ apiGroup: "rbac.authorization.k8s.io" as const, kind: "User" as const, name: oidcUser(contract, email) })),
        ...groups.map((group) => ({ apiGroup: "rbac.authorization.k8s.io" as const, kind: "Group" as const, name: oidcGroup(contract, group) })),
    ];
}

/** The two ClusterRoleBindings: name to the ClusterRole they grant. */
export const READ_ONLY_BINDINGS: Record<string, string> = {
    "oidc-view": "view",
    "oidc-cluster-reader": CLUSTER_READER_ROLE,
};
