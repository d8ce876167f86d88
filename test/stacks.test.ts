// Both stacks, loaded from their real Pulumi.<stack>.yaml with only the
// user-set keys, checked for the promises that span the parties: Dex, the
// apiserver (through the Talos patch) and kubelogin read one contract, so the
// issuer, audience, claims, prefixes and CA agree. Each party's own promises
// are tested in its folder.
import { expect } from "chai";
import { parseAllDocuments } from "yaml";
import { readKubeloginUser } from "../kubeconfig/read";
import { readApiServerOidc } from "../talos/read";
import { caFileName } from "../talos/render";
import { dexConfigOf, dexTokenAudience, one } from "./support/resources";
import { runStack, type StackRun } from "../lab/stack";
import { parsedStackConfig, renderedStack, USER_KEYS } from "../lab/stack-file";
import { LOCAL_CA, STACKS } from "./support/stacks";

/** The apiserver's OIDC settings, read back from the Talos patch whatever its mode. */
function apiServerOidc(run: StackRun) {
    const settings = readApiServerOidc(run.outputs.talosPatch);
    expect(settings, "the patch configures exactly one issuer").to.have.length(1);
    return settings[0];
}

const kubelogin = (run: StackRun) => readKubeloginUser(run.outputs.kubeconfigUser);

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
                    expect(kubelogin(patched).issuerUrl).to.equal(issuer);
                    const route = one(patched.resources, "HTTPRoute");
                    expect(route.inputs.spec.hostnames).to.deep.equal([`dex.${expected.domain}`]);
                    expect(route.inputs.spec.parentRefs).to.deep.equal([{ name: "platform", namespace: "kube-system", sectionName: "https" }]);
                });

                // The real Dex and apiserver settle this in the e2e (step 5); the model shows why, in milliseconds.
                it("model: Dex's audience rule gives kubelogin's token the apiserver's audience, and withholds it without the scope", () => {
                    const { clientId, scopes } = kubelogin(patched);
                    expect(clientId).to.equal(patched.outputs.kubectlClientId);
                    const aud = dexTokenAudience(dexConfigOf(patched.resources), clientId!, scopes);
                    const accepted = apiServerOidc(patched).audiences;
                    expect(accepted).to.deep.equal([patched.outputs.apiServerAudience]);
                    expect(aud, `aud ${aud} vs apiserver ${accepted}`).to.include(accepted[0]);
                    // Without the audience scope (the seed's defect) the token would be refused.
                    const naive = dexTokenAudience(dexConfigOf(patched.resources), clientId!, ["openid", "email"]);
                    expect(naive).to.not.include(accepted[0]);
                });

                // The sandbox and the bench start their apiserver from this rendering, without a mock-engine run.
                it("the world's rendering of the parsed stack file is the program's talosPatch, its mode and the OAuth callback", async () => {
                    const rendered = renderedStack(parsedStackConfig(stack, { ...expected.userKeys, talosVersion }));
                    expect(rendered.talosPatch).to.equal(patched.outputs.talosPatch);
                    expect(rendered.talosPatchMode).to.equal(patched.outputs.talosPatchMode);
                    expect(rendered.callbackUrl).to.equal(await patched.value(patched.outputs.githubOAuthApp).then((app) => app.callbackUrl));
                });

                it("maps email and groups with the oidc: prefix that the RBAC subjects use", () => {
                    const oidc = apiServerOidc(patched);
                    // Only the 1.14 document can lowercase the email; the flags take it as it is.
                    expect(oidc.username).to.deep.equal({ claim: "email", prefix: "oidc:", lowercase: talosVersion === "v1.14" });
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
            expect(kubelogin(run).scopes).to.include.members(["email", "profile", "groups", "offline_access"]);
            const expiry = dexConfigOf(run.resources).expiry;
            expect(expiry.idTokens).to.equal("1h");
            expect(expiry.refreshTokens).to.include({ validIfNotUsedFor: "168h", absoluteLifetime: "720h" });
        });

        it("registers a public kubectl client for both of kubelogin's callback ports, and Dex's device-flow callback only with deviceFlow", async () => {
            const client = (r: StackRun) => dexConfigOf(r.resources).staticClients.find((c) => c.id === r.outputs.kubectlClientId)!;
            expect(client(run)).to.include({ public: true });
            expect(client(run).redirectURIs).to.deep.equal(["http://localhost:8000", "http://localhost:18000"]);
            const device = await runStack(stack, { ...expected.userKeys, deviceFlow: "true" });
            expect(client(device).redirectURIs).to.deep.equal(["http://localhost:8000", "http://localhost:18000", "/device/callback"]);
        });

        it("sends every Kubernetes object and GitHub team through the explicit providers, configured from the stack", () => {
            const provider = (name: string) => run.resources.find((r) => r.type === `pulumi:providers:${name}`)!;
            expect(provider("kubernetes").inputs).to.include({ context: `admin@${stack}` });
            expect(JSON.parse(provider("kubernetes").inputs.enableSecretMutable)).to.equal(true);
            expect(provider("github").inputs).to.include({ owner: "devantler-tech" });
            for (const resource of run.resources.filter((r) => /^(kubernetes|github):/.test(r.type))) {
                const expectedProvider = resource.type.startsWith("kubernetes:") ? "kubernetes" : "github";
                expect(resource.provider, `${resource.type} ${resource.name}`).to.match(new RegExp(`::pulumi:providers:${expectedProvider}::${expectedProvider}::`));
            }
        });

        // Only the real engine proves a no-op preview (the e2e runs `pulumi preview --expect-no-changes`);
        // this catches the cheap cause of a noisy one: inputs that differ from run to run.
        it("model: two mock runs register identical inputs and outputs", async () => {
            const again = await runStack(stack, expected.userKeys);
            expect(again.resources.map((r) => [r.type, r.name, r.inputs])).to.deep.equal(run.resources.map((r) => [r.type, r.name, r.inputs]));
            const values = async (r: typeof run) => Object.fromEntries(await Promise.all(Object.entries(r.outputs).map(async ([k, v]) => [k, await r.value(v as never)])));
            expect(await values(again)).to.deep.equal(await values(run));
        });
    });
}

