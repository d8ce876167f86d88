// pod-security-restricted: the Pod Security "restricted" profile, so a
// workload admitted by this pack is also admitted by a namespace that enforces
// it (the program labels Dex's namespace so).
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { containers, podSpec, podTemplate } from "./pod-template";
import { list, message, obj, type Obj, type Resource, RULES, str, strings } from "./resource";

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

export const podSecurityPolicy: ResourceValidationPolicy = {
    name: RULES.podSecurity,
    description: 'Workloads meet Pod Security "restricted".',
    enforcementLevel: "mandatory",
    validateResource: (args, reportViolation) => checkPodSecurity(args).forEach((m) => reportViolation(m)),
};
