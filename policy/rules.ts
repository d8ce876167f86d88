// The guardrails of platform-auth as pure functions over plain resource
// objects, so mocha can run them without the Pulumi CLI; index.ts only
// registers `policies`. Each rule guards an invariant that one careless edit
// could break without any test of the program noticing: OIDC identities stay
// read-only, credentials never sit in plain text, Dex and the apiserver agree
// on one https issuer, and workloads meet Pod Security "restricted".
import type { Policies } from "@pulumi/policy";
import { runtime } from "@pulumi/pulumi";
import { parse, parseAllDocuments } from "yaml";

/** What every rule reads of a resource; CrossGuard's PolicyResource and ResourceValidationArgs both fit. */
export interface Resource {
    type: string;
    name: string;
    props: Record<string, unknown>;
    urn?: string;
}

/** A stack-level violation, reported against `resource` (the binding, the patch...). */
export interface Finding {
    resource: Resource;
    message: string;
}

export const RULES = {
    readOnly: "oidc-read-only-access",
    credentials: "no-plaintext-credentials",
    issuer: "tls-issuer",
    podSecurity: "pod-security-restricted",
} as const;

export const PACK_NAME = "platform-auth-guardrails";
export const DEFAULT_OIDC_PREFIX = "oidc:";
export const TALOS_PATCH_TYPE = "platform-auth:auth:TalosApiServerPatch";
export const COMMAND_TYPE = "command:local:Command";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const obj = (v: unknown): Obj => (isObj(v) ? v : {});
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const strings = (v: unknown): string[] => list(v).filter((s): s is string => typeof s === "string");
/** A known string; during a preview, computed values arrive as the engine's unknown sentinel. */
const str = (v: unknown): string | undefined => (typeof v === "string" && v !== runtime.unknownValue ? v : undefined);

/** `kubernetes:apps/v1:Deployment` -> "Deployment"; undefined for anything not from the Kubernetes provider. */
export function kindOf(r: Resource): string | undefined {
    return r.type.startsWith("kubernetes:") ? r.type.slice(r.type.lastIndexOf(":") + 1) : undefined;
}

const objectName = (r: Resource) => str(obj(r.props.metadata).name) ?? r.name;
const namespaceOf = (r: Resource) => str(obj(r.props.metadata).namespace) ?? "default";

/** How messages name a resource: kind/name for Kubernetes objects, type/name otherwise. */
export function label(r: Resource): string {
    return `${kindOf(r) ?? r.type.slice(r.type.lastIndexOf(":") + 1)}/${objectName(r)}`;
}

function message(rule: string, r: Resource, problem: string, fix: string): string {
    return `${rule}: ${label(r)} ${problem}. Fix: ${fix}.`;
}

function parseYaml(text: string): unknown {
    try {
        return parse(text, { logLevel: "error" });
    } catch {
        return undefined; // Not YAML (or JSON): nothing structured to inspect.
    }
}

/** Text values of a Secret (stringData, and data decoded from base64) or a ConfigMap (data). */
function textEntries(r: Resource): [string, string][] {
    const kind = kindOf(r);
    const entries = (v: unknown) => Object.entries(obj(v)).filter((e): e is [string, string] => str(e[1]) !== undefined);
    if (kind === "ConfigMap") return entries(r.props.data);
    if (kind !== "Secret") return [];
    const decoded = entries(r.props.data).map(([k, v]): [string, string] => [k, Buffer.from(v, "base64").toString("utf8")]);
    return [...entries(r.props.stringData), ...decoded];
}

type DexConfig = Obj & { issuer: unknown; connectors: unknown };
const isDexConfig = (v: unknown): v is DexConfig => isObj(v) && "issuer" in v && "connectors" in v;

/** Dex configs held by a Secret or ConfigMap, with the key that holds each. */
function dexConfigs(r: Resource): [string, DexConfig][] {
    return textEntries(r)
        .map(([key, text]): [string, unknown] => [key, parseYaml(text)])
        .filter((e): e is [string, DexConfig] => isDexConfig(e[1]));
}

// ---------------------------------------------------------------------------
// oidc-read-only-access: bindings and roles are separate resources, so this
// rule sees the whole stack and resolves each binding's roleRef itself. Its
// lists repeat rbac/rules.ts and config/types.ts on purpose: a guard rail
// that imported the program's constants would loosen with the program.

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

