// The apiserver patch, checked against Talos's own machine-config schemas.
import Ajv2020 from "ajv/dist/2020";
import addFormats from "ajv-formats";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { parseAllDocuments } from "yaml";
import { parseTalosVersion } from "../components/config";
import { oidcContract, type OidcContract } from "../lib/contract";
import { caFileName, talosApplyEnvironment, talosApplyPlan, talosctlApplyScript, talosctlRevertScript, talosPatchDocuments, talosPatchMode, toYamlStream } from "../lib/talos";
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
            "oidc-issuer-url": "https://dex.platform.lan",
            "oidc-client-id": "kube-apiserver",
            "oidc-username-claim": "email",
            "oidc-username-prefix": "oidc:",
            "oidc-groups-claim": "groups",
            "oidc-groups-prefix": "oidc:",
            "oidc-ca-file": `/etc/kubernetes/oidc/${caFileName(ca.certPem)}`,
        });
    });

    it("1.14's AuthenticationConfiguration carries the same issuer, audience, claims, prefixes and CA", () => {
        const doc = talosPatchDocuments(contract(true), parseTalosVersion("v1.14")!)[0] as any;
        expect(doc.configuration).to.deep.equal({
            apiVersion: "apiserver.config.k8s.io/v1",
            kind: "AuthenticationConfiguration",
            jwt: [
                {
                    issuer: { url: "https://dex.platform.lan", audiences: ["kube-apiserver"], certificateAuthority: ca.certPem },
                    claimMappings: { username: { claim: "email", prefix: "oidc:" }, groups: { claim: "groups", prefix: "oidc:" } },
                },
            ],
        });
    });

    it("1.13 writes the CA under /var, where Talos allows files, in a file named by its digest, mounted read-only", () => {
        const doc = talosPatchDocuments(contract(true), parseTalosVersion("v1.13")!)[0] as any;
        expect(caFileName(ca.certPem)).to.match(/^issuer-ca-[0-9a-f]{12}\.pem$/).and.not.equal(caFileName(makeCa("rotated CA").certPem));
        expect(doc.machine.files).to.deep.equal([{ op: "create", path: `/var/etc/kubernetes/oidc/${caFileName(ca.certPem)}`, permissions: 0o644, content: ca.certPem }]);
        expect(doc.cluster.apiServer.extraVolumes).to.deep.equal([{ hostPath: "/var/etc/kubernetes/oidc", mountPath: "/etc/kubernetes/oidc", readonly: true }]);
    });

    it("reverting removes every flag the patch added (1.13) or deletes the document (1.14)", () => {
        const c = contract(true);
        const added = Object.keys((talosPatchDocuments(c, parseTalosVersion("v1.13")!)[0] as any).cluster.apiServer.extraArgs);
        const [ops] = talosApplyPlan(c, parseTalosVersion("v1.13")!).revert as { op: string; path: string }[][];
        expect(ops.map((o) => o.path)).to.deep.equal(added.map((flag) => `/cluster/apiServer/extraArgs/${flag}`));
        expect(ops.every((o) => o.op === "remove")).to.equal(true);
        expect(talosApplyPlan(c, parseTalosVersion("v1.14")!).revert).to.deep.equal([{ apiVersion: "v1alpha1", kind: "KubeAuthenticationConfig", $patch: "delete" }]);
    });
    it("renders documents as a YAML stream that reads back the same", () => {
        const docs = talosPatchDocuments(contract(true), parseTalosVersion("v1.14")!);
        const twice = [...docs, ...docs];
        expect(parseAllDocuments(toYamlStream(twice)).map((d) => d.toJS())).to.deep.equal(twice);
    });
});

