// Each stack's Talos patch, merged by Talos's own config library
// (talos/machinery, built by `lab/tools/build.sh talos` for 1.13 and 1.14):
// it validates for a metal control-plane node, keeps every default Talos
// generates that it does not mean to change; and what the node agent composes
// with a node's live config (compose.ts) adds and takes off only what is the
// program's, however often it runs.
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { parseAllDocuments } from "yaml";
import { one } from "../test/support/resources";
import { runStack } from "../lab/stack";
import { REPO_ROOT } from "../lab/stack-file";
import { STACKS } from "../test/support/stacks";
import { parseTalosVersion } from "../config/fields";
import { oidcContract } from "../contract/contract";
import { applyChange, migrationRefusal, ownership, patchText, readLiveConfig, REFUSAL, revertChange, type NodeChange, type OwnedSettings } from "./compose";
import { ownedSettings } from "./plan";
import { readApiServerOidc } from "./read";
import { AGENT, agentReport, driftMessage, settingsDigest } from "./inspect";
import { runWithStandIn } from "./talosctl-stand-in";

const work = mkdtempSync(join(tmpdir(), "talos-machinery-"));
let tools: Record<"13" | "14", string>;

/** Runs talos-patch for a Talos minor; patches are YAML texts. */
function talosPatch(minor: "13" | "14", args: string[], patches: string[] = []) {
    const files = patches.map((patch, i) => {
        const file = join(mkdtempSync(join(work, "patch-")), `${i}.yaml`);
        writeFileSync(file, patch);
        return file;
    });
    return spawnSync(tools[minor], [...args, ...files], { encoding: "utf8" });
}

/** Talos's generated control-plane config with these patches, failing the test when Talos refuses it. */
function merged(minor: "13" | "14", patches: string[], contract = `v1.${minor}`): string {
    const result = talosPatch(minor, ["--talos-version", contract, "--secrets", join(work, `secrets-${contract}.yaml`)], patches);
    expect(result.stderr, "talos-patch refused the patch").to.equal("");
    expect(result.status).to.equal(0);
    return result.stdout;
}

/** The config after one `talosctl patch` with the change's patch files. */
function patched(minor: "13" | "14", config: string, change: NodeChange): string {
    const base = join(mkdtempSync(join(work, "node-")), "config.yaml");
    writeFileSync(base, config);
    const result = talosPatch(minor, ["--config", base], change.patches.map(patchText));
    expect(result.stderr, "talos-patch refused the agent's patch").to.equal("");
    return result.stdout;
}

/** Applies the owned settings as the agent does, `times` times over. */
function applied(minor: "13" | "14", config: string, owned: OwnedSettings, times = 1): string {
    for (let i = 0; i < times; i++) config = patched(minor, config, applyChange(readLiveConfig(config), owned));
    return config;
}

const docsOf = (config: string) => parseAllDocuments(config).map((d) => d.toJS());

/** Every leaf of a config as `<document>/<path>` → value; documents are named by kind and name, v1alpha1 by its version. */
function leaves(stream: string): Map<string, string> {
    const out = new Map<string, string>();
    const walk = (value: unknown, path: string) => {
        const entries = value !== null && typeof value === "object" ? Object.entries(value) : [];
        if (entries.length === 0) out.set(path, JSON.stringify(value));
        for (const [key, child] of entries) walk(child, `${path}/${key}`);
    };
    for (const doc of parseAllDocuments(stream).map((d) => d.toJS() as Record<string, any>)) {
        const id = doc.kind ? `${doc.kind}/${doc.name ?? ""}` : "v1alpha1";
        walk(Object.fromEntries(Object.entries(doc).filter(([key]) => !["apiVersion", "kind", "name"].includes(key) || !doc.kind)), id);
    }
    return out;
}

/** The paths where `after` differs from `before` that no path the patch sets accounts for. */
function unexplainedChanges(before: string, after: string, patch: string): string[] {
    const [a, b, set] = [leaves(before), leaves(after), [...leaves(patch).keys()]];
    const changed = [...new Set([...a.keys(), ...b.keys()])].filter((path) => a.get(path) !== b.get(path));
    return changed.filter((path) => !set.some((s) => s === path || path.startsWith(`${s}/`) || s.startsWith(`${path}/`)));
}