describe("CA handling", () => {
    it("the local stack hands mkcert's CA to both kubelogin and the apiserver", async () => {
        const run = await runStack("local", STACKS.local.userKeys);
        expect(kubelogin(run).caPem).to.equal(LOCAL_CA.certPem);
        expect(apiServerOidc(run).caPem).to.equal(LOCAL_CA.certPem);
        const args = parseAllDocuments(run.outputs.talosPatch)[0].toJS().cluster.apiServer;
        expect(args.extraVolumes[0]).to.include({ mountPath: "/etc/kubernetes/oidc", readonly: true });
        expect(args.extraArgs["oidc-ca-file"]).to.equal(`/etc/kubernetes/oidc/${caFileName(LOCAL_CA.certPem)}`);
    });

    it("the prod stack relies on public trust and carries no CA", async () => {
        const run = await runStack("prod", USER_KEYS);
        expect(kubelogin(run).caPem).to.equal(undefined);
        expect(apiServerOidc(run).caPem).to.equal(undefined);
        expect(run.outputs.talosPatch).not.to.include("oidc-ca-file");
    });

    it("Talos 1.14 gets the CA inline in a KubeAuthenticationConfig and no .cluster.apiServer", async () => {
        const run = await runStack("local", STACKS.local.userKeys, { "platform-auth:talosVersion": "v1.14.0" });
        const docs = parseAllDocuments(run.outputs.talosPatch).map((d) => d.toJS());
        expect(docs.map((d) => d.kind)).to.deep.equal(["KubeAuthenticationConfig"]);
        expect(docs[0].configuration.jwt[0].issuer.certificateAuthority).to.equal(LOCAL_CA.certPem);
        expect(run.outputs.talosPatch).not.to.match(/apiServer|oidc-/);
        expect(run.outputs.talosPatchMode).to.equal("authenticationConfig");
    });
});
