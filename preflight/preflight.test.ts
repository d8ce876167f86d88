// The exposure preflight: what it refuses, what it only warns about, and the
// kubeconfig client it asks the cluster with (against a real TLS server that
// checks the client certificate).
import { expect } from "chai";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { stringify } from "yaml";
import type { Exposure } from "../config/types";
import { makeCa, makeLeaf } from "../lab/pki";
import { CannotAskCluster, clusterGet, type ClusterGet } from "./cluster";
import { checkExposure } from "./exposure";

const route: Exposure = { kind: "httproute", gatewayName: "platform", gatewayNamespace: "kube-system", sectionName: "https", proxyNamespace: "kube-system" };
const ingress: Exposure = { kind: "ingress", className: "nginx", controllerNamespace: "ingress-nginx" };

/** A cluster that answers from a table of path to [status, body]; anything else is 404. */
function fakeCluster(answers: Record<string, [number, unknown]>): ClusterGet {
    return async (path) => {
        const [status, body] = answers[path] ?? [404, { kind: "Status" }];
        return { status, body: JSON.stringify(body) };
    };
}
const gatewayApi: Record<string, [number, unknown]> = { "/apis/gateway.networking.k8s.io/v1": [200, { resources: [{ name: "gateways" }, { name: "httproutes" }] }] };
const platformGateway: Record<string, [number, unknown]> = { "/apis/gateway.networking.k8s.io/v1/namespaces/kube-system/gateways/platform": [200, {}] };

describe("exposure preflight", () => {
    it("passes an httproute when the Gateway API and the named Gateway exist", async () => {
        expect(await checkExposure(route, "admin@local", fakeCluster({ ...gatewayApi, ...platformGateway }))).to.deep.equal({ problems: [], warnings: [] });
    });

    it("refuses an httproute on a cluster without the Gateway API, naming exposure and both ways out", async () => {
        const { problems } = await checkExposure(route, "admin@local", fakeCluster({}));
        expect(problems.map((p) => p.key)).to.deep.equal(["exposure"]);
        expect(problems[0].message).to.include("admin@local").and.include("Gateway API CRDs").and.include("kind: ingress");
    });

    it("refuses an httproute when the API group is there but HTTPRoute is not", async () => {
        const { problems } = await checkExposure(route, "admin@local", fakeCluster({ "/apis/gateway.networking.k8s.io/v1": [200, { resources: [{ name: "gateways" }] }] }));
        expect(problems.map((p) => p.key)).to.deep.equal(["exposure"]);
    });

    it("refuses a Gateway that does not exist, naming it and its namespace", async () => {
        const { problems } = await checkExposure(route, "admin@prod", fakeCluster(gatewayApi));
        expect(problems.map((p) => p.key)).to.deep.equal(["exposure.gatewayName"]);
        expect(problems[0].message).to.include('"platform"').and.include('"kube-system"');
    });

    it("refuses an unknown ingress class and lists the classes the cluster has", async () => {
        const { problems } = await checkExposure(ingress, "admin@prod", fakeCluster({ "/apis/networking.k8s.io/v1/ingressclasses": [200, { items: [{ metadata: { name: "traefik" } }] }] }));
        expect(problems.map((p) => p.key)).to.deep.equal(["exposure.className"]);
        expect(problems[0].message).to.include('"nginx"').and.include("traefik");
        const present = await checkExposure(ingress, "admin@prod", fakeCluster({ "/apis/networking.k8s.io/v1/ingressclasses/nginx": [200, {}] }));
        expect(present.problems).to.deep.equal([]);
    });

    it("only warns when it cannot ask (forbidden, or no way to log in)", async () => {
        const forbidden = await checkExposure(route, "ci", fakeCluster({ ...gatewayApi, "/apis/gateway.networking.k8s.io/v1/namespaces/kube-system/gateways/platform": [403, {}] }));
        expect(forbidden.problems).to.deep.equal([]);
        expect(forbidden.warnings[0]).to.include("403");
        const unreachable = await checkExposure(ingress, "ci", () => Promise.reject(new CannotAskCluster("connection refused")));
        expect(unreachable.problems).to.deep.equal([]);
        expect(unreachable.warnings[0]).to.include("connection refused");
        const proxyPage = await checkExposure(route, "ci", async () => ({ status: 200, body: "<html>sign in</html>" }));
        expect(proxyPage).to.deep.equal({ problems: [], warnings: [proxyPage.warnings[0]] });
        expect(proxyPage.warnings[0]).to.include("answered 200");
    });
});

describe("preflight cluster client", () => {
    const ca = makeCa("preflight cluster CA");
    const serverCert = makeLeaf(ca, "apiserver", "/CN=apiserver", "IP:127.0.0.1");
    const client = makeLeaf(ca, "admin", "/CN=admin/O=system:masters");
    let server: ReturnType<typeof createServer>;
    let url: string;
    const seen: { path?: string; subject?: string }[] = [];

    before(async () => {
        server = createServer({ ...pem(serverCert), ca: ca.certPem, requestCert: true, rejectUnauthorized: true }, (req, res) => {
            seen.push({ path: req.url, subject: (req.socket as any).getPeerCertificate().subject?.CN });
            res.writeHead(200).end('{"resources":[]}');
        });
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(() => server.close());

    function kubeconfig(user: Record<string, unknown>): string {
        const path = join(ca.dir, `kubeconfig-${seen.length}-${Object.keys(user).join("-")}`);
        writeFileSync(path, stringify({
            clusters: [{ name: "c", cluster: { server: url, "certificate-authority": ca.certFile } }],
            users: [{ name: "u", user }],
            contexts: [{ name: "admin@local", context: { cluster: "c", user: "u" } }],
        }));
        return path;
    }

    it("asks with the context's client certificate, trusting the context's CA", async () => {
        const answer = await clusterGet("admin@local", [kubeconfig({ "client-certificate": client.certFile, "client-key": client.keyFile })])("/apis/x/v1");
        expect(answer.status).to.equal(200);
        expect(seen.at(-1)).to.deep.equal({ path: "/apis/x/v1", subject: "admin" });
    });

    it("cannot ask for a missing context or a plugin-based login, and says which", async () => {
        const plugin = kubeconfig({ exec: { command: "kubectl", args: ["oidc-login"] } });
        for (const [context, reason] of [["admin@prod", 'no context "admin@prod"'], ["admin@local", "through a plugin"]]) {
            const error = await clusterGet(context, [plugin])("/apis").then(() => undefined, (e: Error) => e);
            expect(error).to.be.instanceOf(CannotAskCluster);
            expect(error!.message).to.include(reason);
        }
    });
});

function pem(pair: { certFile: string; keyFile: string }) {
    return { cert: readFileSync(pair.certFile), key: readFileSync(pair.keyFile) };
}
