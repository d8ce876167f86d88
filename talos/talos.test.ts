// The apiserver patch, checked against Talos's own machine-config schemas.
import Ajv2020 from "ajv/dist/2020";
import addFormats from "ajv-formats";
import { expect } from "chai";
import { parseAllDocuments } from "yaml";
import { parseTalosVersion } from "../config/fields";
import { oidcContract, type OidcContract } from "../contract/contract";
import { ownedSettings, talosPatchDocuments } from "./plan";
import { readApiServerOidc } from "./read";
import { caFileName, kubeAuthenticationConfig, talosPatchMode, TALOS_ANONYMOUS_HEALTH_PATHS, toYamlStream } from "./render";
import { makeCa } from "../lab/pki";
import { readReference } from "../test/support/reference";

type Schema = { $defs: Record<string, unknown> } & Record<string, unknown>;

/** A partial v1alpha1 patch leaves out what a full config requires, so drop `required` for it. */
function withoutRequired(node: unknown): unknown {
    if (Array.isArray(node)) return node.map(withoutRequired);
    if (typeof node !== "object" || node === null) return node;
    return Object.fromEntries(Object.entries(node).filter(([k]) => k !== "required").map(([k, v]) => [k, withoutRequired(v)]));
}

function validator(minor: 13 | 14) {
    const schema = JSON.parse(readReference(`talos/config.schema.v1.${minor}.json`)) as Schema;
    const ajv = addFormats(new Ajv2020({ strict: false, allErrors: true }));
    const documents = ajv.compile(schema);
    const { $defs } = withoutRequired(schema) as Schema;
    const v1alpha1 = ajv.compile({ $defs, $ref: "#/$defs/v1alpha1.Config", $id: String(schema.$id).replace(/\.json$/, ".partial.json") });
    return (doc: Record<string, unknown>): string[] => {
        const validate = "kind" in doc ? documents : v1alpha1;
        return validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
    };
}

const validate13 = validator(13);
const validate14 = validator(14);
const ca = makeCa("mkcert development CA");

function contract(withCa: boolean): OidcContract {
    return oidcContract({ domain: "platform.lan", issuerCaPem: withCa ? ca.certPem : undefined });
}