describe("Talos's own merge (talos/machinery)", () => {
before(function () {
    this.timeout(30 * 60_000);
    const dirs = execFileSync("bash", [join(REPO_ROOT, "lab/tools/build.sh"), "talos"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim().split("\n");
    const find = (minor: string) => dirs.map((dir) => join(dir, `talos-patch-1.${minor}`)).filter(existsSync);
    const [t13, t14] = [find("13"), find("14")];
    expect([t13.length, t14.length], "one talos-patch build per minor").to.deep.equal([1, 1]);
    tools = { "13": t13[0], "14": t14[0] };
});
after(() => rmSync(work, { recursive: true, force: true }));

for (const stack of ["local", "prod"] as const) {
    for (const minor of ["13", "14"] as const) {
        describe(`Talos's own merge: ${stack} on Talos 1.${minor}`, () => {
            let patch: string;
            let generated: string;
            let owned: OwnedSettings;
            before(async () => {
                const run = await runStack(stack, STACKS[stack].userKeys, { "platform-auth:talosVersion": `v1.${minor}`, "platform-auth:talosNodes": JSON.stringify(["10.0.0.2"]) });
                patch = run.outputs.talosPatch;
                owned = JSON.parse(one(run.resources, "Command").inputs.environment.TALOS_OWNED);
                generated = merged(minor, []);
            });

            it("merges and validates, carries the program's settings, and changes nothing Talos generates that the patch does not set", () => {
                const config = merged(minor, [patch]);
                expect(readApiServerOidc(config)).to.deep.equal(readApiServerOidc(patch));
                expect(unexplainedChanges(generated, config, patch)).to.deep.equal([]);
            });

            it("the agent's change on a fresh node gives the apiserver the output patch's settings and nothing else, and composing again changes nothing", () => {
                const once = applied(minor, generated, owned);
                expect(readApiServerOidc(once)).to.deep.equal(readApiServerOidc(merged(minor, [patch])));
                expect(unexplainedChanges(generated, once, patch)).to.deep.equal([]);
                expect(applyChange(readLiveConfig(once), owned).patches).to.deep.equal([]);
                expect(applied(minor, generated, owned, 2)).to.equal(once);
            });

            it("the agent's revert leaves Talos's generated config, but for the CA file and its mount, which stay by design", () => {
                const reverted = patched(minor, applied(minor, generated, owned), revertChange(readLiveConfig(applied(minor, generated, owned)), owned));
                const kept = docsOf(patch).filter((doc) => doc.machine).map(({ machine, cluster }) => ({ machine, cluster: { apiServer: { extraVolumes: cluster.apiServer.extraVolumes } } }));
                expect(unexplainedChanges(generated, reverted, kept.map((doc) => JSON.stringify(doc)).join("\n---\n"))).to.deep.equal([]);
                expect(revertChange(readLiveConfig(reverted), owned).patches, "reverting twice is harmless").to.deep.equal([]);
            });

            if (minor === "14") {
                it("applying the patch again by hand changes nothing: the document merges by replace", () => {
                    expect(merged(minor, [patch, patch])).to.equal(merged(minor, [patch]));
                });

                it("keeps Talos's anonymous rule for the health paths; the comparison fails when the patch drops it", () => {
                    expect(leaves(merged(minor, [patch])).get("KubeAuthenticationConfig//configuration/anonymous/enabled")).to.equal("true");
                    const docs = docsOf(patch);
                    delete docs[0].configuration.anonymous;
                    const dropped = docs.map((doc) => JSON.stringify(doc)).join("\n---\n");
                    expect(unexplainedChanges(generated, merged(minor, [dropped]), dropped)).to.include.members([
                        "KubeAuthenticationConfig//configuration/anonymous/enabled",
                        "KubeAuthenticationConfig//configuration/anonymous/conditions/0/path",
                    ]);
                });

                it("keeps another issuer and the node's own anonymous rule, and reverting takes off only its own entry", () => {
                    const theirs = { issuer: { url: "https://ci.example.com", audiences: ["ci"] }, claimMappings: { username: { claim: "sub", prefix: "ci:" } } };
                    const anonymous = { enabled: true, conditions: [{ path: "/livez" }] };
                    const node = merged(minor, [JSON.stringify({ apiVersion: "v1alpha1", kind: "KubeAuthenticationConfig", configuration: { anonymous, jwt: [theirs] } })]);
                    const change = applyChange(readLiveConfig(node), owned);
                    expect(change.kept).to.deep.equal(["issuer https://ci.example.com"]);
                    const both = patched(minor, node, change);
                    const configuration = () => docsOf(both).find((d) => d.kind === "KubeAuthenticationConfig").configuration;
                    expect(configuration().jwt).to.deep.equal([theirs, owned.jwt]);
                    expect(configuration().anonymous).to.deep.equal(anonymous);
                    expect(patched(minor, both, revertChange(readLiveConfig(both), owned))).to.equal(node);
                });

                it("a hand edit to any part of its entry is a change to make, named by the field", () => {
                    const edited = docsOf(applied(minor, generated, owned));
                    const document = edited.find((d) => d.kind === "KubeAuthenticationConfig");
                    document.configuration.jwt[0].claimMappings.groups.prefix = "github:";
                    const change = applyChange(edited, owned);
                    expect(change.changes).to.deep.equal([`update issuer ${owned.issuerUrl}: claimMappings.groups.prefix`]);
                });
            } else if (stack === "local") {
                it("applying the patch twice by hand would duplicate the list entries, which is why the agent adds them once", () => {
                    const twice = parseAllDocuments(merged(minor, [patch, patch]))[0].toJS();
                    expect([twice.machine.files.length, twice.cluster.apiServer.extraVolumes.length]).to.deep.equal([2, 2]);
                });

                it("takes over from the manual setup: every oidc-* flag goes, and those it does not set are named", () => {
                    const manual = merged(minor, [JSON.stringify({ cluster: { apiServer: { extraArgs: { "oidc-issuer-url": owned.issuerUrl, "oidc-client-id": "kubectl", "oidc-required-claim": "hd=devantler.tech" } } } })]);
                    const change = applyChange(readLiveConfig(manual), owned);
                    expect(change.removed).to.deep.equal(["flag oidc-required-claim"]);
                    const args = docsOf(patched(minor, manual, change))[0].cluster.apiServer.extraArgs;
                    expect(Object.fromEntries(Object.entries(args).filter(([flag]) => flag.startsWith("oidc-")))).to.deep.equal(owned.flags);
                });
            }
        });
    }
}

describe("Talos's own merge: the 1.13 → 1.14 migration and the issuer's host entry", () => {
    const contract = oidcContract({ domain: "platform.lan" });
    const owned = (minor: "13" | "14", extra: { issuerAddress?: string; migrationConfirmed?: boolean } = {}) =>
        ownedSettings(contract, parseTalosVersion(`v1.${minor}`)!, extra.issuerAddress, extra.migrationConfirmed ?? false);

    it("a node on Talos 1.14 with a 1.13 config and flags takes the document only once confirmed, and ends without a flag", () => {
        const on13 = applied("14", merged("14", [], "v1.13"), owned("13"));
        expect(migrationRefusal("n", readLiveConfig(on13), owned("14"))).to.match(/^node n still has the apiserver flags oidc-.*talosMigration 1\.13-to-1\.14/);
        const migrated = applied("14", on13, owned("14", { migrationConfirmed: true }));
        expect(migrated).to.not.match(/oidc-/);
        expect(readApiServerOidc(migrated).map((s) => s.mode)).to.deep.equal(["authenticationConfig"]);
    });

    for (const minor of ["13", "14"] as const) {
        it(`Talos 1.${minor}: its name joins the operator's host entry for the address, moves with the address, and only it is taken off on revert`, () => {
            const hosts = (config: string) => docsOf(config).filter((doc) => doc.kind === "StaticHostConfig").map((d) => [d.name, d.hostnames]);
            const operators = JSON.stringify({ apiVersion: "v1alpha1", kind: "StaticHostConfig", name: "192.168.1.50", hostnames: ["gateway.platform.lan"] });
            const node = merged(minor, [operators]);
            const first = applied(minor, node, owned(minor, { issuerAddress: "192.168.1.50" }), 2);
            expect(hosts(first)).to.deep.equal([["192.168.1.50", ["gateway.platform.lan", "dex.platform.lan"]]]);
            expect(applyChange(readLiveConfig(first), owned(minor, { issuerAddress: "192.168.1.50" })).changes, "their names are no drift").to.deep.equal([]);
            // The agent hands over what the last apply owned (its output's record line).
            const movedTo = { ...owned(minor, { issuerAddress: "192.168.1.51" }), former: ownership(owned(minor, { issuerAddress: "192.168.1.50" })) };
            const moved = applied(minor, first, movedTo);
            expect(hosts(moved)).to.deep.equal([["192.168.1.50", ["gateway.platform.lan"]], ["192.168.1.51", ["dex.platform.lan"]]]);
            expect(hosts(patched(minor, moved, revertChange(readLiveConfig(moved), movedTo)))).to.deep.equal([["192.168.1.50", ["gateway.platform.lan"]]]);
        });

        it(`Talos 1.${minor}: without issuerAddress, an operator's own mapping of the issuer's name is theirs: kept, and no drift`, () => {
            const theirs = JSON.stringify({ apiVersion: "v1alpha1", kind: "StaticHostConfig", name: "10.0.0.9", hostnames: ["dex.platform.lan"] });
            const node = applied(minor, merged(minor, [theirs]), owned(minor));
            expect(docsOf(node).filter((d) => d.kind === "StaticHostConfig").map((d) => [d.name, d.hostnames])).to.deep.equal([["10.0.0.9", ["dex.platform.lan"]]]);
            expect(applyChange(readLiveConfig(node), owned(minor)).changes).to.deep.equal([]);
            expect(revertChange(readLiveConfig(node), owned(minor)).changes.filter((c) => c.includes("host"))).to.deep.equal([]);
        });
    }

    it("Talos 1.14: a changed domain takes the former issuer's entry off, keeps the others, and a second copy of its entry made by hand goes", () => {
        const ci = { issuer: { url: "https://ci.example.com", audiences: ["ci"] }, claimMappings: { username: { claim: "sub", prefix: "ci:" } } };
        const before = ownedSettings(oidcContract({ domain: "old.lan" }), parseTalosVersion("v1.14")!, undefined, false);
        const node = applied("14", merged("14", [JSON.stringify({ apiVersion: "v1alpha1", kind: "KubeAuthenticationConfig", configuration: { jwt: [ci] } })]), before);
        const now = { ...owned("14"), former: ownership(before) };
        const issuersOf = (config: string) => docsOf(config).find((d) => d.kind === "KubeAuthenticationConfig").configuration.jwt.map((e: any) => e.issuer.url);
        const moved = applied("14", node, now);
        expect(issuersOf(moved)).to.deep.equal(["https://ci.example.com", "https://dex.platform.lan"]);
        const doubled = docsOf(moved);
        const auth = doubled.find((d) => d.kind === "KubeAuthenticationConfig");
        auth.configuration.jwt.push(auth.configuration.jwt[1]);
        const change = applyChange(doubled, owned("14"));
        expect(change.changes).to.deep.equal(["remove issuer https://dex.platform.lan (a second copy)"]);
        expect(issuersOf(patched("14", patchText(doubled), change))).to.deep.equal(["https://ci.example.com", "https://dex.platform.lan"]);
    });

    it("the agent itself (run by Node as the command provider runs it) names what a node keeps and lacks (drift only while the settings are those last applied), and refuses an unconfirmed migration before any change", () => {
        const theirs = JSON.stringify({ apiVersion: "v1alpha1", kind: "KubeAuthenticationConfig", configuration: { jwt: [{ issuer: { url: "https://ci.example.com", audiences: ["ci"] }, claimMappings: { username: { claim: "sub", prefix: "ci:" } } }] } });
        const env = (o: OwnedSettings) => ({ TALOS_NODES: "10.0.0.2", TALOS_OWNED: JSON.stringify(o), TALOS_KUBE_CONTEXT: "admin@local" });
        const inspected = runWithStandIn(`${AGENT} inspect`, env(owned("14")), { "10.0.0.2": merged("14", [theirs]) });
        expect([inspected.exitCode, inspected.stdout], inspected.stderr).to.deep.equal([0, "talos: node 10.0.0.2: keeps issuer https://ci.example.com\ntalos: differs: 10.0.0.2 (add issuer https://dex.platform.lan)\n"]);
        const report = agentReport(inspected.stdout);
        const digest = settingsDigest(env(owned("14")));
        expect(driftMessage(report, digest, digest, "authenticationConfig"), "a node without the settings last applied is drift").to.equal(
            "talos: node(s) 10.0.0.2 (add issuer https://dex.platform.lan) differ from the apiserver's OIDC settings (authenticationConfig); re-apply them with `PLATFORM_AUTH_TALOS_REPAIR=1 pulumi up`.",
        );
        expect(driftMessage(report, settingsDigest(env(owned("13"))), digest, "authenticationConfig"), "with other settings than last applied it is an update").to.equal(undefined);
        expect(driftMessage(report, undefined, digest, "authenticationConfig"), "before any apply it is the first one").to.equal(undefined);
        const on13 = { "10.0.0.2": applied("14", merged("14", [], "v1.13"), owned("13")) };
        const refused = runWithStandIn(`${AGENT} inspect`, env(owned("14")), on13);
        expect([refused.exitCode, refused.stderr]).to.deep.equal([0, ""]);
        expect(refused.stdout).to.match(new RegExp(`^${REFUSAL}talosMigration: node 10\\.0\\.0\\.2 still has the apiserver flags .*talosMigration`));
        expect(refused.calls, "nothing was changed").to.deep.equal([]);
    });
});
describe("the node agent's rollout, with talosctl and the apiservers' metrics stood in", () => {
    // Loopback addresses: the agent probes each node's apiserver, and nothing may go further.
    const NODES = ["127.0.0.42", "127.0.0.43"];
    const contract = oidcContract({ domain: "platform.lan" });
    const owned14 = ownedSettings(contract, parseTalosVersion("v1.14")!, undefined, false);
    const issuerHash = `sha256:${createHash("sha256").update(contract.issuerUrl).digest("hex")}`;
    const env = (nodes: string[], extra: Record<string, string> = {}) => ({
        TALOS_NODES: nodes.join(" "), TALOS_OWNED: JSON.stringify(owned14), TALOS_KUBE_CONTEXT: "admin@local", PLATFORM_AUTH_TALOS_GATE_SECONDS: "3", ...extra,
    });
    const patchedNodes = (calls: string[]) => calls.filter((c) => c.startsWith("patch ")).map((c) => c.split(" ")[1]);

    it("patches and gates one node after the other, touches nothing when run again, and reverts a node that left the list after the listed ones", () => {
        const fresh = merged("14", []);
        const first = runWithStandIn(`${AGENT} apply`, env(NODES), { [NODES[0]]: fresh, [NODES[1]]: fresh }, tools["14"], { issuerHash });
        expect(first.exitCode, first.stderr).to.equal(0);
        expect(patchedNodes(first.calls)).to.deep.equal(NODES);
        const steps = first.stdout.split("\n").filter((l) => / (add issuer|its apiserver accepts) /.test(l)).map((l) => `${l.includes("accepts") ? "gate" : "patch"} ${l.split(" ")[2]}`);
        expect(steps).to.deep.equal(NODES.flatMap((n) => [`patch ${n}:`, `gate ${n}:`]));
        const again = runWithStandIn(`${AGENT} apply`, env(NODES, { PULUMI_COMMAND_STDOUT: first.stdout }), first.configs, tools["14"], { issuerHash });
        expect([again.exitCode, patchedNodes(again.calls)], again.stderr).to.deep.equal([0, []]);
        const shrunk = runWithStandIn(`${AGENT} apply`, env([NODES[1]], { PULUMI_COMMAND_STDOUT: first.stdout }), first.configs, tools["14"], { issuerHash });
        expect([shrunk.exitCode, patchedNodes(shrunk.calls)], shrunk.stderr).to.deep.equal([0, [NODES[0]]]);
        expect(readApiServerOidc(shrunk.configs[NODES[0]])).to.deep.equal([]);
        expect(readApiServerOidc(shrunk.configs[NODES[1]]).map((o) => o.issuerUrl)).to.deep.equal([contract.issuerUrl]);
        expect(shrunk.stdout).to.match(new RegExp(`^talos-nodes: ${NODES[1]}$`, "m"));
    });

    it("a node whose apiserver never loads the issuer's keys gets its whole config back, the next node is not touched, and the error names both", () => {
        const fresh = merged("14", []);
        const run = runWithStandIn(`${AGENT} apply`, env(NODES), { [NODES[0]]: fresh, [NODES[1]]: fresh }, tools["14"], { issuerHash, unreachableFrom: [NODES[0]] });
        expect(run.exitCode).to.equal(1);
        expect(run.stderr).to.match(/^talos: node 127\.0\.0\.42: gave up after 3s waiting for its apiserver to load the keys of https:\/\/dex\.platform\.lan .*: it has not fetched the issuer's keys; it has its previous config back\. Stopped there: did not touch 127\.0\.0\.43\./);
        expect(run.calls).to.include(`apply-config ${NODES[0]}`);
        expect(run.configs).to.deep.equal({ [NODES[0]]: fresh, [NODES[1]]: fresh });
        expect(patchedNodes(run.calls)).to.deep.equal([NODES[0]]);
    });
});
});
