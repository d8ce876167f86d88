// Both stacks, loaded from their real Pulumi.<stack>.yaml with only the
// user-set keys, checked for the promises users rely on.
import { expect } from "chai";
import { parse, parseAllDocuments } from "yaml";
import { readApiServerOidc } from "../talos/read";
import { caFileName } from "../talos/render";
import { makeCa } from "./support/pki";
import { byKind, dexConfigOf, dexTokenAudience, isSecretValue, one, reveal } from "./support/resources";
import { runStack, USER_KEYS, type StackRun } from "./support/stack";

const ca = makeCa("mkcert development CA");
const STACKS = {
    local: { domain: "platform.lan", userKeys: { ...USER_KEYS, issuerCaPem: ca.certPem }, replicas: 1 },
    prod: { domain: "platform.devantler.tech", userKeys: USER_KEYS, replicas: 2 },
};

/** The kubelogin exec entry from the kubeconfigUser output. */
function execOf(run: StackRun) {
    return parse(run.outputs.kubeconfigUser).user.exec as { apiVersion: string; command: string; args: string[] };
}
function flagValues(args: string[], flag: string): string[] {
    return args.filter((a) => a.startsWith(`${flag}=`)).map((a) => a.slice(flag.length + 1));
}

/** The apiserver's OIDC settings, read back from the Talos patch whatever its mode. */
function apiServerOidc(run: StackRun) {
    const settings = readApiServerOidc(run.outputs.talosPatch);
    expect(settings, "the patch configures exactly one issuer").to.have.length(1);
    return settings[0];
}