describe("Talos apiserver patch", () => {
    for (const withCa of [true, false]) {
        const label = withCa ? "with a private CA" : "with a public issuer";
        it(`Talos 1.13: the extraArgs patch ${label} validates against the v1.13 schema`, () => {
            const docs = talosPatchDocuments(contract(withCa), parseTalosVersion("v1.13")!);
            expect(docs).to.have.length(1);
            expect(validate13(docs[0])).to.deep.equal([]);
        });

        it(`Talos 1.14: the KubeAuthenticationConfig ${label} validates against the v1.14 schema`, () => {
            const docs = talosPatchDocuments(contract(withCa), parseTalosVersion("v1.14")!);
            expect(docs.map((d) => d.kind)).to.deep.equal(["KubeAuthenticationConfig"]);
            expect(validate14(docs[0])).to.deep.equal([]);
        });
    }

    for (const [minor, validate] of [[13, validate13], [14, validate14]] as const) {
        it(`Talos 1.${minor}: the issuer's address adds one StaticHostConfig document, valid against the v1.${minor} schema`, () => {
            const docs = talosPatchDocuments(contract(true), parseTalosVersion(`v1.${minor}`)!, "192.168.1.50");
            const hosts = docs.filter((d) => d.kind === "StaticHostConfig");
            // machine.network.extraHostEntries is gone from both schemas; the document is the form both take.
            expect(hosts).to.deep.equal([{ apiVersion: "v1alpha1", kind: "StaticHostConfig", name: "192.168.1.50", hostnames: ["dex.platform.lan"] }]);
            expect(docs.flatMap(validate)).to.deep.equal([]);
            expect(talosPatchDocuments(contract(true), parseTalosVersion(`v1.${minor}`)!).filter((d) => d.kind === "StaticHostConfig")).to.deep.equal([]);
        });
    }

    it("the schemas catch a patch rendered for the wrong Talos version", () => {
        const flags = talosPatchDocuments(contract(true), parseTalosVersion("v1.13")!)[0];
        expect(validate14(flags).join("\n")).to.match(/additional properties|must NOT have/);
        const document = talosPatchDocuments(contract(true), parseTalosVersion("v1.14")!)[0];
        expect(validate13(document)).to.not.deep.equal([]);
    });

    it("the schema check itself rejects a misspelled field", () => {
        const docs = talosPatchDocuments(contract(false), parseTalosVersion("v1.13")!);
        const broken = { cluster: { apiServer: { extraArg: (docs[0] as any).cluster.apiServer.extraArgs } } };
        expect(validate13(broken)).to.not.deep.equal([]);
    });

    it("picks the flag patch up to 1.13 and the document from 1.14", () => {
        expect(["v1.10", "v1.11", "v1.12", "v1.13.9"].map((v) => talosPatchMode(parseTalosVersion(v)!))).to.deep.equal(Array(4).fill("extraArgs"));
        expect(talosPatchMode(parseTalosVersion("v1.14.0-rc.1")!)).to.equal("authenticationConfig");
    });

    it("1.13 flags carry exactly the contract's issuer, audience, claims and prefixes", () => {
        const c = contract(true);
        const args = (talosPatchDocuments(c, parseTalosVersion("v1.13")!)[0] as any).cluster.apiServer.extraArgs;
        expect(args).to.deep.equal({
            "oidc-issuer-url": "https://dex.platform.lan",
            "oidc-client-id": "kube-apiserver",
            "oidc-username-claim": "email",
            "oidc-username-prefix": "oidc:",
            "oidc-groups-claim": "groups",
            "oidc-groups-prefix": "oidc:",
            "oidc-ca-file": `/etc/kubernetes/oidc/${caFileName(ca.certPem)}`,
        });
    });

    it("1.14's AuthenticationConfiguration carries the same issuer, audience, claims, prefixes and CA, and lowercases the email", () => {
        const doc = talosPatchDocuments(contract(true), parseTalosVersion("v1.14")!)[0] as any;
        expect(doc.configuration).to.deep.equal({
            apiVersion: "apiserver.config.k8s.io/v1",
            kind: "AuthenticationConfiguration",
            // Talos's own rule, kept (machinery.test.ts checks it against what Talos generates).
            anonymous: TALOS_ANONYMOUS_HEALTH_PATHS,
            jwt: [
                {
                    issuer: { url: "https://dex.platform.lan", audiences: ["kube-apiserver"], certificateAuthority: ca.certPem },
                    // An expression over claims.email must check email_verified itself, as the claim form does.
                    claimValidationRules: [{ expression: "claims.?email_verified.orValue(true) == true", message: "the email is not verified" }],
                    claimMappings: { username: { expression: '"oidc:" + claims.email.lowerAscii()' }, groups: { claim: "groups", prefix: "oidc:" } },
                },
            ],
        });
    });

    it("reads the username mapping back whatever its form: a lowercasing expression as its claim and prefix, any other expression as written", () => {
        const withUsername = (username: Record<string, string>) =>
            toYamlStream([kubeAuthenticationConfig({ jwt: [{ issuer: { url: "https://dex.platform.lan", audiences: ["kube-apiserver"] }, claimMappings: { username } }] })]);
        expect(readApiServerOidc(withUsername({ expression: '"sso:" + claims.sub.lowerAscii()' }))[0].username).to.deep.equal({ claim: "sub", prefix: "sso:", lowercase: true });
        const foreign = 'claims.sub + "@example.com"';
        expect(readApiServerOidc(withUsername({ expression: foreign }))[0].username).to.deep.equal({ claim: foreign, prefix: "", lowercase: false });
        expect(readApiServerOidc(withUsername({ claim: "email", prefix: "oidc:" }))[0].username).to.deep.equal({ claim: "email", prefix: "oidc:", lowercase: false });
    });

    it("1.13 writes the CA under /var, where Talos allows files, in a file named by its digest, mounted read-only", () => {
        const doc = talosPatchDocuments(contract(true), parseTalosVersion("v1.13")!)[0] as any;
        expect(caFileName(ca.certPem)).to.match(/^issuer-ca-[0-9a-f]{12}\.pem$/).and.not.equal(caFileName(makeCa("rotated CA").certPem));
        expect(doc.machine.files).to.deep.equal([{ op: "create", path: `/var/etc/kubernetes/oidc/${caFileName(ca.certPem)}`, permissions: 0o644, content: ca.certPem }]);
        expect(doc.cluster.apiServer.extraVolumes).to.deep.equal([{ hostPath: "/var/etc/kubernetes/oidc", mountPath: "/etc/kubernetes/oidc", readonly: true }]);
    });

    it("the node agent owns exactly what the output's patch sets: the 1.13 flags, CA file and mount, or the 1.14 issuer entry", () => {
        const c = contract(true);
        const [doc13] = talosPatchDocuments(c, parseTalosVersion("v1.13")!) as any[];
        const owned13 = ownedSettings(c, parseTalosVersion("v1.13")!, undefined, false);
        expect([owned13.flags, owned13.caFile, owned13.caVolume]).to.deep.equal([doc13.cluster.apiServer.extraArgs, doc13.machine.files[0], doc13.cluster.apiServer.extraVolumes[0]]);
        expect(owned13.ownFlagNames).to.have.members(Object.keys(doc13.cluster.apiServer.extraArgs));
        const [doc14] = talosPatchDocuments(c, parseTalosVersion("v1.14")!) as any[];
        const owned14 = ownedSettings(c, parseTalosVersion("v1.14")!, undefined, false);
        expect(doc14.configuration.jwt).to.deep.equal([owned14.jwt]);
        // What a node without the document has, and what the output's document keeps beside the issuer.
        expect(owned14.defaultAuthentication).to.deep.equal({ anonymous: TALOS_ANONYMOUS_HEALTH_PATHS, jwt: [] });
        expect(doc14.configuration.anonymous).to.deep.equal(TALOS_ANONYMOUS_HEALTH_PATHS);
    });

    it("renders documents as a YAML stream that reads back the same", () => {
        const docs = talosPatchDocuments(contract(true), parseTalosVersion("v1.14")!);
        const twice = [...docs, ...docs];
        expect(parseAllDocuments(toYamlStream(twice)).map((d) => d.toJS())).to.deep.equal(twice);
    });
});
