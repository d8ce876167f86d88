import { expect } from "chai";
import { container, podSpec, restrictedPod } from "../test/fixtures";
import { checkPodSecurity } from "./pod-security";
import { type Resource, RULES } from "./resource";

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

    /** Each edit turns the restricted pod into one that breaks exactly one requirement. */
    const failing: [string, (pod: Resource) => void, string][] = [
        ["hostNetwork", (p) => (podSpec(p).hostNetwork = true), "sets hostNetwork: true"],
        ["hostPID", (p) => (podSpec(p).hostPID = true), "sets hostPID: true"],
        ["hostIPC", (p) => (podSpec(p).hostIPC = true), "sets hostIPC: true"],
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
        it(`fails a pod with ${what}, in one message naming the pod`, () => {
            const pod = restrictedPod();
            mutate(pod);
            const messages = checkPodSecurity(pod);
            expect(messages).to.have.length(1);
            expect(messages[0]).to.contain("Pod/app").and.contain(expected).and.contain(RULES.podSecurity);
        });
    }
});