for (const [stack, expected] of Object.entries(STACKS)) {
    describe(`stack ${stack}`, () => {
        let run: StackRun;
        before(async () => {
            run = await runStack(stack, expected.userKeys);
        });

        for (const talosVersion of ["v1.13", "v1.14"]) {
            describe(`with Talos ${talosVersion}`, () => {
                let patched: StackRun;
                before(async () => {
                    patched = await runStack(stack, expected.userKeys, { "platform-auth:talosVersion": talosVersion });
                });

                it(`serves the issuer at https://dex.${expected.domain}, and every party uses it`, () => {
                    const issuer = `https://dex.${expected.domain}`;
                    expect(patched.outputs.issuerUrl).to.equal(issuer);
                    expect(dexConfigOf(patched.resources).issuer).to.equal(issuer);
                    expect(apiServerOidc(patched).issuerUrl).to.equal(issuer);
                    expect(flagValues(execOf(patched).args, "--oidc-issuer-url")).to.deep.equal([issuer]);
                    const route = one(patched.resources, "HTTPRoute");
                    expect(route.inputs.spec.hostnames).to.deep.equal([`dex.${expected.domain}`]);
                    expect(route.inputs.spec.parentRefs).to.deep.equal([{ name: "platform", namespace: "kube-system", sectionName: "https" }]);
                });

                it("issues kubelogin a token whose audience the apiserver accepts, and only that token", () => {
                    const args = execOf(patched).args;
                    const [clientId] = flagValues(args, "--oidc-client-id");
                    expect(clientId).to.equal(patched.outputs.kubectlClientId);
                    const scopes = ["openid", ...flagValues(args, "--oidc-extra-scope")];
                    const aud = dexTokenAudience(dexConfigOf(patched.resources), clientId, scopes);
                    const accepted = apiServerOidc(patched).audiences;
                    expect(accepted).to.deep.equal([patched.outputs.apiServerAudience]);
                    expect(aud, `aud ${aud} vs apiserver ${accepted}`).to.include(accepted[0]);
                    // Without the audience scope (the seed's defect) the token would be refused.
                    const naive = dexTokenAudience(dexConfigOf(patched.resources), clientId, ["openid", "email"]);
                    expect(naive).to.not.include(accepted[0]);
                });

                it("maps email and groups with the oidc: prefix that the RBAC subjects use", () => {
                    const oidc = apiServerOidc(patched);
                    expect(oidc.username).to.deep.equal({ claim: "email", prefix: "oidc:" });
                    expect(oidc.groups).to.deep.equal({ claim: "groups", prefix: "oidc:" });
                    const subjects = one(patched.resources, "ClusterRoleBinding", "oidc-view").inputs.subjects;
                    expect(subjects).to.deep.equal([
                        { apiGroup: "rbac.authorization.k8s.io", kind: "User", name: `${oidc.username.prefix}ned@devantler.tech` },
                        { apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: `${oidc.groups.prefix}devantler-tech:platform` },
                    ]);
                });
            });
        }

        it("asks for offline_access so Dex issues a refresh token, and bounds its lifetime", () => {
            expect(flagValues(execOf(run).args, "--oidc-extra-scope")).to.include.members(["email", "profile", "groups", "offline_access"]);
            const expiry = dexConfigOf(run.resources).expiry;
            expect(expiry.idTokens).to.equal("1h");
            expect(expiry.refreshTokens).to.include({ validIfNotUsedFor: "168h", absoluteLifetime: "720h" });
        });

        it("registers a public kubectl client for both of kubelogin's callback ports", () => {
            const client = dexConfigOf(run.resources).staticClients.find((c: any) => c.id === run.outputs.kubectlClientId);
            expect(client).to.include({ public: true });
            expect(client.redirectURIs).to.deep.equal(["http://localhost:8000", "http://localhost:18000"]);
        });

        it("limits the GitHub connector to the org's allowed teams, by slug", () => {
            const connector = dexConfigOf(run.resources).connectors[0];
            expect(connector.type).to.equal("github");
            expect(connector.config.orgs).to.deep.equal([{ name: "devantler-tech", teams: ["platform"] }]);
            expect(connector.config.teamNameField).to.equal("slug");
            expect(connector.config.redirectURI).to.equal(`https://dex.${expected.domain}/callback`);
            expect(run.outputs.githubOAuthApp).to.deep.equal({ homepageUrl: `https://dex.${expected.domain}`, callbackUrl: `https://dex.${expected.domain}/callback` });
        });

        it("manages the allowed GitHub team and its members", () => {
            expect(byKind(run.resources, "Team").map((t) => t.inputs.name)).to.deep.equal(["platform"]);
            expect(one(run.resources, "TeamMembership").inputs).to.include({ username: "devantler", role: "maintainer" });
        });

        it(`runs ${expected.replicas} hardened Dex replica(s) that roll without downtime`, () => {
            const spec = one(run.resources, "Deployment", "dex").inputs.spec;
            expect(spec.replicas).to.equal(expected.replicas);
            expect(spec.strategy.rollingUpdate.maxUnavailable).to.equal(0);
            const pod = spec.template.spec;
            expect(pod.securityContext).to.include({ runAsNonRoot: true });
            expect(pod.securityContext.seccompProfile.type).to.equal("RuntimeDefault");
            const container = pod.containers[0];
            expect(container.image).to.match(/^ghcr\.io\/dexidp\/dex:v2\.45\.\d+/);
            expect(container.securityContext).to.deep.include({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
            expect(container.volumeMounts).to.deep.include({ name: "tmp", mountPath: "/tmp" });
            expect(container.readinessProbe.httpGet.path).to.equal("/healthz/ready");
            expect(container.livenessProbe.httpGet.path).to.equal("/healthz/live");
            const budget = one(run.resources, "PodDisruptionBudget").inputs.spec;
            expect(expected.replicas > 1 ? budget.minAvailable : budget.maxUnavailable).to.equal(1);
            expect(one(run.resources, "Namespace").inputs.metadata.labels["pod-security.kubernetes.io/enforce"]).to.equal("restricted");
        });

        it("wires Dex's objects to each other by the names and ports they declare", () => {
            const byName = (kind: string, name: string) => one(run.resources, kind, name).inputs;
            const deployment = one(run.resources, "Deployment", "dex").inputs;
            const pod = deployment.spec.template.spec;
            const container = pod.containers[0];
            expect(byName("ServiceAccount", pod.serviceAccountName).metadata.namespace).to.equal("dex");
            expect(pod.automountServiceAccountToken, "in-cluster storage needs the token").to.equal(true);
            // The config file the command reads is the config Secret's key, mounted where the command looks.
            const configVolume = pod.volumes.find((v: any) => v.secret);
            const configMount = container.volumeMounts.find((m: any) => m.name === configVolume.name);
            const configPath = container.command[container.command.length - 1];
            expect(configPath.startsWith(`${configMount.mountPath}/`)).to.equal(true);
            expect(reveal(byName("Secret", configVolume.secret.secretName).stringData)).to.have.property(configPath.slice(configMount.mountPath.length + 1));
            for (const mount of container.volumeMounts) expect(pod.volumes.map((v: any) => v.name)).to.include(mount.name);
            // Every variable the config names comes from a key the credentials Secret has.
            for (const { name, valueFrom } of container.env) {
                expect(reveal(byName("Secret", valueFrom.secretKeyRef.name).stringData), name).to.have.property(valueFrom.secretKeyRef.key);
            }
            const named = JSON.stringify(dexConfigOf(run.resources)).match(/\$[A-Z_]+|"secretEnv":"[A-Z_]+"/g)!.map((v) => v.replace(/^\$|"secretEnv":|"/g, ""));
            expect(container.env.map((e: any) => e.name)).to.include.members(named).and.have.length(named.length);
            // Probes, Service, route and network policy all point at ports the container declares.
            const ports = Object.fromEntries(container.ports.map((p: any) => [p.name, p.containerPort]));
            expect(ports[container.readinessProbe.httpGet.port]).to.equal(5558);
            expect(ports[container.livenessProbe.httpGet.port]).to.equal(5558);
            const service = byName("Service", "dex");
            expect(ports[service.spec.ports[0].targetPort]).to.equal(5556);
            expect(one(run.resources, "HTTPRoute").inputs.spec.rules[0].backendRefs).to.deep.equal([{ name: service.metadata.name, port: service.spec.ports[0].port }]);
            const policy = one(run.resources, "NetworkPolicy").inputs.spec;
            expect(policy.ingress.flatMap((r: any) => r.ports.map((p: any) => p.port))).to.include.members([5556, 5558]);
            expect(policy.egress.flatMap((r: any) => r.ports.map((p: any) => p.port))).to.include.members([53, 443, 6443]);
            expect(policy.podSelector.matchLabels).to.deep.equal(deployment.spec.template.metadata.labels);
            expect(container.volumeMounts).to.deep.include({ name: "tmp", mountPath: "/tmp" });
            expect(pod.volumes.find((v: any) => v.name === "tmp").emptyDir).to.be.an("object");
        });

        it("lets nobody log in as the apiserver's audience client", () => {
            const audienceClient = dexConfigOf(run.resources).staticClients.find((c: any) => c.id === run.outputs.apiServerAudience);
            expect(audienceClient.public, "a public client accepts any loopback redirect").to.not.equal(true);
            expect(audienceClient.secretEnv).to.be.a("string");
            expect(audienceClient.trustedPeers).to.deep.equal([run.outputs.kubectlClientId]);
        });

        it("keeps the GitHub client secret out of every non-secret place", async () => {
            const secret = USER_KEYS.githubClientSecret;
            const credentials = one(run.resources, "Secret", "dex-github").inputs.stringData;
            expect(isSecretValue(credentials)).to.equal(true);
            expect(reveal(credentials)["client-secret"]).to.equal(secret);
            // The audience client's secret is derived from it, and just as private.
            const derived = reveal(credentials)["kube-apiserver-client-secret"];
            expect(derived).to.match(/^[0-9a-f]{64}$/);
            for (const resource of run.resources.filter((r) => r.inputs.metadata?.name !== "dex-github")) {
                const text = JSON.stringify(reveal(resource.inputs));
                expect(text, `${resource.type} ${resource.name}`).not.to.include(secret);
                expect(text, `${resource.type} ${resource.name}`).not.to.include(derived);
            }
            expect(JSON.stringify(run.outputs)).not.to.include(secret);
            const env = one(run.resources, "Deployment", "dex").inputs.spec.template.spec.containers[0].env;
            expect(env.find((e: any) => e.name === "GITHUB_CLIENT_SECRET")).to.deep.equal({ name: "GITHUB_CLIENT_SECRET", valueFrom: { secretKeyRef: { name: "dex-github", key: "client-secret" } } });
            expect(dexConfigOf(run.resources).connectors[0].config.clientSecret).to.equal("$GITHUB_CLIENT_SECRET");
            expect(byKind(run.resources, "ConfigMap")).to.have.length(0);
        });

        it("produces the same resources on every run (idempotent previews)", async () => {
            const again = await runStack(stack, expected.userKeys);
            expect(again.resources.map((r) => [r.type, r.name, r.inputs])).to.deep.equal(run.resources.map((r) => [r.type, r.name, r.inputs]));
            expect(again.outputs).to.deep.equal(run.outputs);
        });

        it("rolls Dex's pods when its config changes, and only then", async () => {
            const annotation = (r: StackRun) => one(r.resources, "Deployment", "dex").inputs.spec.template.metadata.annotations["platform-auth/config-sha256"];
            const changed = await runStack(stack, expected.userKeys, { "platform-auth:tokenLifetimes": JSON.stringify({ idToken: "30m" }) });
            expect(annotation(changed)).to.match(/^[0-9a-f]{64}$/).and.not.equal(annotation(run));
            const unrelated = await runStack(stack, expected.userKeys, { "platform-auth:readOnlyUsers": JSON.stringify(["ops@devantler.tech"]) });
            expect(annotation(unrelated)).to.equal(annotation(run));
        });

        it("rolls Dex's pods when the GitHub client secret is rotated, without exposing it", async () => {
            const annotations = (r: StackRun) => one(r.resources, "Deployment", "dex").inputs.spec.template.metadata.annotations;
            const rotated = await runStack(stack, { ...expected.userKeys, githubClientSecret: "rotated-secret-fedcba9876543210" });
            expect(annotations(rotated)["platform-auth/credentials-sha256"]).to.match(/^[0-9a-f]{64}$/).and.not.equal(annotations(run)["platform-auth/credentials-sha256"]);
            expect(annotations(rotated)["platform-auth/config-sha256"]).to.equal(annotations(run)["platform-auth/config-sha256"]);
            expect(isSecretValue(annotations(run)["platform-auth/credentials-sha256"])).to.equal(false);
        });

        it("only renders the Talos patch unless nodes are configured, then applies and reverts it with talosctl", async () => {
            expect(byKind(run.resources, "Command")).to.have.length(0);
            const withNodes = await runStack(stack, expected.userKeys, { "platform-auth:talosNodes": JSON.stringify(["10.0.0.2", "10.0.0.3"]) });
            const command = one(withNodes.resources, "Command").inputs;
            expect(command.environment.TALOS_NODES).to.equal("10.0.0.2 10.0.0.3");
            const applied = parseAllDocuments(command.environment.TALOS_PATCH).map((d) => d.toJS());
            expect(applied[0].cluster.apiServer.extraArgs).to.deep.equal(parseAllDocuments(withNodes.outputs.talosPatch)[0].toJS().cluster.apiServer.extraArgs);
            expect(command.create).to.include('talosctl patch machineconfig --nodes "$node" --mode "$mode" "$@"');
            expect(command.delete).to.include('"$TALOS_REVERT_PATCH"');
            expect(command.update, "an update would re-apply without reverting").to.equal(undefined);
            // Every input is a trigger, so any change replaces; deleting first reverts the old settings before the new apply.
            expect(command.triggers).to.deep.equal([{ create: command.create, delete: command.delete, interpreter: command.interpreter, environment: command.environment }]);
            expect(one(withNodes.resources, "Command").deleteBeforeReplace).to.equal(true);
        });
    });
}

describe("CA handling", () => {
    it("the local stack hands mkcert's CA to both kubelogin and the apiserver", async () => {
        const run = await runStack("local", STACKS.local.userKeys);
        const [caData] = flagValues(execOf(run).args, "--certificate-authority-data");
        expect(Buffer.from(caData, "base64").toString()).to.equal(ca.certPem);
        expect(apiServerOidc(run).caPem).to.equal(ca.certPem);
        const args = parseAllDocuments(run.outputs.talosPatch)[0].toJS().cluster.apiServer;
        expect(args.extraVolumes[0]).to.include({ mountPath: "/etc/kubernetes/oidc", readonly: true });
        expect(args.extraArgs["oidc-ca-file"]).to.equal(`/etc/kubernetes/oidc/${caFileName(ca.certPem)}`);
    });

    it("the prod stack relies on public trust and carries no CA", async () => {
        const run = await runStack("prod", USER_KEYS);
        expect(flagValues(execOf(run).args, "--certificate-authority-data")).to.deep.equal([]);
        expect(apiServerOidc(run).caPem).to.equal(undefined);
        expect(run.outputs.talosPatch).not.to.include("oidc-ca-file");
    });

    it("Talos 1.14 gets the CA inline in a KubeAuthenticationConfig and no .cluster.apiServer", async () => {
        const run = await runStack("local", STACKS.local.userKeys, { "platform-auth:talosVersion": "v1.14.0" });
        const docs = parseAllDocuments(run.outputs.talosPatch).map((d) => d.toJS());
        expect(docs.map((d) => d.kind)).to.deep.equal(["KubeAuthenticationConfig"]);
        expect(docs[0].configuration.jwt[0].issuer.certificateAuthority).to.equal(ca.certPem);
        expect(run.outputs.talosPatch).not.to.match(/apiServer|oidc-/);
        expect(run.outputs.talosPatchMode).to.equal("authenticationConfig");
    });
});
