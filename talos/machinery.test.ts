// Each stack's Talos patch, merged by Talos's own config library
// (talos/machinery, built by `e2e/tools/build.sh talos` for 1.13 and 1.14):
// it validates for a metal control-plane node, keeps every default Talos
// generates that it does not mean to change, and the talosctl scripts leave
// the same config however often they run.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { parseAllDocuments } from "yaml";
import { one } from "../test/support/resources";
import { REPO_ROOT, runStack } from "../test/support/stack";
import { STACKS } from "../test/support/stacks";
import { readApiServerOidc } from "./read";
import { nodesInCallOrder, runWithStandIn } from "./talosctl-stand-in";

const NODES = ["10.0.0.2", "10.0.0.3"];
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
    const dirs = execFileSync("bash", [join(REPO_ROOT, "e2e/tools/build.sh"), "talos"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim().split("\n");
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
            let apply: { create: string; delete: string; environment: Record<string, string> };
            const live = () => Object.fromEntries(NODES.map((node) => [node, generated]));
            before(async () => {
                const run = await runStack(stack, STACKS[stack].userKeys, { "platform-auth:talosVersion": `v1.${minor}`, "platform-auth:talosNodes": JSON.stringify(NODES) });
                patch = run.outputs.talosPatch;
                apply = one(run.resources, "Command").inputs as typeof apply;
                generated = merged(minor, []);
            });

            it("merges and validates, carries the program's settings, and changes nothing Talos generates that the patch does not set", () => {
                const config = merged(minor, [patch]);
                expect(readApiServerOidc(config)).to.deep.equal(readApiServerOidc(patch));
                expect(unexplainedChanges(generated, config, patch)).to.deep.equal([]);
            });

            it("the talosctl apply leaves the patch's config, and running it again changes nothing", () => {
                const first = runWithStandIn(apply.create, apply.environment, live(), tools[minor]);
                expect(first.exitCode, first.stderr).to.equal(0);
                expect(first.configs[NODES[0]]).to.equal(merged(minor, [patch]));
                const again = runWithStandIn(apply.create, { ...apply.environment, PULUMI_COMMAND_STDOUT: first.stdout }, first.configs, tools[minor]);
                expect(again.exitCode, again.stderr).to.equal(0);
                expect(again.configs).to.deep.equal(first.configs);
                expect(nodesInCallOrder(again.calls).filter((node, i, all) => node !== all[i - 1])).to.deep.equal(NODES);
            });

            it("the talosctl revert leaves Talos's generated config, but for the CA file and its mount, which stay by design", () => {
                const applied = runWithStandIn(apply.create, apply.environment, live(), tools[minor]).configs;
                const reverted = runWithStandIn(apply.delete, apply.environment, applied, tools[minor]);
                expect(reverted.exitCode, reverted.stderr).to.equal(0);
                const kept = parseAllDocuments(patch).map((d) => d.toJS());
                const caParts = kept.filter((doc) => doc.machine).map(({ machine, cluster }) => ({ machine, cluster: { apiServer: { extraVolumes: cluster.apiServer.extraVolumes } } }));
                expect(unexplainedChanges(generated, reverted.configs[NODES[0]], caParts.map((doc) => JSON.stringify(doc)).join("\n---\n"))).to.deep.equal([]);
            });

            if (minor === "14") {
                it("applying the patch again by hand changes nothing: the document merges by replace", () => {
                    expect(merged(minor, [patch, patch])).to.equal(merged(minor, [patch]));
                });

                it("keeps Talos's anonymous rule for the health paths; the comparison fails when the patch drops it", () => {
                    expect(leaves(merged(minor, [patch])).get("KubeAuthenticationConfig//configuration/anonymous/enabled")).to.equal("true");
                    const docs = parseAllDocuments(patch).map((d) => d.toJS());
                    delete docs[0].configuration.anonymous;
                    const dropped = docs.map((doc) => JSON.stringify(doc)).join("\n---\n");
                    expect(unexplainedChanges(generated, merged(minor, [dropped]), dropped)).to.include.members([
                        "KubeAuthenticationConfig//configuration/anonymous/enabled",
                        "KubeAuthenticationConfig//configuration/anonymous/conditions/0/path",
                    ]);
                });
            } else if (stack === "local") {
                it("applying the patch twice by hand would duplicate the list entries, which is why the talosctl plan adds them once", () => {
                    const twice = parseAllDocuments(merged(minor, [patch, patch]))[0].toJS();
                    expect([twice.machine.files.length, twice.cluster.apiServer.extraVolumes.length]).to.deep.equal([2, 2]);
                });
            }
        });
    }
}

describe("Talos's own merge: the 1.13 → 1.14 migration and the issuer's host entry", () => {
    it("a node on Talos 1.14 with a 1.13 config and flags takes the document only once confirmed, and ends without a flag", async () => {
        const run = async (version: string, extra: Record<string, string> = {}) =>
            one((await runStack("local", STACKS.local.userKeys, { "platform-auth:talosVersion": version, "platform-auth:talosNodes": '["n"]', ...extra })).resources, "Command").inputs;
        const [flags, document, confirmed] = [await run("v1.13"), await run("v1.14"), await run("v1.14", { "platform-auth:talosMigration": "1.13-to-1.14" })];
        const on13 = runWithStandIn(flags.create, flags.environment, { n: merged("14", [], "v1.13") }, tools["14"]).configs;
        const refused = runWithStandIn(document.create, document.environment, on13, tools["14"]);
        expect([refused.exitCode, refused.configs]).to.deep.equal([1, on13]);
        const migrated = runWithStandIn(confirmed.create, confirmed.environment, on13, tools["14"]);
        expect(migrated.exitCode, migrated.stderr).to.equal(0);
        expect(migrated.configs.n).to.not.match(/oidc-/);
        expect(readApiServerOidc(migrated.configs.n).map((s) => s.mode)).to.deep.equal(["authenticationConfig"]);
    });

    for (const minor of ["13", "14"] as const) {
        it(`Talos 1.${minor}: one host entry for the issuer, however often applied, moved with the address and taken off on revert`, async () => {
            const command = async (address: string) =>
                one((await runStack("prod", STACKS.prod.userKeys, { "platform-auth:talosVersion": `v1.${minor}`, "platform-auth:talosNodes": '["n"]', "platform-auth:issuerAddress": address })).resources, "Command").inputs;
            const hosts = (config: string) => parseAllDocuments(config).map((d) => d.toJS()).filter((doc) => doc.kind === "StaticHostConfig");
            const [first, moved] = [await command("192.168.1.50"), await command("192.168.1.51")];
            let configs: Record<string, string> = { n: merged(minor, []) };
            for (const step of [first, first, moved]) configs = runWithStandIn(step.create, step.environment, configs, tools[minor]).configs;
            expect(hosts(configs.n)).to.deep.equal([{ apiVersion: "v1alpha1", kind: "StaticHostConfig", name: "192.168.1.51", hostnames: ["dex.platform.devantler.tech"] }]);
            expect(readApiServerOidc(configs.n)[0].issuerAddress).to.equal("192.168.1.51");
            expect(hosts(runWithStandIn(moved.delete, moved.environment, configs, tools[minor]).configs.n)).to.deep.equal([]);
        });
    }
});
});
