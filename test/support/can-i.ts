// A model of `kubectl auth can-i` over RBAC objects: the upstream bootstrap
// roles (with `view` aggregated the way kube-controller-manager does it) plus
// whatever roles and bindings the program creates.
import { parse } from "yaml";
import { readReference } from "./reference";

export interface Rule {
    apiGroups?: string[];
    resources?: string[];
    verbs: string[];
    resourceNames?: string[];
    nonResourceURLs?: string[];
}

interface ClusterRole {
    metadata: { name: string; labels?: Record<string, string> };
    rules?: Rule[];
    aggregationRule?: { clusterRoleSelectors: { matchLabels: Record<string, string> }[] };
}

interface Binding {
    metadata: { name: string };
    roleRef: { name: string };
    subjects: { kind: string; name: string }[];
}

export interface Identity {
    user: string;
    groups: string[];
}

export interface Request {
    verb: string;
    resource: string;
    group?: string;
    subresource?: string;
}

export class RbacModel {
    private readonly roles = new Map<string, ClusterRole>();
    private readonly bindings: Binding[] = [];

    /** Starts from the upstream bootstrap roles and their default bindings. */
    static upstream(): RbacModel {
        const list = parse(readReference("kubernetes/bootstrap-roles.yaml")) as { items: ({ kind: string } & ClusterRole & Binding)[] };
        const model = new RbacModel();
        for (const item of list.items) {
            if (item.kind === "ClusterRole") model.addRole(item);
            else if (item.kind === "ClusterRoleBinding") model.addBinding(item);
        }
        return model;
    }

    addRole(role: ClusterRole): this {
        this.roles.set(role.metadata.name, role);
        return this;
    }

    addBinding(binding: Binding): this {
        this.bindings.push(binding);
        return this;
    }

    removeBinding(name: string): this {
        const index = this.bindings.findIndex((b) => b.metadata.name === name);
        if (index >= 0) this.bindings.splice(index, 1);
        return this;
    }

    /** The rules a role grants, including aggregated ones. */
    rulesOf(roleName: string, seen = new Set<string>()): Rule[] {
        const role = this.roles.get(roleName);
        if (!role || seen.has(roleName)) return [];
        seen.add(roleName);
        if (!role.aggregationRule) return role.rules ?? [];
        return [...this.roles.values()]
            .filter((candidate) =>
                role.aggregationRule!.clusterRoleSelectors.some((selector) =>
                    Object.entries(selector.matchLabels).every(([k, v]) => candidate.metadata.labels?.[k] === v),
                ),
            )
            .flatMap((candidate) => this.rulesOf(candidate.metadata.name, seen));
    }

    /** Whether `who` may do `request`, as the RBAC authorizer decides it. */
    can(who: Identity, request: Request): boolean {
        const groups = new Set([...who.groups, "system:authenticated"]);
        const resource = request.subresource ? `${request.resource}/${request.subresource}` : request.resource;
        return this.bindings
            .filter((b) => b.subjects.some((s) => (s.kind === "User" ? s.name === who.user : s.kind === "Group" && groups.has(s.name))))
            .flatMap((b) => this.rulesOf(b.roleRef.name))
            .some(
                (rule) =>
                    // A rule limited to named objects never grants a request that names none.
                    !(rule.resourceNames?.length) &&
                    matches(rule.verbs, request.verb) &&
                    matches(rule.apiGroups ?? [], request.group ?? "") &&
                    matches(rule.resources ?? [], resource),
            );
    }
}

function matches(allowed: string[], value: string): boolean {
    return allowed.includes("*") || allowed.includes(value);
}