// ---------------------------------------------------------------------------
// no-plaintext-credentials

/** Env var and ConfigMap key names that carry a credential (keys are often hyphenated: client-secret, api-key). */
const CREDENTIAL_NAME = /SECRET|PASSWORD|TOKEN|API[_-]?KEY|PRIVATE[_-]?KEY|CREDENTIAL/i;
/**
 * A field inside a config document that holds a credential: clientSecret,
 * bindPassword, apiKey... Anchored at the end so Dex's `idTokens: 1h` expiry
 * and `secretEnv: NAME` references are not mistaken for one.
 */
const CREDENTIAL_FIELD = /(secret|password|token|api[_-]?key|private[_-]?key|credentials?)$/i;
/** `$VAR` or `${VAR}`: Dex expands these from its (Secret-backed) environment. */
const ENV_REFERENCE = /^\$(\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*)$/;
const PEM_PRIVATE_KEY = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;

/** Paths of credential fields with a literal value, anywhere in a parsed document. */
function literalCredentialFields(value: unknown, path = ""): string[] {
    if (Array.isArray(value)) return value.flatMap((v, i) => literalCredentialFields(v, `${path}[${i}]`));
    return Object.entries(obj(value)).flatMap(([key, v]) => {
        const at = path ? `${path}.${key}` : key;
        const literal = (typeof v === "string" && v !== "" && !ENV_REFERENCE.test(v)) || typeof v === "number";
        return CREDENTIAL_FIELD.test(key) && literal ? [at] : literalCredentialFields(v, at);
    });
}

interface Problem {
    problem: string;
    fix: string;
}

/** Connector credentials must be $VAR references; static clients are public or use secretEnv. */
function dexCredentialProblems(config: DexConfig): Problem[] {
    const connectors = list(config.connectors).map(obj).flatMap((c) =>
        literalCredentialFields(c.config).map((field) => ({
            problem: `holds Dex connector "${String(c.id)}" with a literal ${field}`,
            fix: `write a $VAR reference (e.g. clientSecret: $GITHUB_CLIENT_SECRET) and fill the variable from a Secret with valueFrom.secretKeyRef`,
        })),
    );
    const clients = list(config.staticClients)
        .map(obj)
        .filter((c) => c.secret !== undefined && c.secret !== "")
        .map((c) => ({
            problem: `holds Dex static client "${String(c.id)}" with a literal secret`,
            fix: "use secretEnv to read it from a Secret-backed variable, or make the client public",
        }));
    return [...connectors, ...clients];
}

/** What a ConfigMap value gives away: a private key, a Dex credential, or any literal credential field. */
function configMapValueProblems(text: string): Problem[] {
    const moveToSecret = "move it to a Secret and reference that instead";
    const pem = PEM_PRIVATE_KEY.test(text) ? [{ problem: "holds a PEM private key", fix: moveToSecret }] : [];
    const doc = parseYaml(text);
    // Dex's own sections get Dex-specific advice; the rest of the document the generic check.
    const dex = isDexConfig(doc) ? dexCredentialProblems(doc) : [];
    const rest = isDexConfig(doc) ? { ...doc, connectors: undefined, staticClients: undefined } : doc;
    const fields = literalCredentialFields(rest).map((field) => ({ problem: `holds a literal credential at ${field}`, fix: moveToSecret }));
    return [...pem, ...dex, ...fields];
}

/** Where each workload kind keeps its pod template (metadata and spec); a Pod is its own. */
const POD_TEMPLATE_PATHS: Record<string, string[]> = {
    Pod: [],
    Deployment: ["spec", "template"],
    StatefulSet: ["spec", "template"],
    DaemonSet: ["spec", "template"],
    ReplicaSet: ["spec", "template"],
    Job: ["spec", "template"],
    CronJob: ["spec", "jobTemplate", "spec", "template"],
};

function podTemplate(r: Resource): Obj | undefined {
    return POD_TEMPLATE_PATHS[kindOf(r) ?? ""]?.reduce<Obj>((at, key) => obj(at[key]), r.props);
}

function podSpec(r: Resource): Obj | undefined {
    const spec = podTemplate(r)?.spec;
    return isObj(spec) ? spec : undefined;
}

