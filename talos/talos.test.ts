// The apiserver patch, checked against Talos's own machine-config schemas.
import Ajv2020 from "ajv/dist/2020";
import addFormats from "ajv-formats";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { parseAllDocuments } from "yaml";
import { parseTalosVersion } from "../config/fields";
import { oidcContract, type OidcContract } from "../contract/contract";
import { caFileName, talosApplyEnvironment, talosApplyPlan, talosctlApplyScript, talosctlRevertScript, talosPatchDocuments, talosPatchMode, toYamlStream } from "./render";
import { makeCa } from "../test/support/pki";
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

    it("reverting deletes every flag the patch added (1.13) or the document (1.14), as strategic patches", () => {
        const c = contract(true);
        const added = Object.keys((talosPatchDocuments(c, parseTalosVersion("v1.13")!)[0] as any).cluster.apiServer.extraArgs);
        const [revert13] = talosApplyPlan(c, parseTalosVersion("v1.13")!).revert as any[];
        // Talos refuses JSON6902 patches on multi-document configs, so the revert must be a strategic delete.
        expect(revert13.cluster.apiServer.extraArgs).to.deep.equal(Object.fromEntries(added.map((flag) => [flag, { $patch: "delete" }])));
        expect(talosApplyPlan(c, parseTalosVersion("v1.14")!).revert).to.deep.equal([{ apiVersion: "v1alpha1", kind: "KubeAuthenticationConfig", $patch: "delete" }]);
    });

    it("renders documents as a YAML stream that reads back the same", () => {
        const docs = talosPatchDocuments(contract(true), parseTalosVersion("v1.14")!);
        const twice = [...docs, ...docs];
        expect(parseAllDocuments(toYamlStream(twice)).map((d) => d.toJS())).to.deep.equal(twice);
    });
});

/** Runs a talosctl script against a stand-in talosctl that serves each node's live config and logs every call. */
function runScript(script: string, env: Record<string, string>, liveConfigs: Record<string, string>): string[] {
    const dir = mkdtempSync(join(tmpdir(), "fake-talosctl-"));
    for (const [node, config] of Object.entries(liveConfigs)) writeFileSync(join(dir, `live-${node}.yaml`), config);
    writeFileSync(
        join(dir, "talosctl"),
        [
            "#!/bin/sh",
            `log=${dir}/calls.log`,
            'node=""; mode=""; prev=""; for a in "$@"; do [ "$prev" = --nodes ] && node=$a; [ "$prev" = --mode ] && mode=$a; prev=$a; done',
            'case "$1 $2" in',
            `  "--nodes $node") if [ "$3" = get ]; then cat "${dir}/live-$node.yaml"; else echo "$3 $node" >>"$log"; fi ;;`,
            '  "patch machineconfig") echo "patch $node $mode" >>"$log"; for a in "$@"; do case $a in @*) echo "  ${a##*/}" >>"$log";; esac; done ;;',
            "esac",
        ].join("\n"),
        { mode: 0o755 },
    );
    try {
        execFileSync("/bin/sh", ["-c", script], { env: { ...env, PATH: `${dir}:${process.env.PATH}` } });
        return existsSync(join(dir, "calls.log")) ? readFileSync(join(dir, "calls.log"), "utf8").trim().split("\n") : [];
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
}

describe("talosctl apply and revert", () => {
    const ca = makeCa("mkcert development CA");
    const version13 = parseTalosVersion("v1.13")!;
    const plan = talosApplyPlan(oidcContract({ domain: "platform.lan", issuerCaPem: ca.certPem }), version13);
    const env = talosApplyEnvironment(plan, ["10.0.0.2", "10.0.0.3"]);
    // How `talosctl get machineconfig -o yaml` shows a node, before and after the patch.
    const fresh = "spec: |\n    version: v1alpha1\n    machine:\n        type: controlplane\n";
    const patched = [
        "spec: |",
        "    machine:",
        "        files:",
        "            - content: x",
        `              path: /var/etc/kubernetes/oidc/${caFileName(ca.certPem)}`,
        "    cluster:",
        "        apiServer:",
        "            extraArgs:",
        "                oidc-issuer-url: https://dex.platform.lan",
        "            extraVolumes:",
        "                - hostPath: /var/etc/kubernetes/oidc",
        "                  mountPath: /etc/kubernetes/oidc",
        "",
    ].join("\n");

    it("on a fresh node, stages the CA file with the flags, reboots it and waits before the next node", () => {
        expect(runScript(talosctlApplyScript(plan), env, { "10.0.0.2": fresh, "10.0.0.3": fresh })).to.deep.equal([
            "patch 10.0.0.2 staged", "  always.yaml", "  CA_FILE.yaml", "  CA_VOLUME.yaml", "reboot 10.0.0.2", "health 10.0.0.2",
            "patch 10.0.0.3 staged", "  always.yaml", "  CA_FILE.yaml", "  CA_VOLUME.yaml", "reboot 10.0.0.3", "health 10.0.0.3",
        ]);
    });

    it("on a node that has it all, reverts the old flags and applies them again without list entries or a reboot", () => {
        expect(runScript(talosctlApplyScript(plan), env, { "10.0.0.2": patched, "10.0.0.3": patched })).to.deep.equal([
            "patch 10.0.0.2 auto", "  revert.yaml", "patch 10.0.0.2 auto", "  always.yaml", "health 10.0.0.2",
            "patch 10.0.0.3 auto", "  revert.yaml", "patch 10.0.0.3 auto", "  always.yaml", "health 10.0.0.3",
        ]);
    });

    it("adds a rotated CA's file (and reboots) even where the old file and the mount exist", () => {
        const rotated = talosApplyPlan(oidcContract({ domain: "platform.lan", issuerCaPem: makeCa("rotated CA").certPem }), version13);
        const calls = runScript(talosctlApplyScript(rotated), talosApplyEnvironment(rotated, ["10.0.0.3"]), { "10.0.0.3": patched });
        expect(calls).to.deep.equal(["patch 10.0.0.3 auto", "  revert.yaml", "patch 10.0.0.3 staged", "  always.yaml", "  CA_FILE.yaml", "reboot 10.0.0.3", "health 10.0.0.3"]);
    });

    it("reverts only the nodes that have the settings, so reverting twice is harmless", () => {
        expect(runScript(talosctlRevertScript(plan), env, { "10.0.0.2": patched, "10.0.0.3": fresh })).to.deep.equal([
            "patch 10.0.0.2 auto", "  revert.yaml", "health 10.0.0.2",
        ]);
    });

    it("Talos 1.14: replaces an existing document instead of merging into it", () => {
        const plan14 = talosApplyPlan(oidcContract({ domain: "platform.lan" }), parseTalosVersion("v1.14")!);
        const live = "spec: |\n    version: v1alpha1\n    ---\n    apiVersion: v1alpha1\n    kind: KubeAuthenticationConfig\n";
        expect(runScript(talosctlApplyScript(plan14), talosApplyEnvironment(plan14, ["10.0.0.2"]), { "10.0.0.2": live })).to.deep.equal([
            "patch 10.0.0.2 auto", "  revert.yaml", "patch 10.0.0.2 auto", "  always.yaml", "health 10.0.0.2",
        ]);
        expect(runScript(talosctlRevertScript(plan14), talosApplyEnvironment(plan14, ["10.0.0.2"]), { "10.0.0.2": fresh })).to.deep.equal([]);
    });
});
