// The CrossGuard pack (policy/) without the Pulumi CLI: every rule against
// small synthetic resources, and the whole registered pack against the real
// program's resources for both stacks, before and after the edits the pack
// exists to stop.
import Module from "node:module";
import type { PolicyPackArgs, PolicyResource, PolicyResourceOptions, ResourceValidationArgs, StackValidationArgs } from "@pulumi/policy";
import { expect } from "chai";
import { stringify } from "yaml";
import {
    apiServerIssuers,
    checkPlaintextCredentials,
    checkPodSecurity,
    checkReadOnlyOidcAccess,
    checkTlsIssuer,
    label,
    PACK_NAME,
    policies,
    RULES,
    TALOS_PATCH_TYPE,
    type Resource,
} from "./rules";
import { makeCa } from "../test/support/pki";
import { reveal } from "../test/support/resources";
import { runStack, USER_KEYS } from "../test/support/stack";

// --- driving the registered pack the way the CrossGuard server does ---------

interface Violation {
    policy: string;
    message: string;
    urn?: string;
}

const OPTS: PolicyResourceOptions = {
    protect: false,
    ignoreChanges: [],
    aliases: [],
    customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
    additionalSecretOutputs: [],
};
const notApplicable = (reason?: string): never => {
    throw new Error(`notApplicable: ${reason}`);
};

/** Runs every policy of the pack; `config` is per policy name, as `--policy-pack-config` gives it. */
async function runPack(resources: Resource[], config: Record<string, object> = {}): Promise<Violation[]> {
    const violations: Violation[] = [];
    const stackTags = new Map<string, string>();
    const withUrn = resources.map((r) => ({ ...r, urn: r.urn ?? `urn:pulumi:test::platform-auth::${r.type}::${r.name}` }));
    for (const policy of policies) {
        const getConfig = <T extends object>() => (config[policy.name] ?? {}) as T;
        const report = (message: string, urn?: string) => violations.push({ policy: policy.name, message, urn });
        if ("validateStack" in policy) {
            const policyResources: PolicyResource[] = withUrn.map((r) => ({
                ...r,
                opts: OPTS,
                dependencies: [],
                propertyDependencies: {},
                isType: () => false,
                asType: () => undefined,
            }));
            const args: StackValidationArgs = { resources: policyResources, stackTags, getConfig, notApplicable };
            await policy.validateStack(args, report);
        } else {
            const validations = [policy.validateResource ?? []].flat();
            for (const r of withUrn) {
                const args: ResourceValidationArgs = { ...r, opts: OPTS, stackTags, isType: () => false, asType: () => undefined, getConfig, notApplicable };
                for (const validate of validations) await validate(args, (message) => report(message, r.urn));
            }
        }
    }
    return violations;
}

// --- synthetic resources ----------------------------------------------------

const TYPES: Record<string, string> = {
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

function k8s(kind: string, name: string, props: Record<string, unknown> = {}, namespace?: string): Resource {
    return { type: TYPES[kind], name, props: { kind, metadata: { name, ...(namespace ? { namespace } : {}) }, ...props } };
}

const READ = ["get", "list", "watch"];
const clusterRole = (name: string, rules: object[]) => k8s("ClusterRole", name, { rules });
const rule = (apiGroups: string[], resources: string[], verbs = READ) => ({ apiGroups, resources, verbs });
const user = (name: string) => ({ apiGroup: "rbac.authorization.k8s.io", kind: "User", name });

/** A ClusterRole that Kubernetes folds into the built-in `into` role, by its aggregation label. */
function aggregated(name: string, into: "view" | "edit" | "admin", rules: object[]): Resource {
    const role = clusterRole(name, rules);
    (role.props.metadata as Record<string, unknown>).labels = { [`rbac.authorization.k8s.io/aggregate-to-${into}`]: "true" };
    return role;
}

function clusterBinding(name: string, role: string, subjects: object[] = [user("oidc:ned@example.com")]): Resource {
    return k8s("ClusterRoleBinding", name, { roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role }, subjects });
}

