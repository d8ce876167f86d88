import { expect } from "chai";
import { parse } from "yaml";
import { oidcContract } from "../contract/contract";
import { readKubeconfigFile, readKubeloginUser } from "./read";
import { kubeconfigFile, kubeconfigUserYaml, kubeloginArgs, oidcLoginSetupCommand, setContextCommand, setCredentialsCommand, type LoginFlow } from "./render";
import { shellQuote } from "../config/shell";
import { makeCa } from "../lab/pki";
import { runStack } from "../lab/stack";
import { STACKS } from "../test/support/stacks";

/** Splits a POSIX command line the way sh does for the quoting shellQuote produces. */
function shellWords(line: string): string[] {
    return [...line.matchAll(/'((?:[^']|'\\'')*)'|(\S+)/g)].map((m) => (m[1] !== undefined ? m[1].replace(/'\\''/g, "'") : m[2]));
}

describe("kubeconfig outputs", () => {
    const ca = makeCa("mkcert development CA");
    const local = oidcContract({ domain: "platform.lan", issuerCaPem: ca.certPem });
    const prod = oidcContract({ domain: "platform.devantler.tech" });
    const FLOWS: LoginFlow[] = ["browser", "headless"];
    /** What kubelogin must be told, spelled out: the client, and every scope the token needs. */
    const PROD_ARGS = [
        "oidc-login",
        "get-token",
        "--oidc-issuer-url=https://dex.platform.devantler.tech",
        "--oidc-client-id=kubectl",
        "--oidc-extra-scope=email",
        "--oidc-extra-scope=profile",
        "--oidc-extra-scope=groups",
        "--oidc-extra-scope=offline_access",
        "--oidc-extra-scope=audience:server:client_id:kube-apiserver",
    ];

    it("kubelogin asks for the issuer, client and scopes the apiserver needs", () => {
        expect(kubeloginArgs(prod, "browser")).to.deep.equal(PROD_ARGS);
        expect(kubeloginArgs(local, "browser").slice(0, -1)).to.deep.equal(PROD_ARGS.map((a) => a.replace("platform.devantler.tech", "platform.lan")));
    });

    it("reading the users[] entry back gives the contract's issuer, client, scopes and CA", () => {
        for (const contract of [local, prod]) {
            for (const flow of FLOWS) {
                const read = readKubeloginUser(kubeconfigUserYaml(contract, "any", flow));
                expect(read).to.include({ command: "kubectl", issuerUrl: contract.issuerUrl, clientId: contract.clientId, caPem: contract.issuerCaPem });
                expect(read.scopes).to.deep.equal(contract.scopes);
            }
        }
    });

    it("the users[] entry runs kubelogin through kubectl with the exec v1 API", () => {
        const entry = parse(kubeconfigUserYaml(local, "local", "browser"));
        expect(entry.name).to.equal("oidc-local");
        expect(entry.user.exec).to.include({ apiVersion: "client.authentication.k8s.io/v1", command: "kubectl", interactiveMode: "IfAvailable" });
        expect(entry.user.exec.args).to.deep.equal(kubeloginArgs(local, "browser"));
        expect(entry.user.exec.args.slice(0, 2)).to.deep.equal(["oidc-login", "get-token"]);
    });

    it("set-credentials creates exactly the same user, exec arguments included, for either flow", () => {
        for (const flow of FLOWS) {
            const words = shellWords(setCredentialsCommand(local, "local", flow));
            expect(words.slice(0, 4)).to.deep.equal(["kubectl", "config", "set-credentials", parse(kubeconfigUserYaml(local, "local", flow)).name]);
            const args = words.filter((w) => w.startsWith("--exec-arg=")).map((w) => w.slice("--exec-arg=".length));
            expect(args).to.deep.equal(kubeloginArgs(local, flow));
            expect(words).to.include.members(["--exec-api-version=client.authentication.k8s.io/v1", "--exec-command=kubectl", "--exec-interactive-mode=IfAvailable"]);
        }
    });

    it("the headless user is the browser user plus the device-code grant, printing Dex's URL instead of opening a browser", () => {
        const [browser, headless] = FLOWS.map((flow) => readKubeloginUser(kubeconfigUserYaml(local, "local", flow)));
        expect([browser.userName, headless.userName]).to.deep.equal(["oidc-local", "oidc-local-headless"]);
        expect([browser.grantType, headless.grantType]).to.deep.equal([undefined, "device-code"]);
        expect(headless.args).to.deep.equal([...browser.args, "--grant-type=device-code", "--skip-open-browser"]);
    });

    it("the kubeconfig file stands alone: the apiserver's address and CA, the browser user, and oidc@<stack> as its current context", () => {
        const clusterCa = makeCa("cluster CA");
        const file = readKubeconfigFile(kubeconfigFile(local, "local", "talos-local", { url: "https://192.168.1.10:6443", caPem: clusterCa.certPem }));
        expect(file).to.include({ context: "oidc@local", cluster: "talos-local", server: "https://192.168.1.10:6443", caPem: clusterCa.certPem });
        expect(file.user).to.deep.equal(readKubeloginUser(kubeconfigUserYaml(local, "local", "browser")));
        expect(file.entries).to.deep.equal({ clusters: 1, users: 1 });
        // The same context set-context creates in a kubeconfig that already has the cluster.
        expect(setContextCommand("local", "talos-local")).to.equal(`kubectl config set-context ${file.context} --cluster=${file.cluster} --user=${file.user.userName}`);
    });

    it("passes mkcert's CA as base64 on local only", () => {
        const [data] = kubeloginArgs(local, "browser").filter((a) => a.startsWith("--certificate-authority-data=")).map((a) => a.split("=").slice(1).join("="));
        expect(Buffer.from(data, "base64").toString()).to.equal(ca.certPem);
        expect(kubeloginArgs(prod, "browser").some((a) => a.startsWith("--certificate-authority"))).to.equal(false);
    });

    it("the stack outputs the headless user only with deviceFlow, and the whole kubeconfig only once apiServerUrl and apiServerCaPem are set", async () => {
        const plain = await runStack("local", STACKS.local.userKeys);
        expect(plain.outputs).to.not.have.property("kubeconfig");
        expect(plain.outputs).to.not.have.property("kubeconfigUserHeadless");
        expect(plain.outputs).to.not.have.property("setCredentialsHeadlessCommand");
        const device = await runStack("local", { ...STACKS.local.userKeys, deviceFlow: "true" });
        expect(readKubeloginUser(device.outputs.kubeconfigUserHeadless!).grantType).to.equal("device-code");
        expect(shellWords(device.outputs.setCredentialsHeadlessCommand!)[3]).to.equal(readKubeloginUser(device.outputs.kubeconfigUserHeadless!).userName);
        const clusterCa = makeCa("cluster CA");
        const whole = await runStack("local", { ...STACKS.local.userKeys, apiServerUrl: "https://192.168.1.10:6443", apiServerCaPem: clusterCa.certPem });
        const file = readKubeconfigFile(whole.outputs.kubeconfig!);
        expect(file).to.include({ server: "https://192.168.1.10:6443", caPem: clusterCa.certPem, cluster: "local", context: "oidc@local" });
        expect(file.user).to.deep.equal(readKubeloginUser(whole.outputs.kubeconfigUser));
    });

    it("the troubleshooting command is kubelogin's setup with the same client", () => {
        const words = shellWords(oidcLoginSetupCommand(prod));
        expect(words.slice(0, 3)).to.deep.equal(["kubectl", "oidc-login", "setup"]);
        expect(words.slice(3)).to.deep.equal(PROD_ARGS.slice(2));
    });

    it("quotes what the shell would otherwise split or expand", () => {
        expect(shellWords(`x ${shellQuote("it's $HOME")}`)).to.deep.equal(["x", "it's $HOME"]);
        expect(shellQuote("--oidc-extra-scope=audience:server:client_id:kube-apiserver")).to.equal("--oidc-extra-scope=audience:server:client_id:kube-apiserver");
    });
});
