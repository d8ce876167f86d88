import { expect } from "chai";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { parseExposure } from "../config/fields";
import { readKubeloginUser } from "../kubeconfig/read";
import { makeCa, makeLeaf } from "../lab/pki";
import { CHECKS, deploymentCheck, discoveryCheck, jwksCheck, NOT_FOUND, outputsCheck, routeCheck } from "./checks";
import { httpsGet } from "./cli";
import { issuerTrust, parseStackSettings, type StackOutputs } from "./stack";
import { failed, issuerCa, ok, outputsJson } from "./support.test";

describe("doctor: the stack and the issuer", () => {
    let local: StackOutputs;
    let issuer: Server;
    let issuerAddress: string;
    /** What the stand-in issuer answers on every path. */
    let answer = { status: 200, body: "" };

    before(async () => {
        const read = outputsCheck("local", ok(await outputsJson("local")));
        expect(read.result.status).to.equal("pass");
        local = read.outputs!;
        const leaf = makeLeaf(issuerCa, "issuer", "/CN=dex.platform.lan", "IP:127.0.0.1");
        issuer = createServer({ cert: leaf.certPem, key: readFileSync(leaf.keyFile) }, (_req, res) => res.writeHead(answer.status).end(answer.body));
        await new Promise<void>((resolve) => issuer.listen(0, "127.0.0.1", resolve));
        issuerAddress = `https://127.0.0.1:${(issuer.address() as AddressInfo).port}`;
    });
    after(() => issuer.close());

    const discovery = (document: Record<string, unknown>) => {
        answer = { status: 200, body: JSON.stringify(document) };
    };

    it("reads the outputs a deployed stack has, and says how to get them when pulumi cannot", async () => {
        expect(outputsCheck("local", failed("error: no stack named 'local' found")).result).to.include({ status: "fail" }).and.to.have.property("fix").that.includes("pulumi login");
        const withoutPatch = JSON.stringify({ ...JSON.parse(await outputsJson("prod")), talosPatch: undefined });
        expect(outputsCheck("prod", ok(withoutPatch)).result.detail).to.include("talosPatch");
        expect(outputsCheck("prod", { status: NOT_FOUND, stdout: "", stderr: "pulumi: not found on PATH" }).result.fix).to.include("install the Pulumi CLI");
    });

    it("reaches the issuer with the CA from kubeconfigUser, and finds its keys", async () => {
        discovery({ issuer: local.issuerUrl, jwks_uri: `${issuerAddress}/keys` });
        const trust = issuerTrust(readKubeloginUser(local.kubeconfigUser).caPem);
        const result = discoveryCheck(local, trust, await httpsGet(`${issuerAddress}/.well-known/openid-configuration`, trust.caPem));
        expect(result.result.status).to.equal("pass");
        expect(result.jwksUri).to.equal(`${issuerAddress}/keys`);
        answer = { status: 200, body: JSON.stringify({ keys: [{ kid: "a" }] }) };
        expect(jwksCheck(await httpsGet(result.jwksUri!, trust.caPem)).status).to.equal("pass");
    });

    it("a wrong CA names issuerCaPem on a private-CA stack, and the certificate on a public one", async () => {
        discovery({ issuer: local.issuerUrl });
        const wrong = makeCa("another CA").certPem;
        const privately = discoveryCheck(local, issuerTrust(wrong), await httpsGet(issuerAddress, wrong)).result;
        expect(privately.status).to.equal("fail");
        expect(privately.fix).to.include("issuerCaPem").and.include("setCredentialsCommand");
        const publicly = discoveryCheck(local, issuerTrust(undefined), await httpsGet(issuerAddress)).result;
        expect(publicly.fix).to.include("not publicly trusted");
    });

    it("an issuer that does not answer points at Dex's pods", async () => {
        const closed = createServer();
        await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
        const port = (closed.address() as AddressInfo).port;
        closed.close();
        const result = discoveryCheck(local, issuerTrust(issuerCa.certPem), await httpsGet(`https://127.0.0.1:${port}/`, issuerCa.certPem)).result;
        expect(result.detail).to.include("ECONNREFUSED");
        expect(result.fix).to.include("kubectl -n dex logs deploy/dex");
    });

    it("refuses a document that is not Dex's, or names another issuer", async () => {
        answer = { status: 404, body: "default backend - 404" };
        expect(discoveryCheck(local, issuerTrust(issuerCa.certPem), await httpsGet(issuerAddress, issuerCa.certPem)).result.fix).to.include("route");
        discovery({ issuer: "https://dex.elsewhere.lan" });
        const other = discoveryCheck(local, issuerTrust(issuerCa.certPem), await httpsGet(issuerAddress, issuerCa.certPem)).result;
        expect(other.detail).to.include("https://dex.elsewhere.lan").and.include(local.issuerUrl);
        expect(jwksCheck({ status: 200, body: '{"keys":[]}' }).status).to.equal("fail");
    });
});

