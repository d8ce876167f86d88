// Small synthetic resources for the rules' tests. Every helper builds a fresh
// object, so a test may mutate what it gets without touching another test.
import { stringify } from "yaml";
import type { Resource } from "../rules/resource";

export const TYPES: Record<string, string> = {
    ClusterRole: "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole",
    ClusterRoleBinding: "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
    Role: "kubernetes:rbac.authorization.k8s.io/v1:Role",
    RoleBinding: "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
    ConfigMap: "kubernetes:core/v1:ConfigMap",
    Secret: "kubernetes:core/v1:Secret",
    Pod: "kubernetes:core/v1:Pod",
    Deployment: "kubernetes:apps/v1:Deployment",
    CronJob: "kubernetes:batch/v1:CronJob",
};

export function k8s(kind: string, name: string, props: Record<string, unknown> = {}, namespace?: string): Resource {
    return { type: TYPES[kind], name, props: { kind, metadata: { name, ...(namespace ? { namespace } : {}) }, ...props } };
}

// --- RBAC -------------------------------------------------------------------

const READ = ["get", "list", "watch"];
export const clusterRole = (name: string, rules: object[]) => k8s("ClusterRole", name, { rules });
export const rule = (apiGroups: string[], resources: string[], verbs = READ) => ({ apiGroups, resources, verbs });
export const user = (name: string) => ({ apiGroup: "rbac.authorization.k8s.io", kind: "User", name });

/** A ClusterRole that Kubernetes folds into the built-in `into` role, by its aggregation label. */
export function aggregated(name: string, into: "view" | "edit" | "admin", rules: object[]): Resource {
    const role = clusterRole(name, rules);
    (role.props.metadata as Record<string, unknown>).labels = { [`rbac.authorization.k8s.io/aggregate-to-${into}`]: "true" };
    return role;
}

export function clusterBinding(name: string, role: string, subjects: object[] = [user("oidc:ned@example.com")]): Resource {
    return k8s("ClusterRoleBinding", name, { roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role }, subjects });
}

// --- Dex and workloads ------------------------------------------------------

/** A Dex config like the program's, with the given connector clientSecret. */
export function dexConfigYaml(clientSecret: string, issuer = "https://dex.example.com"): string {
    return stringify({
        issuer,
        storage: { type: "kubernetes", config: { inCluster: true } },
        expiry: { idTokens: "1h", refreshTokens: { validIfNotUsedFor: "168h" } },
        connectors: [{ type: "github", id: "github", config: { clientID: "$GITHUB_CLIENT_ID", clientSecret } }],
        staticClients: [
            { id: "kubectl", public: true },
            { id: "dashboard", secretEnv: "DASHBOARD_SECRET" },
        ],
    });
}

/** A pod that meets "restricted" with settings at pod level, as Dex's does. */
export function restrictedPod(): Resource {
    return k8s("Pod", "app", {
        spec: {
            securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
            containers: [
                {
                    name: "app",
                    image: "example/app:1",
                    env: [{ name: "LOG_LEVEL", value: "debug" }, { name: "API_TOKEN", valueFrom: { secretKeyRef: { name: "app", key: "token" } } }],
                    securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"], add: ["NET_BIND_SERVICE"] } },
                },
            ],
            volumes: [{ name: "config", configMap: { name: "app" } }, { name: "tmp", emptyDir: {} }],
        },
    });
}

/** The only container of a synthetic pod, for mutation. */
export const container = (pod: Resource) => (pod.props.spec as { containers: Record<string, any>[] }).containers[0];
export const podSpec = (pod: Resource) => pod.props.spec as Record<string, any>;