function containers(spec: Obj): Obj[] {
    return ["initContainers", "containers", "ephemeralContainers"].flatMap((key) => list(spec[key]).map(obj));
}

export function checkPlaintextCredentials(r: Resource): string[] {
    const out: string[] = [];
    const report = ({ problem, fix }: Problem) => out.push(message(RULES.credentials, r, problem, fix));
    const spec = podSpec(r);
    for (const container of spec ? containers(spec) : []) {
        for (const env of list(container.env).map(obj)) {
            const name = String(env.name);
            if (CREDENTIAL_NAME.test(name) && typeof env.value === "string" && env.value !== "") {
                report({
                    problem: `sets env ${name} of container "${String(container.name)}" to a literal value`,
                    fix: "take it from a Secret with valueFrom.secretKeyRef",
                });
            }
        }
    }
    const kind = kindOf(r);
    if (kind === "ConfigMap") {
        for (const key of [...Object.keys(obj(r.props.data)), ...Object.keys(obj(r.props.binaryData))]) {
            if (CREDENTIAL_NAME.test(key)) report({ problem: `has key "${key}", which names a credential`, fix: "move it to a Secret and reference that instead" });
        }
        for (const [key, text] of textEntries(r)) configMapValueProblems(text).forEach((p) => report({ ...p, problem: `key "${key}" ${p.problem}` }));
    }
    if (kind === "Secret") {
        // A Secret may hold credentials, but Dex's config must still only name them.
        for (const [key, config] of dexConfigs(r)) dexCredentialProblems(config).forEach((p) => report({ ...p, problem: `key "${key}" ${p.problem}` }));
    }
    return out;
}

// ---------------------------------------------------------------------------
// tls-issuer: Dex's issuer is in its config, the apiserver's only in the Talos
// patch: the patchYaml that TalosApiServerPatch registers as its output (stack
// policies see each resource's outputs, so this works even when no nodes are
// configured), and the talosctl Command's TALOS_PATCH environment when they are.

/** The OIDC issuer URLs a Talos patch (a YAML stream) makes the apiserver trust. */
export function apiServerIssuers(r: Resource): string[] {
    const patch = str(r.type === TALOS_PATCH_TYPE ? r.props.patchYaml : r.type === COMMAND_TYPE ? obj(r.props.environment).TALOS_PATCH : undefined);
    if (patch === undefined) return [];
    let docs: unknown[];
    try {
        docs = parseAllDocuments(patch).map((d) => d.toJS());
    } catch {
        return [];
    }
    return docs.map(obj).flatMap((doc) => {
        // Talos ≤1.13: an apiserver flag. Talos 1.14: a KubeAuthenticationConfig document.
        const flag = obj(obj(obj(doc.cluster).apiServer).extraArgs)["oidc-issuer-url"];
        const auth = doc.kind === "AuthenticationConfiguration" ? doc : obj(doc.configuration);
        const jwt = list(auth.jwt).map((j) => obj(obj(j).issuer).url);
        return [flag, ...jwt].map(str).filter((u): u is string => u !== undefined);
    });
}

export function checkTlsIssuer(resources: Resource[]): Finding[] {
    const dex = resources.flatMap((r) => dexConfigs(r).map(([, config]) => ({ resource: r, issuer: str(config.issuer) })));
    const api = resources.flatMap((r) => apiServerIssuers(r).map((issuer) => ({ resource: r, issuer })));
    const findings: Finding[] = [];
    const report = (resource: Resource, problem: string, fix: string) => findings.push({ resource, message: message(RULES.issuer, resource, problem, fix) });
    const https = "use an https:// issuer; kubelogin and the apiserver send and verify tokens only over TLS";
    for (const d of dex) if (d.issuer !== undefined && !d.issuer.startsWith("https://")) report(d.resource, `sets Dex's issuer to "${d.issuer}", which is not https://`, https);
    for (const a of api) if (!a.issuer.startsWith("https://")) report(a.resource, `sets the apiserver's OIDC issuer to "${a.issuer}", which is not https://`, https);
    const dexIssuers = [...new Set(dex.map((d) => d.issuer).filter((i): i is string => i !== undefined))];
    // Without a Dex config in the stack there is nothing to compare against.
    if (dexIssuers.length > 0) {
        const where = [...new Set(dex.map((d) => label(d.resource)))].join(", ");
        for (const a of api.filter((a) => !dexIssuers.includes(a.issuer))) {
            report(
                a.resource,
                `makes the apiserver trust issuer "${a.issuer}", but Dex (${where}) issues tokens as "${dexIssuers.join('", "')}"`,
                "derive both from the one OIDC contract (contract/contract.ts); the strings must be equal byte for byte, trailing slash included",
            );
        }
    }
    return findings;
}