/** Runs a talosctl script against a stand-in talosctl that serves each node's live config and logs every call. */
function runScript(script: string, env: Record<string, string>, liveConfigs: Record<string, string>) {
    const dir = mkdtempSync(join(tmpdir(), "fake-talosctl-"));
    for (const [node, config] of Object.entries(liveConfigs)) writeFileSync(join(dir, `live-${node}.yaml`), config);
    writeFileSync(
        join(dir, "talosctl"),
        [
            "#!/bin/sh",
            `log=${dir}/calls.log`,
            'node=""; prev=""; for a in "$@"; do [ "$prev" = --nodes ] && node=$a; prev=$a; done',
            'case "$1 $2" in',
            `  "--nodes $node") if [ "$3" = get ]; then cat "${dir}/live-$node.yaml"; else echo "health $node" >>"$log"; fi ;;`,
            '  "patch machineconfig") echo "patch $node" >>"$log"; for a in "$@"; do case $a in @*) echo "--- ${a##*/}" >>"$log"; cat "${a#@}" >>"$log";; esac; done ;;',
            "esac",
        ].join("\n"),
        { mode: 0o755 },
    );
    execFileSync("/bin/sh", ["-c", script], { env: { ...env, PATH: `${dir}:${process.env.PATH}` } });
    return readFileSync(join(dir, "calls.log"), "utf8");
}

describe("talosctl apply and revert", () => {
    const ca = makeCa("mkcert development CA");
    const c = oidcContract({ domain: "platform.lan", issuerCaPem: ca.certPem });
    const plan = talosApplyPlan(c, parseTalosVersion("v1.13")!);
    const env = talosApplyEnvironment(plan, ["10.0.0.2", "10.0.0.3"]);
    const caPath = `/var/etc/kubernetes/oidc/${caFileName(ca.certPem)}`;
    // How `talosctl get machineconfig -o yaml` shows a node that already has the CA file and its mount.
    const patched = `spec: |\n    machine:\n        files:\n            - content: x\n              path: ${caPath}\n    cluster:\n        apiServer:\n            extraVolumes:\n                - hostPath: /var/etc/kubernetes/oidc\n                  mountPath: /etc/kubernetes/oidc\n`;

    it("adds the CA file and mount once, patches one node at a time and waits for each to be healthy", () => {
        const log = runScript(talosctlApplyScript(plan), env, { "10.0.0.2": "spec: |\n    machine: {}\n", "10.0.0.3": patched });
        const calls = log.split("\n").filter((l) => /^(patch|health|---)/.test(l));
        expect(calls).to.deep.equal(["patch 10.0.0.2", "--- always.yaml", "--- CA_FILE.yaml", "--- CA_VOLUME.yaml", "health 10.0.0.2", "patch 10.0.0.3", "--- always.yaml", "health 10.0.0.3"]);
        expect(log).to.include(`path: ${caPath}`).and.include("oidc-issuer-url: https://dex.platform.lan");
    });

    it("adds a rotated CA's file even where the old one and the mount exist", () => {
        const rotated = talosApplyPlan(oidcContract({ domain: "platform.lan", issuerCaPem: makeCa("rotated CA").certPem }), parseTalosVersion("v1.13")!);
        const log = runScript(talosctlApplyScript(rotated), talosApplyEnvironment(rotated, ["10.0.0.3"]), { "10.0.0.3": patched });
        expect(log.split("\n").filter((l) => l.startsWith("---"))).to.deep.equal(["--- always.yaml", "--- CA_FILE.yaml"]);
    });

    it("reverts with the revert patch on every node", () => {
        const log = runScript(talosctlRevertScript(), { TALOS_NODES: "10.0.0.2 10.0.0.3", TALOS_REVERT_PATCH: toYamlStream(plan.revert) }, {});
        expect(log.split("\n").filter((l) => /^(patch|health)/.test(l))).to.deep.equal(["patch 10.0.0.2", "health 10.0.0.2", "patch 10.0.0.3", "health 10.0.0.3"]);
        expect(log).to.include("op: remove").and.include("path: /cluster/apiServer/extraArgs/oidc-issuer-url");
    });
});