/** A Dex config like the program's, with the given connector clientSecret. */
function dexConfigYaml(clientSecret: string, issuer = "https://dex.example.com"): string {
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
function restrictedPod(): Resource {
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
const container = (pod: Resource) => (pod.props.spec as { containers: Record<string, any>[] }).containers[0];
const podSpec = (pod: Resource) => pod.props.spec as Record<string, any>;

// --- the real program -------------------------------------------------------

/**
 * The program's resources as the pack's stack policies see them: secrets already
 * unwrapped by CrossGuard, and each component with the outputs it registered
 * (the engine hands stack policies outputs; the mock records a component's empty inputs).
 */
async function programResources(stack: "local" | "prod", overrides: Record<string, string> = {}): Promise<Resource[]> {
    const keys = stack === "local" ? { ...USER_KEYS, issuerCaPem: makeCa("policy-test").certPem } : USER_KEYS;
    const run = await runStack(stack, keys, overrides);
    const talosOutputs = { patchYaml: run.outputs.talosPatch };
    return run.resources.map((r) => ({
        type: r.type,
        name: r.name,
        props: r.type === TALOS_PATCH_TYPE ? talosOutputs : reveal<Record<string, unknown>>(r.inputs),
    }));
}

function find(resources: Resource[], kind: string, name: string): Record<string, any> {
    const found = resources.find((r) => r.type === TYPES[kind] && (r.props.metadata as { name?: string } | undefined)?.name === name);
    if (!found) throw new Error(`no ${kind}/${name} in the program's resources`);
    return found.props;
}

// ---------------------------------------------------------------------------

describe("policy pack: wiring", () => {
    it("index.ts registers exactly the policies of rules.ts, under the pack name", () => {
        // PolicyPack starts a gRPC server for the CLI, so swap in a recorder for its module while index loads.
        const modulePath = require.resolve("@pulumi/policy");
        const original = require.cache[modulePath];
        const registered: { name: string; args: PolicyPackArgs }[] = [];
        const fake = new Module(modulePath);
        fake.exports = { PolicyPack: class { constructor(name: string, args: PolicyPackArgs) { registered.push({ name, args }); } } };
        fake.loaded = true;
        require.cache[modulePath] = fake;
        const indexPath = require.resolve("../policy/index");
        try {
            require(indexPath);
        } finally {
            delete require.cache[indexPath];
            if (original) require.cache[modulePath] = original;
            else delete require.cache[modulePath];
        }
        expect(registered).to.have.length(1);
        expect(registered[0].name).to.equal(PACK_NAME);
        expect(registered[0].args.policies).to.equal(policies);
        expect(registered[0].args.enforcementLevel).to.equal("mandatory");
    });

    it("has one mandatory policy per rule", () => {
        expect(policies.map((p) => p.name)).to.have.members(Object.values(RULES)).and.have.length(Object.values(RULES).length);
        for (const p of policies) expect(p.enforcementLevel, p.name).to.equal("mandatory");
    });
});

describe("policy: oidc-read-only-access", () => {
    const reader = clusterRole("cluster-reader", [rule([""], ["nodes"]), rule(["gateway.networking.k8s.io"], ["*"])]);

    it("passes read-only roles, the built-in view, and non-OIDC subjects with write access", () => {
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

    const failing: [string, Resource[], string][] = [
        ["a write verb", [clusterRole("cluster-reader", [rule([""], ["nodes"], ["get", "patch"])])], "grants verbs patch"],
        ["wildcard verbs", [clusterRole("cluster-reader", [rule([""], ["nodes"], ["*"])])], "grants verbs *"],
        ["secrets", [clusterRole("cluster-reader", [rule([""], ["secrets"])])], "grants secrets"],
        ["every core resource", [clusterRole("cluster-reader", [rule([""], ["*"])])], 'every core resource "*"'],
        ["dex.coreos.com", [clusterRole("cluster-reader", [rule(["dex.coreos.com"], ["refreshtokens"])])], "grants dex.coreos.com"],
        ["every API group", [clusterRole("cluster-reader", [rule(["*"], ["pods"])])], 'every API group "*"'],
        // Reads in name only: exec, attach and the proxies upgrade or forward a GET, and a token request mints a credential.
        ...["pods/exec", "pods/attach", "pods/portforward", "pods/proxy", "services/proxy", "nodes/proxy", "serviceaccounts/token"].map(
            (sub): [string, Resource[], string] => [`get on ${sub}`, [clusterRole("cluster-reader", [rule([""], [sub])])], `grants ${sub} (rule 1)`],
        ),
        ["a wildcard over pod subresources", [clusterRole("cluster-reader", [rule([""], ["pods/*"])])], 'grants pods/exec, pods/attach, pods/portforward, pods/proxy through "pods/*"'],
        ["a wildcard over proxies", [clusterRole("cluster-reader", [rule([""], ["*/proxy"])])], 'grants pods/proxy, services/proxy, nodes/proxy through "*/proxy"'],
        ["an aggregated role", [k8s("ClusterRole", "cluster-reader", { aggregationRule: { clusterRoleSelectors: [] } })], "aggregationRule"],
        ["a role the stack does not define", [], "does not define"],
    ];
    for (const [what, roles, expected] of failing) {
        it(`fails a binding to ${what}, naming the binding`, () => {
            const findings = checkReadOnlyOidcAccess([...roles, clusterBinding("oidc-cluster-reader", "cluster-reader")]);
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

    const aggregatedGrants: [string, object, string][] = [
        ["a write verb", rule([""], ["nodes"], ["get", "patch"]), "grants verbs patch"],
        ["secrets", rule([""], ["secrets"]), "grants secrets"],
        ["dex.coreos.com", rule(["dex.coreos.com"], ["refreshtokens"]), "grants dex.coreos.com"],
        ["every API group", rule(["*"], ["pods"]), 'every API group "*"'],
        ["pods/exec", rule([""], ["pods/exec"]), "grants pods/exec"],
    ];
    for (const [what, grant, expected] of aggregatedGrants) {
        it(`fails a binding to view when a ClusterRole aggregated into view grants ${what}`, () => {
            const findings = checkReadOnlyOidcAccess([aggregated("extra-view", "view", [grant]), clusterBinding("oidc-view", "view")]);
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

describe("policy: no-plaintext-credentials", () => {
    it("passes secrets taken by reference, non-credential literals, and a Dex config of $VARs", () => {
        const configMap = k8s("ConfigMap", "dex", { data: { "config.yaml": dexConfigYaml("$GITHUB_CLIENT_SECRET"), "log-level": "debug" } });
        const secret = k8s("Secret", "dex-github", { stringData: { "client-secret": "s3cr3t-value", "config.yaml": dexConfigYaml("${GITHUB_CLIENT_SECRET}") } });
        for (const r of [restrictedPod(), configMap, secret]) expect(checkPlaintextCredentials(r), label(r)).to.deep.equal([]);
    });

    it("fails a literal credential env value, in any workload kind", () => {
        const env = [{ name: "GITHUB_CLIENT_SECRET", value: "s3cr3t" }];
        const cronJob = k8s("CronJob", "sync", { spec: { jobTemplate: { spec: { template: { spec: { initContainers: [{ name: "init", env }] } } } } } });
        const [message] = checkPlaintextCredentials(cronJob);
        expect(message).to.contain("CronJob/sync").and.contain('GITHUB_CLIENT_SECRET of container "init"').and.contain("secretKeyRef");
    });

    it("fails literal env values of PASSWORD and TOKEN names, not only SECRET", () => {
        const pod = restrictedPod();
        container(pod).env.push({ name: "DB_PASSWORD", value: "hunter2" }, { name: "REGISTRY_TOKEN", value: "t0ken" });
        const messages = checkPlaintextCredentials(pod);
        expect(messages).to.have.length(2);
        expect(messages[0]).to.contain("sets env DB_PASSWORD");
        expect(messages[1]).to.contain("sets env REGISTRY_TOKEN");
    });

    it("fails a credential-named key in a ConfigMap's binaryData", () => {
        const messages = checkPlaintextCredentials(k8s("ConfigMap", "app", { binaryData: { "client-secret": Buffer.from("s3cr3t").toString("base64") } }));
        expect(messages).to.have.length(1);
        expect(messages[0]).to.contain('ConfigMap/app has key "client-secret"');
    });

    const failing: [string, Record<string, string>, string][] = [
        ["a credential-named key", { "api-key": "abc" }, 'has key "api-key"'],
        // Dex expands only $NAME and ${NAME}; anything else after a "$" is the secret itself.
        ["a $-prefixed literal that is no $VAR", { "config.yaml": dexConfigYaml("$3cr3t!") }, 'connector "github" with a literal clientSecret'],
        ["a PEM private key", { "tls.key": "-----BEGIN EC PRIVATE KEY-----\nMHcC\n-----END EC PRIVATE KEY-----\n" }, "PEM private key"],
        ["a literal password in a document", { "app.yaml": "database:\n  password: hunter2\n" }, "database.password"],
        ["Dex config with a literal clientSecret", { "config.yaml": dexConfigYaml("0123456789abcdef") }, 'connector "github" with a literal clientSecret'],
    ];
    for (const [what, data, expected] of failing) {
        it(`fails a ConfigMap holding ${what}`, () => {
            const messages = checkPlaintextCredentials(k8s("ConfigMap", "app", { data }));
            expect(messages).to.have.length(1);
            expect(messages[0]).to.contain("ConfigMap/app").and.contain(expected).and.contain(RULES.credentials);
        });
    }

    it("fails a Dex config in a Secret with a literal clientSecret or static client secret, also base64 in data", () => {
        const literal = dexConfigYaml("0123456789abcdef").replace("secretEnv: DASHBOARD_SECRET", "secret: dashboard-s3cr3t");
        const secret = k8s("Secret", "dex-config", { data: { "config.yaml": Buffer.from(literal).toString("base64") } });
        const messages = checkPlaintextCredentials(secret);
        expect(messages).to.have.length(2);
        expect(messages[0]).to.contain("Secret/dex-config").and.contain("literal clientSecret");
        expect(messages[1]).to.contain('static client "dashboard" with a literal secret').and.contain("secretEnv");
    });
});

describe("policy: tls-issuer", () => {
    const dexSecret = (issuer: string) => k8s("Secret", "dex-config", { stringData: { "config.yaml": dexConfigYaml("$X", issuer) } });
    const talos113 = (issuer: string): Resource => ({
        type: "command:local:Command",
        name: "talos-apply",
        props: { environment: { TALOS_PATCH: stringify({ cluster: { apiServer: { extraArgs: { "oidc-issuer-url": issuer } } } }) } },
    });
    const talos114 = (issuer: string): Resource => ({
        type: "platform-auth:auth:TalosApiServerPatch",
        name: "talos",
        props: { patchYaml: stringify({ kind: "KubeAuthenticationConfig", configuration: { jwt: [{ issuer: { url: issuer } }] } }) },
    });

    it("reads the apiserver issuer from both patch formats", () => {
        expect(apiServerIssuers(talos113("https://a.example"))).to.deep.equal(["https://a.example"]);
        expect(apiServerIssuers(talos114("https://b.example"))).to.deep.equal(["https://b.example"]);
    });

    it("passes equal https issuers", () => {
        expect(checkTlsIssuer([dexSecret("https://dex.example.com"), talos113("https://dex.example.com"), talos114("https://dex.example.com")])).to.deep.equal([]);
    });

    it("fails an http Dex issuer, naming the config's Secret", () => {
        const findings = checkTlsIssuer([dexSecret("http://dex.example.com")]);
        expect(findings.map((f) => f.message)).to.deep.equal([
            `${RULES.issuer}: Secret/dex-config sets Dex's issuer to "http://dex.example.com", which is not https://. Fix: use an https:// issuer; kubelogin and the apiserver send and verify tokens only over TLS.`,
        ]);
    });

    it("fails an apiserver issuer that differs from Dex's, even by a trailing slash", () => {
        const findings = checkTlsIssuer([dexSecret("https://dex.example.com"), talos114("https://dex.example.com/")]);
        expect(findings).to.have.length(1);
        expect(findings[0].message).to.contain("TalosApiServerPatch/talos").and.contain('trust issuer "https://dex.example.com/"');
    });

    it("fails an http apiserver issuer without any Dex config", () => {
        expect(checkTlsIssuer([talos113("http://dex.example.com")])[0].message).to.contain("Command/talos-apply").and.contain("not https://");
    });
});

describe("policy: pod-security-restricted", () => {
    it("passes a pod that meets restricted at pod level", () => {
        expect(checkPodSecurity(restrictedPod())).to.deep.equal([]);
    });

    it("passes the values restricted allows for sysctls, AppArmor, SELinux, procMount and hostProcess", () => {
        const pod = restrictedPod();
        (pod.props.metadata as Record<string, unknown>).annotations = { "container.apparmor.security.beta.kubernetes.io/app": "runtime/default" };
        Object.assign(podSpec(pod).securityContext, {
            sysctls: [{ name: "net.ipv4.ip_unprivileged_port_start", value: "0" }, { name: "kernel.shm_rmid_forced", value: "1" }],
            appArmorProfile: { type: "RuntimeDefault" },
            seLinuxOptions: { type: "container_t", level: "s0:c123,c456" },
            windowsOptions: { hostProcess: false },
        });
        Object.assign(container(pod).securityContext, { appArmorProfile: { type: "Localhost", localhostProfile: "k8s-app" }, procMount: "Default" });
        expect(checkPodSecurity(pod)).to.deep.equal([]);
    });

    const failing: [string, (pod: Resource) => void, string][] = [
        ["hostNetwork", (p) => (podSpec(p).hostNetwork = true), "sets hostNetwork: true"],
        ["hostPID", (p) => (podSpec(p).hostPID = true), "sets hostPID: true"],
        ["a hostPath volume", (p) => podSpec(p).volumes.push({ name: "root", hostPath: { path: "/" } }), 'volume "root" of type hostPath'],
        ["a privileged container", (p) => (container(p).securityContext.privileged = true), "privileged"],
        ["privilege escalation left unset", (p) => delete container(p).securityContext.allowPrivilegeEscalation, "escalate privileges"],
        ["capabilities not dropped", (p) => (container(p).securityContext.capabilities.drop = ["NET_RAW"]), "does not drop ALL"],
        ["an added capability", (p) => container(p).securityContext.capabilities.add.push("SYS_ADMIN"), "adds capabilities SYS_ADMIN"],
        ["a container overriding runAsNonRoot", (p) => (container(p).securityContext.runAsNonRoot = false), "as root"],
        ["UID 0", (p) => (podSpec(p).securityContext.runAsUser = 0), "as UID 0"],
        ["a container overriding seccomp to Unconfined", (p) => (container(p).securityContext.seccompProfile = { type: "Unconfined" }), "seccomp profile Unconfined"],
        ["no seccomp profile", (p) => delete podSpec(p).securityContext.seccompProfile, "seccomp profile unset"],
        ["a host port", (p) => (container(p).ports = [{ containerPort: 80, hostPort: 80 }]), "host port 80"],
        ["hostIPC", (p) => (podSpec(p).hostIPC = true), "sets hostIPC: true"],
        [
            "an unsafe sysctl beside a safe one",
            (p) => (podSpec(p).securityContext.sysctls = [{ name: "net.ipv4.tcp_syncookies", value: "1" }, { name: "kernel.msgmax", value: "65536" }]),
            "sets sysctl kernel.msgmax",
        ],
        ["AppArmor Unconfined on the pod", (p) => (podSpec(p).securityContext.appArmorProfile = { type: "Unconfined" }), "runs the pod with AppArmor profile Unconfined"],
        ["AppArmor Unconfined on a container", (p) => (container(p).securityContext.appArmorProfile = { type: "Unconfined" }), 'runs container "app" with AppArmor profile Unconfined'],
        [
            "the legacy AppArmor annotation set to unconfined",
            (p) => ((p.props.metadata as Record<string, unknown>).annotations = { "container.apparmor.security.beta.kubernetes.io/app": "unconfined" }),
            'annotation container.apparmor.security.beta.kubernetes.io/app: "unconfined"',
        ],
        ["an SELinux type outside the container types", (p) => (container(p).securityContext.seLinuxOptions = { type: "spc_t" }), 'container "app" with SELinux type spc_t'],
        ["an SELinux user", (p) => (podSpec(p).securityContext.seLinuxOptions = { user: "system_u" }), "the pod with SELinux user system_u"],
        ["an SELinux role", (p) => (container(p).securityContext.seLinuxOptions = { role: "system_r" }), 'container "app" with SELinux role system_r'],
        ["an Unmasked procMount", (p) => (container(p).securityContext.procMount = "Unmasked"), 'container "app" with procMount Unmasked'],
        ["a Windows host process", (p) => (podSpec(p).securityContext.windowsOptions = { hostProcess: true }), "runs the pod as a Windows host process"],
    ];
    for (const [what, mutate, expected] of failing) {
        it(`fails ${what}`, () => {
            const pod = restrictedPod();
            mutate(pod);
            const messages = checkPodSecurity(pod);
            expect(messages).to.have.length(1);
            expect(messages[0]).to.contain("Pod/app").and.contain(expected).and.contain(RULES.podSecurity);
        });
    }
});

describe("policy pack on the program's own stacks", () => {
    const stacks: [string, "local" | "prod", Record<string, string>][] = [
        ["local", "local", {}],
        ["prod", "prod", {}],
        // With nodes the patch reaches a Command, the one place today where the apiserver issuer is visible.
        ["prod with Talos nodes (v1.13 flags)", "prod", { talosNodes: '["10.0.0.2"]' }],
        ["local with Talos nodes (v1.14 document)", "local", { talosNodes: '["10.0.0.2"]', talosVersion: "v1.14" }],
    ];
    for (const [what, stack, overrides] of stacks) {
        it(`passes the whole pack: ${what}`, async () => {
            const resources = await programResources(stack, overrides);
            expect(await runPack(resources)).to.deep.equal([]);
            // tls-issuer had the apiserver's issuer to compare: from the component, and the Command with nodes.
            const issuer = stack === "prod" ? "https://dex.platform.devantler.tech" : "https://dex.platform.lan";
            expect(resources.flatMap(apiServerIssuers)).to.deep.equal(overrides.talosNodes ? [issuer, issuer] : [issuer]);
        });
    }

    describe("fails the edits the pack exists to stop (prod)", () => {
        let resources: Resource[];
        before(async () => {
            resources = await programResources("prod", { talosNodes: '["10.0.0.2"]' });
        });
        /** The pack's violations after `edit` is applied to a copy of the program's resources. */
        async function after(edit: (copy: Resource[]) => void): Promise<Violation[]> {
            const copy = structuredClone(resources);
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

        it("an apiserver issuer that drifts from Dex's", async () => {
            const drift = (patch: string) => patch.replace("https://dex.platform.devantler.tech", "https://dex.platform.devantler.tech/");
            const violations = await after((c) => {
                const env = c.find((r) => r.type === "command:local:Command")!.props.environment as Record<string, string>;
                env.TALOS_PATCH = drift(env.TALOS_PATCH);
                const component = c.find((r) => r.type === TALOS_PATCH_TYPE)!.props;
                component.patchYaml = drift(component.patchYaml as string);
            });
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
