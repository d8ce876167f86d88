// oidc-read-only-access: bindings and roles are separate resources, so this
// rule sees the whole stack and resolves each binding's roleRef itself. Its
// lists repeat rbac/rules.ts, config/types.ts and contract/contract.ts on
// purpose: a guard rail that imported the program's constants would loosen
// with the program.
import type { StackValidationPolicy } from "@pulumi/policy";
import { type Finding, kindOf, label, list, message, namespaceOf, obj, objectName, type Resource, RULES, str, strings } from "./resource";

export const DEFAULT_OIDC_PREFIX = "oidc:";

const READ_VERBS = new Set(["get", "list", "watch"]);
/** Built-in roles that write; an OIDC identity bound to one is no longer read-only. */
const WRITE_ROLES = new Set(["cluster-admin", "admin", "edit"]);
/** The built-in read role: Kubernetes keeps Secrets out of it, and the program binds oidc-view to it. */
const BUILT_IN_VIEW = "view";
/** Dex stores refresh tokens and signing keys here; reading them lets a user mint tokens. */
const CREDENTIAL_API_GROUPS = new Set(["dex.coreos.com"]);
/** Kubernetes folds every ClusterRole with this label into the built-in view, and so into what oidc-view grants. */
const AGGREGATE_TO_VIEW = "rbac.authorization.k8s.io/aggregate-to-view";
/**
 * Subresources that act even when RBAC calls the verb a read: exec, attach and
 * port-forward open their stream with a GET (WebSocket), the proxies forward
 * a GET to the kubelet or a workload's own API, and a token request mints a credential.
 */
const ACTION_SUBRESOURCES = ["pods/exec", "pods/attach", "pods/portforward", "pods/proxy", "services/proxy", "nodes/proxy", "serviceaccounts/token"];

/** The action subresources one `resources` entry of a rule covers, through wildcards (pods/*, or any resource's proxy) too. */
function actionSubresources(entry: string): string[] {
    if (entry === "*") return []; // Reported as a wildcard where it reaches the core group; elsewhere it holds none of these.
    const [resource, sub] = entry.split("/");
    return ACTION_SUBRESOURCES.filter((s) => {
        const [r, n] = s.split("/");
        return (resource === r || resource === "*") && (sub === n || sub === "*");
    });
}

/** Why a role's rules are more than read-only, one entry per problem. */
function writeOrSecretGrants(role: Resource): string[] {
    if (role.props.aggregationRule !== undefined) return ["aggregates other roles (aggregationRule), so what it grants cannot be checked"];
    return list(role.props.rules).map(obj).flatMap((rule, i) => {
        const at = `(rule ${i + 1})`;
        const groups = strings(rule.apiGroups);
        const resources = strings(rule.resources);
        const problems: string[] = [];
        const writes = strings(rule.verbs).filter((v) => !READ_VERBS.has(v));
        if (writes.length > 0) problems.push(`grants verbs ${writes.join(", ")} ${at}`);
        if (groups.includes("*")) problems.push(`grants every API group "*" ${at}, which includes dex.coreos.com`);
        const credentialGroups = groups.filter((g) => CREDENTIAL_API_GROUPS.has(g));
        if (credentialGroups.length > 0) problems.push(`grants ${credentialGroups.join(", ")} ${at}, which holds Dex's refresh tokens and signing keys`);
        if (resources.some((res) => res === "secrets" || res.startsWith("secrets/"))) problems.push(`grants secrets ${at}`);
        for (const res of resources) {
            const actions = actionSubresources(res);
            if (actions.length > 0) problems.push(`grants ${actions.join(", ")}${actions.includes(res) ? "" : ` through "${res}"`} ${at}, which is more than a read whatever the verb`);
        }
        if (resources.includes("*") && (groups.includes("") || groups.includes("*"))) {
            problems.push(`grants every core resource "*" ${at}, which includes secrets`);
        }
        return problems;
    });
}