// ---------------------------------------------------------------------------
// pod-security-restricted: the Pod Security "restricted" profile, so a
// workload admitted by this pack is also admitted by a namespace that enforces
// it (the program labels Dex's namespace so).

const ALLOWED_VOLUME_TYPES = new Set(["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"]);
const ALLOWED_SECCOMP = new Set(["RuntimeDefault", "Localhost"]);
const ALLOWED_APPARMOR = new Set(["RuntimeDefault", "Localhost"]);
/** The SELinux types of the container runtime's own policy; any other type (spc_t...) leaves its confinement. */
const ALLOWED_SELINUX_TYPES = new Set(["container_t", "container_init_t", "container_kvm_t"]);
/** Sysctls that are namespaced per pod, so setting one cannot reach the node or other pods. */
const SAFE_SYSCTLS = new Set([
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
]);
/** Before appArmorProfile (Kubernetes 1.30) a pod chose each container's profile with this annotation. */
const APPARMOR_ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/";

type Report = (problem: string, fix: string) => void;

/** Fields valid on the pod's and on a container's securityContext that take a container out of the runtime's confinement. */
function checkConfinement(sc: Obj, who: string, report: Report): void {
    const appArmor = str(obj(sc.appArmorProfile).type);
    if (appArmor !== undefined && !ALLOWED_APPARMOR.has(appArmor)) {
        report(`runs ${who} with AppArmor profile ${appArmor}`, "set appArmorProfile.type: RuntimeDefault (or Localhost), or leave it unset");
    }
    const seLinux = obj(sc.seLinuxOptions);
    const type = str(seLinux.type);
    if (type && !ALLOWED_SELINUX_TYPES.has(type)) report(`runs ${who} with SELinux type ${type}`, `leave seLinuxOptions.type unset, or use ${[...ALLOWED_SELINUX_TYPES].join(", ")}`);
    for (const field of ["user", "role"]) {
        const value = str(seLinux[field]);
        if (value) report(`runs ${who} with SELinux ${field} ${value}`, `remove seLinuxOptions.${field}`);
    }
    if (obj(sc.windowsOptions).hostProcess === true) report(`runs ${who} as a Windows host process`, "remove windowsOptions.hostProcess; it runs on the node itself");
}

