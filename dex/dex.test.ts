// Dex as the program deploys it on each stack: the GitHub connector, the
// hardened pods, the wiring between its objects, and where its secrets go.
// Rolling without downtime is proven on the real engine in the e2e; here the
// settings that make it so.
import { expect } from "chai";
import { byKind, dexConfigOf, one } from "../test/support/resources";
import { isSecretValue, reveal, runStack, type StackRun } from "../lab/stack";
import { makeCa } from "../lab/pki";
import { USER_KEYS } from "../lab/stack-file";
import { STACKS } from "../test/support/stacks";

for (const [stack, expected] of Object.entries(STACKS)) {
    describe(`Dex on ${stack}`, () => {
        let run: StackRun;
        before(async () => {
            run = await runStack(stack, expected.userKeys);
        });

        it("limits the GitHub connector to the org's allowed teams, by slug", () => {
            const connector = dexConfigOf(run.resources).connectors[0];
            expect(connector.type).to.equal("github");
            expect(connector.config.orgs).to.deep.equal([{ name: "devantler-tech", teams: ["platform"] }]);
            expect(connector.config.teamNameField).to.equal("slug");
            expect(connector.config.redirectURI).to.equal(`https://dex.${expected.domain}/callback`);
        });

        it("puts the user's verified devantler.tech email in the token, not the public profile's, when the stack names the domain", async () => {
            expect(dexConfigOf(run.resources).connectors[0].config.preferredEmailDomain).to.equal("devantler.tech");
            const unset = await runStack(stack, expected.userKeys, { "platform-auth:preferredEmailDomain": undefined });
            expect(dexConfigOf(unset.resources).connectors[0].config).to.not.have.property("preferredEmailDomain");
        });

        it("logs people in on github.com unless github:baseUrl names a GitHub Enterprise Server, and then on that server, trusting its CA for logins and refreshes", async () => {
            const connector = (r: StackRun) => dexConfigOf(r.resources).connectors[0].config;
            const container = (r: StackRun) => one(r.resources, "Deployment", "dex").inputs.spec.template.spec;
            expect(connector(run)).to.not.have.any.keys("hostName", "rootCA");
            expect(JSON.stringify(container(run))).to.not.include("github-ca");

            const ghesCa = makeCa("GHES CA");
            const ghes = await runStack(stack, { ...expected.userKeys, githubCaPem: ghesCa.certPem }, { "github:baseUrl": "https://ghe.devantler.tech:8443/api/v3/" });
            expect(connector(ghes)).to.include({ hostName: "ghe.devantler.tech:8443", rootCA: "/etc/github-ca/ca.pem" });
            expect(reveal(one(ghes.resources, "Secret", "dex-config").inputs).stringData["github-ca.pem"]).to.equal(ghesCa.certPem.trim() + "\n");
            const pod = container(ghes);
            const mount = pod.containers[0].volumeMounts.find((m: any) => m.mountPath === "/etc/github-ca");
            const volume = pod.volumes.find((v: any) => v.name === mount?.name);
            // rootCA is the file the mount makes of the Secret's key; Dex's refresh calls see it through SSL_CERT_DIR.
            expect(volume?.secret).to.deep.equal({ secretName: "dex-config", items: [{ key: "github-ca.pem", path: "ca.pem" }] });
            expect(pod.containers[0].env).to.deep.include({ name: "SSL_CERT_DIR", value: "/etc/github-ca" });
            const annotation = (r: StackRun) => one(r.resources, "Deployment", "dex").inputs.spec.template.metadata.annotations["platform-auth/config-sha256"];
            const otherCa = await runStack(stack, { ...expected.userKeys, githubCaPem: makeCa("GHES CA, renewed").certPem }, { "github:baseUrl": "https://ghe.devantler.tech:8443/api/v3/" });
            expect(annotation(otherCa)).to.not.equal(annotation(ghes));

            const publicGhes = await runStack(stack, expected.userKeys, { "github:baseUrl": "https://ghe.devantler.tech/" });
            expect(connector(publicGhes).hostName).to.equal("ghe.devantler.tech");
            expect(connector(publicGhes)).to.not.have.property("rootCA");
            expect(JSON.stringify(container(publicGhes))).to.not.include("github-ca");
        });

        it("lets kubectl log in by browser (and refresh) by default, its route refusing Dex's device endpoints, and by device code and approval only with deviceFlow", async () => {
            const kubectl = (config: ReturnType<typeof dexConfigOf>) => config.staticClients.find((c) => c.id === run.outputs.kubectlClientId)!;
            const config = dexConfigOf(run.resources);
            expect(config.oauth2.grantTypes).to.have.members(["authorization_code", "refresh_token"]);
            expect(config.oauth2.skipApprovalScreen).to.equal(true);
            expect(kubectl(config).redirectURIs).to.not.include("/device/callback");
            // Dex serves its device endpoints whatever its grants say: the route refuses them (longest prefix, no backend).
            const rules = (r: StackRun) => one(r.resources, "HTTPRoute").inputs.spec.rules;
            expect(rules(run)[1]).to.deep.equal({ matches: [{ path: { type: "PathPrefix", value: "/device" } }] });
            const deviceRun = await runStack(stack, { ...expected.userKeys, deviceFlow: "true" });
            const device = dexConfigOf(deviceRun.resources);
            expect(device.oauth2.grantTypes).to.have.members(["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"]);
            expect(device.oauth2.skipApprovalScreen).to.equal(false);
            // Dex sends the device flow's code to this path of its own, and checks it like any redirect URI.
            expect(kubectl(device).redirectURIs).to.include("/device/callback");
            expect(rules(deviceRun)).to.have.length(1);
            const ingress = JSON.stringify({ kind: "ingress", className: "nginx", controllerNamespace: "ingress-nginx" });
            const paths = async (keys: Record<string, string>) => one((await runStack(stack, keys, { "platform-auth:exposure": ingress })).resources, "Ingress").inputs.spec.rules[0].http.paths.map((p: any) => `${p.path} ${p.backend.service.port.number ?? p.backend.service.port.name}`);
            expect(await paths(expected.userKeys)).to.deep.equal(["/ 5556", "/device no-device-flow"]);
            expect(await paths({ ...expected.userKeys, deviceFlow: "true" })).to.deep.equal(["/ 5556"]);
        });

        it(`runs ${expected.replicas} hardened Dex replica(s) whose rolling update starts a new pod before stopping an old one`, () => {
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

        it("creates Dex's ten storage CRDs itself, so Dex's ServiceAccount holds no cluster-scoped right and only checks for them", () => {
            const crds = byKind(run.resources, "CustomResourceDefinition").map((r) => r.inputs);
            expect(crds.map((c) => c.metadata.name)).to.have.members([
                "authcodes.dex.coreos.com", "authrequests.dex.coreos.com", "oauth2clients.dex.coreos.com", "signingkeies.dex.coreos.com",
                "refreshtokens.dex.coreos.com", "passwords.dex.coreos.com", "offlinesessionses.dex.coreos.com", "connectors.dex.coreos.com",
                "devicerequests.dex.coreos.com", "devicetokens.dex.coreos.com",
            ]);
            expect(crds.every((c) => c.spec.scope === "Namespaced" && c.spec.group === "dex.coreos.com")).to.equal(true);
            const clusterBindings = byKind(run.resources, "ClusterRoleBinding").map((r) => r.inputs);
            expect(clusterBindings.filter((b) => b.subjects.some((s: { kind: string }) => s.kind === "ServiceAccount")), "a ClusterRoleBinding to a ServiceAccount").to.deep.equal([]);
            expect(one(run.resources, "Role", "dex-storage").inputs.rules).to.deep.equal([{ apiGroups: ["dex.coreos.com"], resources: ["*"], verbs: ["*"] }]);
            expect(dexConfigOf(run.resources).storage.config.crdHandling).to.equal("check");
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
            expect(policy.ingress.flatMap((r: any) => r.ports.map((p: any) => p.port))).to.deep.equal([ports[service.spec.ports[0].targetPort]]);
            expect(policy.egress.flatMap((r: any) => r.ports.map((p: any) => p.port))).to.include.members([53, 443, 6443]);
            expect(policy.podSelector.matchLabels).to.deep.equal(deployment.spec.template.metadata.labels);
            expect(container.volumeMounts).to.deep.include({ name: "tmp", mountPath: "/tmp" });
            expect(pod.volumes.find((v: any) => v.name === "tmp").emptyDir).to.be.an("object");
        });

        it("lets only the gateway's namespace reach Dex's HTTP port, only monitoring (when named) its metrics, and Dex out only to DNS, the apiserver and GitHub's port", async () => {
            const byNamespace = (name: string) => [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": name } } }];
            const policy = one(run.resources, "NetworkPolicy").inputs.spec;
            expect(policy.ingress).to.deep.equal([{ from: byNamespace("kube-system"), ports: [{ port: 5556, protocol: "TCP" }] }]);
            expect(policy.egress[0].to).to.deep.equal([{ ...byNamespace("kube-system")[0], podSelector: { matchLabels: { "k8s-app": "kube-dns" } } }]);
            expect(policy.egress.map((rule: any) => rule.ports.map((p: any) => p.port))).to.deep.equal([[53, 53], [443, 6443]]);
            const exposure = { kind: "httproute", gatewayName: "platform", gatewayNamespace: "kube-system", proxyNamespace: "envoy-gateway-system" };
            const monitored = await runStack(stack, expected.userKeys, { "platform-auth:monitoringNamespace": "monitoring", "platform-auth:exposure": JSON.stringify(exposure) });
            expect(one(monitored.resources, "NetworkPolicy").inputs.spec.ingress).to.deep.equal([
                { from: byNamespace("envoy-gateway-system"), ports: [{ port: 5556, protocol: "TCP" }] },
                { from: byNamespace("monitoring"), ports: [{ port: 5558, protocol: "TCP" }] },
            ]);
            const ghes = await runStack(stack, expected.userKeys, { "github:baseUrl": "https://ghe.devantler.tech:8443/api/v3/" });
            expect(one(ghes.resources, "NetworkPolicy").inputs.spec.egress[1].ports.map((p: any) => p.port)).to.deep.equal([443, 6443, 8443]);
        });

        it("lets nobody log in as the apiserver's audience client", () => {
            const audienceClient = dexConfigOf(run.resources).staticClients.find((c) => c.id === run.outputs.apiServerAudience)!;
            expect(audienceClient.public, "a public client accepts any loopback redirect").to.not.equal(true);
            expect(audienceClient.secretEnv).to.be.a("string");
            expect(audienceClient.trustedPeers).to.deep.equal([run.outputs.kubectlClientId]);
        });

        it("keeps the GitHub client secret out of every non-secret place", async () => {
            const secret = USER_KEYS.githubClientSecret;
            const credentials = one(run.resources, "Secret", "dex-credentials").inputs.stringData;
            expect(isSecretValue(credentials)).to.equal(true);
            expect(reveal(credentials)["client-secret"]).to.equal(secret);
            // The audience client's secret is derived from it, and just as private.
            const derived = reveal(credentials)["kube-apiserver-client-secret"];
            expect(derived).to.match(/^[0-9a-f]{64}$/);
            for (const resource of run.resources.filter((r) => r.inputs.metadata?.name !== "dex-credentials")) {
                const text = JSON.stringify(reveal(resource.inputs));
                expect(text, `${resource.type} ${resource.name}`).not.to.include(secret);
                expect(text, `${resource.type} ${resource.name}`).not.to.include(derived);
            }
            expect(JSON.stringify(run.outputs)).not.to.include(secret);
            const env = one(run.resources, "Deployment", "dex").inputs.spec.template.spec.containers[0].env;
            expect(env.find((e: any) => e.name === "GITHUB_CLIENT_SECRET")).to.deep.equal({ name: "GITHUB_CLIENT_SECRET", valueFrom: { secretKeyRef: { name: "dex-credentials", key: "client-secret" } } });
            expect(dexConfigOf(run.resources).connectors[0].config.clientSecret).to.equal("$GITHUB_CLIENT_SECRET");
            expect(byKind(run.resources, "ConfigMap")).to.have.length(0);
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
    });
}
