// The apiserver patch, checked against Talos's own machine-config schemas.
import Ajv2020 from "ajv/dist/2020";
import addFormats from "ajv-formats";
import { expect } from "chai";
import { parseAllDocuments } from "yaml";
import { parseTalosVersion } from "../components/config";
import { oidcContract, type OidcContract } from "../lib/contract";
import { talosPatchDocuments, talosPatchMode, talosRevertDocuments, toYamlStream } from "../lib/talos";
import { makeCa } from "./support/pki";
import { readReference } from "./support/shared";

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
            "oidc-issuer-url": c.issuerUrl,
            "oidc-client-id": c.audience,
            "oidc-username-claim": "email",
            "oidc-username-prefix": "oidc:",
            "oidc-groups-claim": "groups",
            "oidc-groups-prefix": "oidc:",
            "oidc-ca-file": "/etc/kubernetes/oidc/issuer-ca.pem",
        });
    });

    it("1.13 writes the CA under /var, where Talos allows files, and mounts it read-only", () => {
        const doc = talosPatchDocuments(contract(true), parseTalosVersion("v1.13")!)[0] as any;
        expect(doc.machine.files).to.deep.equal([{ op: "create", path: "/var/etc/kubernetes/oidc/issuer-ca.pem", permissions: 0o644, content: ca.certPem }]);
        expect(doc.cluster.apiServer.extraVolumes).to.deep.equal([{ hostPath: "/var/etc/kubernetes/oidc", mountPath: "/etc/kubernetes/oidc", readonly: true }]);
    });

    it("reverting removes every flag the patch added (1.13) or deletes the document (1.14)", () => {
        const c = contract(true);
        const added = Object.keys((talosPatchDocuments(c, parseTalosVersion("v1.13")!)[0] as any).cluster.apiServer.extraArgs);
        const [ops] = talosRevertDocuments(c, parseTalosVersion("v1.13")!) as { op: string; path: string }[][];
        expect(ops.map((o) => o.path)).to.deep.equal(added.map((flag) => `/cluster/apiServer/extraArgs/${flag}`));
        expect(ops.every((o) => o.op === "remove")).to.equal(true);
        expect(talosRevertDocuments(c, parseTalosVersion("v1.14")!)).to.deep.equal([{ apiVersion: "v1alpha1", kind: "KubeAuthenticationConfig", $patch: "delete" }]);
    });

    it("renders documents as a YAML stream that reads back the same", () => {
        const docs = talosPatchDocuments(contract(true), parseTalosVersion("v1.14")!);
        const twice = [...docs, ...docs];
        expect(parseAllDocuments(toYamlStream(twice)).map((d) => d.toJS())).to.deep.equal(twice);
    });
});