export function checkPodSecurity(r: Resource): string[] {
    const spec = podSpec(r);
    if (spec === undefined) return [];
    const out: string[] = [];
    const report: Report = (problem, fix) => out.push(message(RULES.podSecurity, r, problem, `${fix} (Pod Security "restricted")`));
    const pod = obj(spec.securityContext);
    for (const field of ["hostNetwork", "hostPID", "hostIPC"]) {
        if (spec[field] === true) report(`sets ${field}: true`, `remove ${field}; it shares the node's namespace`);
    }
    checkConfinement(pod, "the pod", report);
    for (const name of list(pod.sysctls).map((s) => str(obj(s).name))) {
        if (name !== undefined && !SAFE_SYSCTLS.has(name)) report(`sets sysctl ${name}`, "set only sysctls that are namespaced per pod (net.ipv4.ip_unprivileged_port_start, net.ipv4.tcp_keepalive_time...)");
    }
    for (const [key, value] of Object.entries(obj(obj(podTemplate(r)?.metadata).annotations))) {
        const profile = str(value);
        if (key.startsWith(APPARMOR_ANNOTATION_PREFIX) && profile && profile !== "runtime/default" && !profile.startsWith("localhost/")) {
            report(`sets annotation ${key}: "${profile}"`, "set it to runtime/default or localhost/<profile>, or drop it for appArmorProfile");
        }
    }
    for (const volume of list(spec.volumes).map(obj)) {
        for (const type of Object.keys(volume).filter((k) => k !== "name" && !ALLOWED_VOLUME_TYPES.has(k))) {
            report(`mounts volume "${String(volume.name)}" of type ${type}`, `use one of ${[...ALLOWED_VOLUME_TYPES].join(", ")}`);
        }
    }
    for (const container of containers(spec)) {
        const who = `container "${String(container.name)}"`;
        const sc = obj(container.securityContext);
        if (sc.privileged === true) report(`runs ${who} privileged`, "remove securityContext.privileged");
        if (sc.allowPrivilegeEscalation !== false) report(`lets ${who} escalate privileges`, "set securityContext.allowPrivilegeEscalation: false");
        const capabilities = obj(sc.capabilities);
        if (!strings(capabilities.drop).includes("ALL")) report(`does not drop ALL capabilities in ${who}`, 'set securityContext.capabilities.drop: ["ALL"]');
        const added = strings(capabilities.add).filter((c) => c !== "NET_BIND_SERVICE");
        if (added.length > 0) report(`adds capabilities ${added.join(", ")} to ${who}`, "add none but NET_BIND_SERVICE");
        // A container's setting overrides the pod's, in both directions.
        if ((sc.runAsNonRoot ?? pod.runAsNonRoot) !== true) report(`may run ${who} as root`, "set runAsNonRoot: true on the pod or container");
        if ((sc.runAsUser ?? pod.runAsUser) === 0) report(`runs ${who} as UID 0`, "run as a non-zero UID");
        checkConfinement(sc, who, report);
        const procMount = str(sc.procMount);
        if (procMount !== undefined && procMount !== "Default") report(`runs ${who} with procMount ${procMount}`, "remove procMount or set it to Default; Unmasked lifts the runtime's masking of /proc");
        const seccomp = str(obj(sc.seccompProfile).type) ?? str(obj(pod.seccompProfile).type);
        if (seccomp === undefined || !ALLOWED_SECCOMP.has(seccomp)) {
            report(`runs ${who} with seccomp profile ${seccomp ?? "unset"}`, "set seccompProfile.type: RuntimeDefault (or Localhost) on the pod or container");
        }
        for (const port of list(container.ports).map(obj)) {
            if (port.hostPort !== undefined && port.hostPort !== 0) report(`binds host port ${String(port.hostPort)} in ${who}`, "remove hostPort; expose it with a Service");
        }
    }
    return out;
}

// ---------------------------------------------------------------------------

export interface ReadOnlyConfig {
    /** The apiserver's username/groups prefix; subjects with it are OIDC identities. */
    oidcPrefix?: string;
}

/** The pack, exactly as index.ts registers it. */
export const policies: Policies = [
    {
        name: RULES.readOnly,
        description:
            "OIDC users and groups are bound only to roles that get, list and watch, never secrets, dex.coreos.com, exec, attach, port-forward, proxies nor tokens, and never to cluster-admin, admin or edit; roles aggregated into view are held to the same.",
        enforcementLevel: "mandatory",
        configSchema: { properties: { oidcPrefix: { type: "string", default: DEFAULT_OIDC_PREFIX } } },
        validateStack: (args, reportViolation) => {
            const prefix = args.getConfig<ReadOnlyConfig>().oidcPrefix ?? DEFAULT_OIDC_PREFIX;
            for (const f of checkReadOnlyOidcAccess(args.resources, prefix)) reportViolation(f.message, f.resource.urn);
        },
    },
    {
        name: RULES.credentials,
        description: "No credential as a literal env value or in a ConfigMap; Dex's config only names its secrets as $VARs.",
        enforcementLevel: "mandatory",
        validateResource: (args, reportViolation) => checkPlaintextCredentials(args).forEach((m) => reportViolation(m)),
    },
    {
        name: RULES.issuer,
        description: "Dex's issuer and the apiserver's OIDC issuer are https:// and equal.",
        enforcementLevel: "mandatory",
        validateStack: (args, reportViolation) => {
            for (const f of checkTlsIssuer(args.resources)) reportViolation(f.message, f.resource.urn);
        },
    },
    {
        name: RULES.podSecurity,
        description: 'Workloads meet Pod Security "restricted".',
        enforcementLevel: "mandatory",
        validateResource: (args, reportViolation) => checkPodSecurity(args).forEach((m) => reportViolation(m)),
    },
];