describe("doctor: Dex in the cluster", () => {
    const deployment = (available: string, ready: number) => JSON.stringify({ spec: { replicas: 2 }, status: { readyReplicas: ready, conditions: [{ type: "Available", status: available, message: "Deployment does not have minimum availability." }] } });
    const gateway = parseExposure(undefined, () => undefined)!;
    const route = (parents: unknown[]) => JSON.stringify({ status: { parents } });

    it("Dex's Deployment passes only when Available", () => {
        expect(deploymentCheck("admin@local", ok(deployment("True", 2)))).to.include({ status: "pass", detail: "2/2 ready" });
        const down = deploymentCheck("admin@local", ok(deployment("False", 0)));
        expect(down.status).to.equal("fail");
        expect(down.fix).to.include("kubectl -n dex logs deploy/dex");
    });

    it("a kubectl failure names the context, the cluster or the missing object", () => {
        expect(deploymentCheck("admin@lab", failed('error: context "admin@lab" does not exist')).fix).to.include("--context");
        expect(deploymentCheck("admin@local", failed('Error from server (NotFound): deployments.apps "dex" not found')).fix).to.include("pulumi up");
        expect(deploymentCheck("admin@local", failed("Unable to connect to the server: dial tcp 10.0.0.1:6443: connect: connection refused")).fix).to.include("does not answer");
    });

    it("the HTTPRoute passes once its Gateway accepted it, and otherwise names the Gateway", () => {
        const parentRef = { name: gateway.kind === "httproute" ? gateway.gatewayName : "", namespace: "kube-system" };
        expect(routeCheck(gateway, "admin@local", ok(route([{ parentRef, conditions: [{ type: "Accepted", status: "True" }] }])))).to.include({ status: "pass", name: CHECKS.route });
        const unclaimed = routeCheck(gateway, "admin@local", ok(route([])));
        expect(unclaimed.status).to.equal("fail");
        expect(unclaimed.fix).to.include("kube-system get gateway platform").and.include("allowedRoutes");
        const refused = routeCheck(gateway, "admin@local", ok(route([{ parentRef, conditions: [{ type: "Accepted", status: "False", reason: "NotAllowedByListeners", message: "namespace dex not allowed" }] }])));
        expect(refused.detail).to.include("NotAllowedByListeners");
    });

    it("an Ingress passes once a controller gave it an address", () => {
        const ingress = parseExposure({ kind: "ingress", className: "nginx", controllerNamespace: "ingress-nginx" }, () => undefined)!;
        expect(routeCheck(ingress, "admin@local", ok(JSON.stringify({ status: { loadBalancer: { ingress: [{ ip: "192.0.2.10" }] } } })))).to.include({ status: "pass", name: CHECKS.ingress });
        expect(routeCheck(ingress, "admin@local", ok(JSON.stringify({ status: {} }))).fix).to.include("class nginx");
    });

    it("reads the admin context, exposure and ID token lifetime from `pulumi config --json`, with the program's defaults", () => {
        const settings = parseStackSettings(JSON.stringify({
            "kubernetes:context": { value: "admin@local", secret: false },
            "platform-auth:githubClientSecret": { secret: true },
            "platform-auth:tokenLifetimes": { value: JSON.stringify({ idToken: "15m" }), secret: false },
        }));
        expect(settings).to.deep.equal({ context: "admin@local", exposure: gateway, idTokenLifetime: "15m" });
    });
});