export function checkReadOnlyOidcAccess(resources: Resource[], prefix = DEFAULT_OIDC_PREFIX): Finding[] {
    const roles = new Map<string, Resource>();
    for (const r of resources) {
        if (kindOf(r) === "ClusterRole") roles.set(`ClusterRole/${objectName(r)}`, r);
        if (kindOf(r) === "Role") roles.set(`Role/${namespaceOf(r)}/${objectName(r)}`, r);
    }
    const aggregatedIntoView = resources.filter((r) => kindOf(r) === "ClusterRole" && str(obj(obj(r.props.metadata).labels)[AGGREGATE_TO_VIEW]) === "true");
    const findings: Finding[] = [];
    for (const binding of resources) {
        const kind = kindOf(binding);
        if (kind !== "ClusterRoleBinding" && kind !== "RoleBinding") continue;
        const oidc = list(binding.props.subjects)
            .map(obj)
            .filter((s) => (s.kind === "User" || s.kind === "Group") && str(s.name)?.startsWith(prefix))
            .map((s) => String(s.name));
        if (oidc.length === 0) continue; // ServiceAccounts (Dex's storage access) are not OIDC identities.
        const ref = obj(binding.props.roleRef);
        const refKind = str(ref.kind) ?? "ClusterRole";
        const refName = str(ref.name);
        const roleLabel = `${refKind}/${refName ?? "<unknown>"}`;
        const report = (problem: string, fix: string) =>
            findings.push({ resource: binding, message: message(RULES.readOnly, binding, `binds OIDC subjects ${oidc.join(", ")} to ${roleLabel}, which ${problem}`, fix) });
        const role = roles.get(refKind === "Role" ? `Role/${namespaceOf(binding)}/${refName}` : `ClusterRole/${refName}`);

        if (refName === undefined) {
            report("is not known at preview time", "give the role a literal metadata.name so the binding can be checked");
        } else if (refKind === "ClusterRole" && WRITE_ROLES.has(refName)) {
            report("can write", `bind them to "${BUILT_IN_VIEW}" or cluster-reader instead; writes are break-glass only, through the admin client certificate`);
        } else if (role === undefined && (refKind !== "ClusterRole" || refName !== BUILT_IN_VIEW)) {
            report("this stack does not define, so its rules cannot be checked", `define the role in this stack with get/list/watch rules, or bind to "${BUILT_IN_VIEW}"`);
        } else if (role === undefined) {
            // The built-in view is read-only, but every role the stack labels into it widens it.
            for (const extra of aggregatedIntoView) {
                for (const problem of writeOrSecretGrants(extra)) {
                    report(
                        `aggregates ${label(extra)} (labelled ${AGGREGATE_TO_VIEW}: "true"), and that role ${problem}`,
                        `remove the label from ${label(extra)}, or limit it to get, list and watch, never secrets nor dex.coreos.com`,
                    );
                }
            }
        } else {
            for (const problem of writeOrSecretGrants(role)) {
                report(problem, `limit ${roleLabel} to get, list and watch on named resources, never secrets nor dex.coreos.com (or move the subjects to a separate, non-OIDC binding)`);
            }
        }
    }
    return findings;
}

export interface ReadOnlyConfig {
    /** The apiserver's username/groups prefix; subjects with it are OIDC identities. */
    oidcPrefix?: string;
}

export const readOnlyAccessPolicy: StackValidationPolicy = {
    name: RULES.readOnly,
    description:
        "OIDC users and groups are bound only to roles that get, list and watch, never secrets, dex.coreos.com, exec, attach, port-forward, proxies nor tokens, and never to cluster-admin, admin or edit; roles aggregated into view are held to the same.",
    enforcementLevel: "mandatory",
    configSchema: { properties: { oidcPrefix: { type: "string", default: DEFAULT_OIDC_PREFIX } } },
    validateStack: (args, reportViolation) => {
        const prefix = args.getConfig<ReadOnlyConfig>().oidcPrefix ?? DEFAULT_OIDC_PREFIX;
        for (const f of checkReadOnlyOidcAccess(args.resources, prefix)) reportViolation(f.message, f.resource.urn);
    },
};
