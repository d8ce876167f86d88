import * as pulumi from "@pulumi/pulumi";
import { expect } from "chai";
import { parseTalosVersion } from "./fields";
import { parseConfig } from "./parse";
import { ConfigError, type RawConfig } from "./types";
import { makeCa, makeLeaf } from "../lab/pki";
import { ProgramFailed, runStack } from "../lab/stack";
import { stackFileConfig, USER_KEYS } from "../lab/stack-file";

const ca = makeCa("platform-auth test CA");
/** As `pulumi config set --secret githubClientSecret` leaves it. */
const SECRET_KEYS = new Set(["githubClientSecret"]);
const parse = (stack: string, raw: RawConfig, secretKeys = SECRET_KEYS) => parseConfig(stack, raw, secretKeys);

/** The local stack's raw config as the program sees it, plus the user keys. */
function localRaw(overrides: Record<string, string | undefined> = {}): RawConfig {
    const raw: RawConfig = {};
    for (const [key, value] of Object.entries(stackFileConfig("local"))) {
        raw[key.startsWith("platform-auth:") ? key.slice("platform-auth:".length) : key] = value;
    }
    return { ...raw, ...USER_KEYS, issuerCaPem: ca.certPem, ...overrides };
}

/** The problems parseConfig reports for one bad value. */
function problemsFor(overrides: Record<string, string | undefined>) {
    const error = problemsThrown(overrides);
    expect(error).to.be.instanceOf(ConfigError);
    return error.problems;
}

function problemsThrown(overrides: Record<string, string | undefined>): ConfigError {
    try {
        parse("local", localRaw(overrides));
    } catch (error) {
        return error as ConfigError;
    }
    throw new Error(`config ${JSON.stringify(overrides)} was accepted`);
}

