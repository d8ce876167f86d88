import { expect } from "chai";
import { parse } from "yaml";
import { oidcContract } from "../contract/contract";
import { readKubeloginUser } from "./read";
import { kubeconfigUserYaml, kubeloginArgs, oidcLoginSetupCommand, setContextCommand, setCredentialsCommand, shellQuote } from "./render";
import { makeCa } from "../test/support/pki";

/** Splits a POSIX command line the way sh does for the quoting shellQuote produces. */
function shellWords(line: string): string[] {
    return [...line.matchAll(/'((?:[^']|'\\'')*)'|(\S+)/g)].map((m) => (m[1] !== undefined ? m[1].replace(/'\\''/g, "'") : m[2]));
}

describe("kubeconfig outputs", () => {
    const ca = makeCa("mkcert development CA");
    const local = oidcContract({ domain: "platform.lan", issuerCaPem: ca.certPem });
    const prod = oidcContract({ domain: "platform.devantler.tech" });
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
        expect(kubeloginArgs(prod)).to.deep.equal(PROD_ARGS);
        expect(kubeloginArgs(local).slice(0, -1)).to.deep.equal(PROD_ARGS.map((a) => a.replace("platform.devantler.tech", "platform.lan")));
    });

    it("reading the users[] entry back gives the contract's issuer, client, scopes and CA", () => {
        for (const contract of [local, prod]) {
            const read = readKubeloginUser(kubeconfigUserYaml(contract, "any"));
            expect(read).to.include({ userName: "oidc-any", command: "kubectl", issuerUrl: contract.issuerUrl, clientId: contract.clientId, caPem: contract.issuerCaPem });
            expect(read.scopes).to.deep.equal(contract.scopes);
        }
    });

    it("the users[] entry runs kubelogin through kubectl with the exec v1 API", () => {
        const entry = parse(kubeconfigUserYaml(local, "local"));
        expect(entry.name).to.equal("oidc-local");
        expect(entry.user.exec).to.include({ apiVersion: "client.authentication.k8s.io/v1", command: "kubectl", interactiveMode: "IfAvailable" });
        expect(entry.user.exec.args).to.deep.equal(kubeloginArgs(local));
        expect(entry.user.exec.args.slice(0, 2)).to.deep.equal(["oidc-login", "get-token"]);
    });

    it("set-credentials creates exactly the same exec arguments", () => {
        const words = shellWords(setCredentialsCommand(local, "local"));
        expect(words.slice(0, 4)).to.deep.equal(["kubectl", "config", "set-credentials", "oidc-local"]);
        const args = words.filter((w) => w.startsWith("--exec-arg=")).map((w) => w.slice("--exec-arg=".length));
        expect(args).to.deep.equal(kubeloginArgs(local));
        expect(words).to.include.members(["--exec-api-version=client.authentication.k8s.io/v1", "--exec-command=kubectl", "--exec-interactive-mode=IfAvailable"]);
    });

    it("passes mkcert's CA as base64 on local only", () => {
        const [data] = kubeloginArgs(local).filter((a) => a.startsWith("--certificate-authority-data=")).map((a) => a.split("=").slice(1).join("="));
        expect(Buffer.from(data, "base64").toString()).to.equal(ca.certPem);
        expect(kubeloginArgs(prod).some((a) => a.startsWith("--certificate-authority"))).to.equal(false);
    });

    it("the troubleshooting command is kubelogin's setup with the same client", () => {
        const words = shellWords(oidcLoginSetupCommand(prod));
        expect(words.slice(0, 3)).to.deep.equal(["kubectl", "oidc-login", "setup"]);
        expect(words.slice(3)).to.deep.equal(PROD_ARGS.slice(2));
    });

    it("the context joins the OIDC user to the stack's cluster", () => {
        expect(setContextCommand("prod", "talos-prod")).to.equal("kubectl config set-context oidc@prod --cluster=talos-prod --user=oidc-prod");
    });

    it("quotes what the shell would otherwise split or expand", () => {
        expect(shellWords(`x ${shellQuote("it's $HOME")}`)).to.deep.equal(["x", "it's $HOME"]);
        expect(shellQuote("--oidc-extra-scope=audience:server:client_id:kube-apiserver")).to.equal("--oidc-extra-scope=audience:server:client_id:kube-apiserver");
    });
});