describe("config: bad values are refused with the key named", () => {
    const cases: [string, Record<string, string | undefined>, string, RegExp][] = [
        ["a domain given as a URL", { domain: "https://platform.lan" }, "domain", /is a URL; give the bare DNS name/],
        ["a domain that is not a DNS name", { domain: "Platform_LAN" }, "domain", /not a lowercase DNS name/],
        ["a missing domain", { domain: undefined }, "domain", /is missing/],
        ["an invalid email", { readOnlyUsers: JSON.stringify(["ned@"]) }, "readOnlyUsers[0]", /not an email address/],
        ["a malformed team", { githubTeams: JSON.stringify(["platform", { slug: "Platform Team" }]) }, "githubTeams[1]", /not a team/],
        ["a Dex image by tag alone", { dexImage: "registry.lan/dexidp/dex:v2.45.1-distroless" }, "dexImage", /not an image pinned by digest; give it as <registry>\/<repository>:<tag>@sha256:/],
        ["a Dex image by digest without a tag", { dexImage: `registry.lan/dexidp/dex@sha256:${"a".repeat(64)}` }, "dexImage", /not an image pinned by digest/],
        ["a group without a team", { readOnlyGroups: JSON.stringify(["devantler-tech"]) }, "readOnlyGroups[0]", /not "<org>:<team-slug>"/],
        ["a group of another org", { readOnlyGroups: JSON.stringify(["other-org:platform"]) }, "readOnlyGroups[0]", /names org "other-org"/],
        ["a group whose team Dex never admits", { readOnlyGroups: JSON.stringify(["devantler-tech:ops"]) }, "readOnlyGroups[0]", /team "ops" is not in githubTeams/],
        ["an empty client ID", { githubClientId: "" }, "githubClientId", /is missing; set the Client ID/],
        ["a missing secret", { githubClientSecret: undefined }, "githubClientSecret", /pulumi config set --secret githubClientSecret/],
        ["a PEM that is not a certificate", { issuerCaPem: "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----" }, "issuerCaPem", /does not parse as a PEM X.509/],
        ["a path instead of a PEM", { issuerCaPem: "/home/ned/.local/share/mkcert/rootCA.pem" }, "issuerCaPem", /pass the file's content, not its path/],
        ["a server certificate instead of the CA", { issuerCaPem: makeLeaf(ca, "dex", "/CN=dex.platform.lan", "DNS:dex.platform.lan").certPem }, "issuerCaPem", /not a CA certificate/],
        ["a missing CA on a private-CA stack", { issuerCaPem: undefined }, "issuerCaPem", /mkcert -CAROOT/],
        ["an unknown Talos version", { talosVersion: "v1.9" }, "talosVersion", /not a known Talos version; use one of v1\.10, .*v1\.14/],
        ["a Talos version that is not a version", { talosVersion: "latest" }, "talosVersion", /not a known Talos version/],
        ["a replica count below 1", { dexReplicas: "0" }, "dexReplicas", /at least 1/],
        ["a fractional replica count", { dexReplicas: "1.5" }, "dexReplicas", /whole number/],
        ["an ID token lifetime as long as Dex's default", { tokenLifetimes: JSON.stringify({ idToken: "24h" }) }, "tokenLifetimes.idToken", /not shorter than Dex's 24h default/],
        ["a lifetime that is not a duration", { tokenLifetimes: JSON.stringify({ refreshTokenAbsolute: "forever" }) }, "tokenLifetimes.refreshTokenAbsolute", /not a positive Go duration/],
        ["an idle limit beyond the absolute one", { tokenLifetimes: JSON.stringify({ refreshTokenIdle: "800h" }) }, "tokenLifetimes.refreshTokenIdle", /exceeds refreshTokenAbsolute/],
        ["Dex's credential group as a readable group", { readOnlyApiGroups: JSON.stringify(["dex.coreos.com"]) }, "readOnlyApiGroups[0]", /holds credentials/],
        ["the core group as a readable group", { readOnlyApiGroups: JSON.stringify([""]) }, "readOnlyApiGroups[0]", /core group is never wildcarded/],
        ["an unknown exposure kind", { exposure: JSON.stringify({ kind: "loadbalancer" }) }, "exposure", /use "httproute" or "ingress"/],
        ["an httproute without its gateway", { exposure: JSON.stringify({ kind: "httproute" }) }, "exposure", /needs gatewayName and gatewayNamespace/],
        ["a GitHub provider pointed at another org", { "github:owner": "someone-else" }, "githubOrg", /github:owner is "someone-else"; set both to the same org/],
        ["no kubeconfig context for the explicit provider", { "kubernetes:context": undefined }, "kubernetes:context", /is missing; set the kubeconfig context .* nothing is sent to whatever context happens to be current/],
        ["a GitHub API base URL that is not a URL", { "github:baseUrl": "ghe.example.com" }, "github:baseUrl", /not a URL Dex's GitHub connector can use; give https:\/\/<host>\/ or https:\/\/<host>\/api\/v3\//],
        ["a GitHub Enterprise Server over plain HTTP", { "github:baseUrl": "http://ghe.example.com/api/v3/" }, "github:baseUrl", /not a URL Dex's GitHub connector can use/],
        ["a GitHub Enterprise Server under a path Dex cannot reach", { "github:baseUrl": "https://example.com/github/api/v3/" }, "github:baseUrl", /Dex logs people in at https:\/\/<host>\/login\/oauth/],
        ["a GitHub CA without a GitHub Enterprise Server", { githubCaPem: ca.certPem }, "githubCaPem", /github:baseUrl is not; .* set both or remove githubCaPem/],
        ["a GitHub CA for github.com", { "github:baseUrl": "https://api.github.com/", githubCaPem: ca.certPem }, "githubCaPem", /names github.com, which is publicly trusted/],
        ["a GitHub server certificate instead of its CA", { "github:baseUrl": "https://ghe.example.com/", githubCaPem: makeLeaf(ca, "ghe", "/CN=ghe.example.com", "DNS:ghe.example.com").certPem }, "githubCaPem", /not a CA certificate/],
        ["a misspelled key", { dexReplica: "2" }, "dexReplica", /not a setting of this program; did you mean dexReplicas\?/],
        ["a misspelled lifetime", { tokenLifetimes: JSON.stringify({ idTokens: "1h" }) }, "tokenLifetimes.idTokens", /did you mean idToken\?/],
        ["an exposure field of the other kind", { exposure: JSON.stringify({ kind: "httproute", gatewayName: "g", gatewayNamespace: "n", className: "nginx" }) }, "exposure.className", /not a setting/],
        ["a misspelled team member field", { githubTeams: JSON.stringify([{ slug: "platform", members: [{ username: "ned", rol: "member" }] }]) }, "githubTeams[0].members[0].rol", /did you mean role\?/],
        ["nobody to bind", { readOnlyUsers: "[]", readOnlyGroups: "[]" }, "readOnlyUsers", /bind at least one user/],
        ["a client ID with whitespace", { githubClientId: "Ov23li Test" }, "githubClientId", /contains whitespace/],
        ["a node that is not an address", { talosNodes: JSON.stringify(["10.0.0.2; rm -rf /"]) }, "talosNodes[0]", /not a node address/],
        ["an ingress without its class", { exposure: JSON.stringify({ kind: "ingress" }) }, "exposure", /needs className/],
        ["an ingress without its controller's namespace", { exposure: JSON.stringify({ kind: "ingress", className: "nginx" }) }, "exposure", /needs className and controllerNamespace .*NetworkPolicy admits traffic from there only/],
        ["a monitoring namespace that is no namespace name", { monitoringNamespace: "Monitoring" }, "monitoringNamespace", /not a namespace name/],
        ["a GitHub login that GitHub would not allow", { githubTeams: JSON.stringify([{ slug: "platform", members: [{ username: "-ned" }] }]) }, "githubTeams[0].members[0]", /not \{ username/],
        ["an empty team list", { githubTeams: "[]", readOnlyGroups: "[]" }, "githubTeams", /at least one team/],
        ["a list given as a scalar", { readOnlyUsers: "ned@devantler.tech" }, "readOnlyUsers", /YAML list or map/],
        ["an issuer address that is a name", { issuerAddress: "dex.platform.lan" }, "issuerAddress", /not an IP address; give the address dex\.<domain> resolves to/],
        ["an issuer address with a port", { issuerAddress: "192.168.1.50:443" }, "issuerAddress", /not an IP address/],
        ["an unknown migration", { talosMigration: "yes", talosVersion: "v1.14" }, "talosMigration", /pulumi config set talosMigration 1\.13-to-1\.14/],
        ["an apiserver URL that is not https", { apiServerUrl: "http://192.168.1.10:6443", apiServerCaPem: ca.certPem }, "apiServerUrl", /not an https:\/\/ URL/],
        ["an apiserver URL without its CA", { apiServerUrl: "https://192.168.1.10:6443" }, "apiServerCaPem", /is missing; apiServerUrl is set/],
        ["an apiserver CA without its URL", { apiServerCaPem: ca.certPem }, "apiServerUrl", /is missing; apiServerCaPem is set/],
        ["the apiserver's serving certificate instead of the cluster CA", { apiServerUrl: "https://192.168.1.10:6443", apiServerCaPem: makeLeaf(ca, "apiserver", "/CN=kube-apiserver").certPem }, "apiServerCaPem", /not a CA certificate; give the cluster's CA/],
        ["an apiserver CA given as a path", { apiServerUrl: "https://192.168.1.10:6443", apiServerCaPem: "/home/ned/.kube/ca.crt" }, "apiServerCaPem", /pass the file's content, not its path, e\.g\. .*certificate-authority-data/],
        ["an email domain given as an address", { preferredEmailDomain: "@devantler.tech" }, "preferredEmailDomain", /not a lowercase DNS name/],
        ["a read-only user outside the preferred email domain", { readOnlyUsers: JSON.stringify(["ned@gmail.com"]) }, "readOnlyUsers[0]", /outside preferredEmailDomain "devantler\.tech".*readOnlyGroups/],
        ["a read-only user with capitals on Talos 1.14", { talosVersion: "v1.14", readOnlyUsers: JSON.stringify(["Ned@devantler.tech"]) }, "readOnlyUsers[0]", /lowercases the token's email.*write "ned@devantler\.tech"/],
        ["an adoption answer that is not a boolean", { adoptExisting: "yes" }, "adoptExisting", /"yes" is not true or false/],
        ["a device-flow answer that is not a boolean", { deviceFlow: "on" }, "deviceFlow", /"on" is not true or false/],
        ["a migration confirmed for a 1.13 stack", { talosMigration: "1.13-to-1.14" }, "talosMigration", /talosVersion is "v1\.13"; set talosVersion to v1\.14/],
    ];
    for (const [what, overrides, key, message] of cases) {
        it(`refuses ${what} and names ${key}`, () => {
            const problems = problemsFor(overrides);
            expect(problems.map((p) => p.key)).to.deep.equal([key]);
            expect(problems[0].message).to.match(message);
        });
    }

    it("reports every problem at once, each prefixed with its full key", () => {
        try {
            parse("local", localRaw({ domain: "https://x", dexReplicas: "0" }));
            expect.fail("accepted");
        } catch (error) {
            expect((error as Error).message).to.match(/platform-auth:domain: .*\n\s+- platform-auth:dexReplicas: /);
        }
    });

    it("refuses a githubClientSecret stored in plain text, naming the key and the --secret command", () => {
        try {
            parse("local", localRaw(), new Set());
            expect.fail("a plain-text client secret was accepted");
        } catch (error) {
            expect((error as ConfigError).problems).to.deep.equal([
                {
                    key: "githubClientSecret",
                    message: "is stored in plain text in Pulumi.local.yaml; store it encrypted with `pulumi config set --secret githubClientSecret <secret>` (and rotate it in GitHub if that file was ever committed).",
                },
            ]);
        }
    });

    it("a refusal is a Pulumi RunError, which the engine prints as its message alone, without a stack trace", () => {
        const error = problemsThrown({ domain: "https://x" });
        expect(pulumi.RunError.isInstance(error)).to.equal(true);
        expect(error.message.split("\n")[0]).to.equal("Invalid stack configuration (nothing was created):");
    });

    it("refuses bad config before any resource is created", async () => {
        const failure = await runStack("local", { ...USER_KEYS, issuerCaPem: ca.certPem }, { "platform-auth:domain": "https://platform.lan" }).then(
            () => expect.fail("the program accepted a URL as the domain"),
            (error: unknown) => error as ProgramFailed,
        );
        expect(failure).to.be.instanceOf(ProgramFailed);
        expect(failure.error).to.be.instanceOf(ConfigError);
        expect(failure.resources.map((r) => r.type)).to.deep.equal([]);
    });

    it("refuses an exposure the target cluster cannot serve, naming exposure, before any resource but the providers (whose plugins start meanwhile) is created", async () => {
        const noGatewayApi = () => async () => ({ status: 404, body: "{}" });
        const failure = await runStack("local", { ...USER_KEYS, issuerCaPem: ca.certPem }, {}, noGatewayApi).then(
            () => expect.fail("the program went on without the Gateway API"),
            (error: unknown) => error as ProgramFailed,
        );
        expect(failure.error).to.be.instanceOf(ConfigError);
        expect(failure.message).to.match(/platform-auth:exposure: is an httproute, but the cluster of kubernetes:context admin@local does not serve HTTPRoute/);
        expect(failure.resources.map((r) => r.type).filter((type) => !type.startsWith("pulumi:providers:"))).to.deep.equal([]);
    });
});

describe("config: good values", () => {
    it("takes a Dex image from a mirror pinned by tag and digest, and defaults to the tested release", () => {
        const mirrored = `registry.lan:5000/dexidp/dex:v2.45.1-distroless@sha256:${"0123456789abcdef".repeat(4)}`;
        expect(parse("local", localRaw({ dexImage: mirrored })).dexImage).to.equal(mirrored);
        expect(parse("local", localRaw()).dexImage).to.equal("ghcr.io/dexidp/dex:v2.45.1-distroless");
    });

    it("accepts each stack's file with only the user keys", () => {
        const local = parse("local", localRaw());
        expect(local).to.include({ domain: "platform.lan", dexReplicas: 1, kubeconfigCluster: "local" });
        expect(local.githubTeams.map((t) => t.slug)).to.deep.equal(["platform"]);
        expect(local.issuerCaPem).to.equal(ca.certPem.trim() + "\n");
        const prodRaw: RawConfig = { ...USER_KEYS };
        for (const [key, value] of Object.entries(stackFileConfig("prod"))) prodRaw[key.replace(/^platform-auth:/, "")] = value;
        const prod = parse("prod", prodRaw);
        expect(prod).to.include({ domain: "platform.devantler.tech", dexReplicas: 2, issuerCaPem: undefined, kubeconfigCluster: "prod", preferredEmailDomain: "devantler.tech" });
    });

    it("reads the issuer's address (IPv4 or IPv6) and the migration's confirmation, both off unless set", () => {
        expect(parse("local", localRaw())).to.include({ issuerAddress: undefined, talosMigrationConfirmed: false });
        expect(parse("local", localRaw({ issuerAddress: "192.168.1.50" })).issuerAddress).to.equal("192.168.1.50");
        expect(parse("local", localRaw({ issuerAddress: "fd00::50" })).issuerAddress).to.equal("fd00::50");
        expect(parse("local", localRaw({ talosVersion: "v1.14", talosMigration: "1.13-to-1.14" })).talosMigrationConfirmed).to.equal(true);
    });

    it("reads the apiserver's address and CA together, and the preferred email domain, all optional", () => {
        const clusterCa = makeCa("cluster CA");
        const config = parse("local", localRaw({ apiServerUrl: "https://192.168.1.10:6443", apiServerCaPem: clusterCa.certPem }));
        expect(config.apiServer).to.deep.equal({ url: "https://192.168.1.10:6443", caPem: clusterCa.certPem.trim() + "\n" });
        expect(config.preferredEmailDomain).to.equal("devantler.tech");
        expect(parse("local", localRaw({ preferredEmailDomain: undefined, readOnlyUsers: JSON.stringify(["ned@gmail.com"]) })).preferredEmailDomain).to.equal(undefined);
        expect(parse("local", localRaw()).apiServer).to.equal(undefined);
    });

    it("names a GitHub Enterprise Server by its host and port, in both base URL forms, with its CA; github.com when unset, api.github.com or github.com", () => {
        const ghesCa = makeCa("GHES CA");
        expect(parse("local", localRaw({ "github:baseUrl": "https://ghe.example.com/api/v3/", githubCaPem: ghesCa.certPem })).githubServer).to.deep.equal({
            baseUrl: "https://ghe.example.com/api/v3/",
            host: "ghe.example.com",
            caPem: ghesCa.certPem.trim() + "\n",
        });
        expect(parse("local", localRaw({ "github:baseUrl": "https://ghe.example.com:8443/" })).githubServer).to.deep.equal({ baseUrl: "https://ghe.example.com:8443/", host: "ghe.example.com:8443", caPem: undefined });
        expect(parse("local", localRaw()).githubServer).to.equal(undefined);
        expect(parse("local", localRaw({ "github:baseUrl": "https://api.github.com/" })).githubServer).to.equal(undefined);
        expect(parse("local", localRaw({ "github:baseUrl": "https://github.com/" })).githubServer).to.equal(undefined);
    });

    it("keeps a read-only user's capitals where the apiserver keeps the token's (Talos ≤1.13)", () => {
        expect(parse("local", localRaw({ readOnlyUsers: JSON.stringify(["Ned@devantler.tech"]) })).readOnlyUsers).to.deep.equal(["Ned@devantler.tech"]);
    });

    it("takes over existing objects only when adoptExisting says so", () => {
        expect(parse("local", localRaw()).adoptExisting).to.equal(false);
        expect(parse("local", localRaw({ adoptExisting: "true" })).adoptExisting).to.equal(true);
    });

    it("serves the device flow only when deviceFlow says so", () => {
        expect(parse("local", localRaw()).deviceFlow).to.equal(false);
        expect(parse("local", localRaw({ deviceFlow: "true" })).deviceFlow).to.equal(true);
    });

    it("defaults token lifetimes to bounded values", () => {
        const config = parse("local", localRaw({ tokenLifetimes: undefined }));
        expect(config.tokenLifetimes).to.deep.equal({ idToken: "1h", refreshTokenIdle: "168h", refreshTokenAbsolute: "720h" });
    });

    it("reads Talos versions in the forms talosctl prints", () => {
        expect(parseTalosVersion("v1.13.9")?.minor).to.equal(13);
        expect(parseTalosVersion("1.14")?.minor).to.equal(14);
        expect(parseTalosVersion("v1.14.0-rc.1")?.minor).to.equal(14);
        expect(parseTalosVersion("v2.0")).to.equal(undefined);
    });

    it("keeps the client secret a Pulumi secret", async () => {
        const config = parse("local", localRaw());
        expect(await pulumi.isSecret(config.githubClientSecret)).to.equal(true);
    });
});
