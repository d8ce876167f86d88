// The talosctl scripts, run against a stand-in talosctl that serves each
// node's live config and logs each change: one patch per node, node by node,
// never all nodes reverted first. talos/machinery.test.ts runs the same
// scripts with Talos's own library behind the stand-in.
import { expect } from "chai";
import { parseTalosVersion } from "../config/fields";
import { oidcContract } from "../contract/contract";
import { makeCa } from "../test/support/pki";
import { talosApplyPlan, type TalosApplyPlan } from "./plan";
import { caFileName, oidcApiServerArgs } from "./render";
import { talosApplyEnvironment, talosctlApplyScript, talosctlDriftCheckScript, talosctlMigrationCheckScript, talosctlRevertScript } from "./scripts";
import { nodesInCallOrder, runWithStandIn } from "./talosctl-stand-in";

const ca = makeCa("mkcert development CA");
const v13 = parseTalosVersion("v1.13")!;
const v14 = parseTalosVersion("v1.14")!;
const contract13 = oidcContract({ domain: "platform.lan", issuerCaPem: ca.certPem });
const plan13 = talosApplyPlan(contract13, v13);
const plan14 = talosApplyPlan(oidcContract({ domain: "platform.lan" }), v14);

// How `talosctl get machineconfig -o yaml` shows a node's config (the stand-in adds the `spec: |`).
const fresh = "version: v1alpha1\nmachine:\n    type: controlplane\n";
/** A 1.13 node with the CA file and mount and these flags, printed as Talos prints them (YAML quotes `oidc:`); by default all of plan13. */
const node13 = (args = oidcApiServerArgs(contract13)) =>
    [
        "machine:",
        "    files:",
        "        - content: x",
        `          path: /var/etc/kubernetes/oidc/${caFileName(ca.certPem)}`,
        "cluster:",
        "    apiServer:",
        "        extraArgs:",
        ...Object.entries(args).map(([flag, value]) => `            ${flag}: ${value.endsWith(":") ? `'${value}'` : value}`),
        "        extraVolumes:",
        "            - hostPath: /var/etc/kubernetes/oidc",
        "              mountPath: /etc/kubernetes/oidc",
        "",
    ].join("\n");
/** An older apply: the issuer, and a CA file the flag no longer names. */
const patched13 = node13({ "oidc-issuer-url": "https://dex.platform.lan", "oidc-ca-file": "/etc/kubernetes/oidc/old.pem" });
const patched14 = "version: v1alpha1\n---\napiVersion: v1alpha1\nkind: KubeAuthenticationConfig\nconfiguration:\n    jwt:\n        - issuer:\n            url: https://dex.platform.lan\n";
const hostDoc = (address: string, host = "dex.platform.lan") => `---\napiVersion: v1alpha1\nkind: StaticHostConfig\nname: ${address}\nhostnames:\n    - ${host}\n`;

function run(script: string, plan: TalosApplyPlan, live: Record<string, string>, extra: Record<string, string> = {}, migrationConfirmed = false) {
    return runWithStandIn(script, { ...talosApplyEnvironment(plan, Object.keys(live), migrationConfirmed), ...extra }, live);
}

/** Each node's changes form one run that ends healthy, before the next node is touched. */
function expectNodeByNode(calls: string[], nodes: string[]) {
    const order = nodesInCallOrder(calls);
    expect(order.filter((node, i) => node !== order[i - 1]), "a node was touched again after the next one").to.deep.equal(nodes);
    for (const node of nodes) expect(calls.filter((call) => call.startsWith(`health ${node}`)).length, `${node} ends healthy once`).to.equal(1);
    expect(calls.filter((call) => !call.startsWith(" ")).filter((call, i, all) => all[i + 1]?.split(" ")[1] !== call.split(" ")[1]).every((call) => call.startsWith("health "))).to.equal(true);
}

describe("talosctl apply, node by node", () => {
    it("on fresh nodes, stages the flags with the CA file and mount, reboots, and waits before the next node", () => {
        const { calls, exitCode } = run(talosctlApplyScript(plan13), plan13, { "10.0.0.2": fresh, "10.0.0.3": fresh });
        expect(exitCode).to.equal(0);
        expectNodeByNode(calls, ["10.0.0.2", "10.0.0.3"]);
        expect(calls.slice(0, 6)).to.deep.equal(["patch 10.0.0.2 staged", "  always.yaml", "  CA_FILE.yaml", "  CA_VOLUME.yaml", "reboot 10.0.0.2", "health 10.0.0.2"]);
    });

    it("on a node that has it all, takes off the flags that are there and puts the new ones on in one patch, without list entries or a reboot", () => {
        const { calls } = run(talosctlApplyScript(plan13), plan13, { "10.0.0.2": patched13, "10.0.0.3": patched13 });
        expectNodeByNode(calls, ["10.0.0.2", "10.0.0.3"]);
        // Both flags on the node are deleted first (a stale CA path must not linger), then the plan's flags go on.
        expect(calls.slice(0, 5)).to.deep.equal(["patch 10.0.0.2 auto", "  OIDC_ISSUER_URL.yaml", "  OIDC_CA_FILE.yaml", "  always.yaml", "health 10.0.0.2"]);
    });

    it("adds a rotated CA's file (and reboots) even where the old file and the mount exist", () => {
        const rotated = talosApplyPlan(oidcContract({ domain: "platform.lan", issuerCaPem: makeCa("rotated CA").certPem }), v13);
        const { calls } = run(talosctlApplyScript(rotated), rotated, { "10.0.0.3": patched13 });
        expect(calls).to.deep.equal(["patch 10.0.0.3 staged", "  OIDC_ISSUER_URL.yaml", "  OIDC_CA_FILE.yaml", "  always.yaml", "  CA_FILE.yaml", "reboot 10.0.0.3", "health 10.0.0.3"]);
    });

    it("a changed node list: applies to the listed nodes one by one, then reverts the node that left, never all nodes first", () => {
        const live = { "10.0.0.3": patched13, "10.0.0.4": fresh, "10.0.0.2": patched13 };
        const env = { ...talosApplyEnvironment(plan13, ["10.0.0.3", "10.0.0.4"], false), PULUMI_COMMAND_STDOUT: "talosctl noise\ntalos-nodes: 10.0.0.2 10.0.0.3" };
        const { calls, stdout } = runWithStandIn(talosctlApplyScript(plan13), env, live);
        expectNodeByNode(calls, ["10.0.0.3", "10.0.0.4", "10.0.0.2"]);
        expect(calls.slice(calls.indexOf("patch 10.0.0.2 auto"))).to.deep.equal(["patch 10.0.0.2 auto", "  OIDC_ISSUER_URL.yaml", "  OIDC_CA_FILE.yaml", "health 10.0.0.2"]);
        expect(stdout.trim().split("\n").pop()).to.equal("talos-nodes: 10.0.0.3 10.0.0.4");
    });

    it("reverts only the nodes that have the settings, so reverting twice is harmless", () => {
        const { calls } = run(talosctlRevertScript(plan13), plan13, { "10.0.0.2": patched13, "10.0.0.3": fresh });
        expect(calls).to.deep.equal(["patch 10.0.0.2 auto", "  OIDC_ISSUER_URL.yaml", "  OIDC_CA_FILE.yaml", "health 10.0.0.2"]);
    });

    it("Talos 1.14: replaces the document in one patch, and reverting restores Talos's own", () => {
        expect(run(talosctlApplyScript(plan14), plan14, { "10.0.0.2": patched14 }).calls).to.deep.equal(["patch 10.0.0.2 auto", "  AUTHENTICATION.yaml", "  always.yaml", "health 10.0.0.2"]);
        expect(run(talosctlRevertScript(plan14), plan14, { "10.0.0.2": patched14 }).calls).to.deep.equal(["patch 10.0.0.2 auto", "  AUTHENTICATION.yaml", "health 10.0.0.2"]);
        expect(run(talosctlRevertScript(plan14), plan14, { "10.0.0.2": fresh }).calls).to.deep.equal([]);
    });
});

describe("talosctl: the 1.13 → 1.14 migration", () => {
    const live = { "10.0.0.2": patched13, "10.0.0.3": patched13 };

    it("is refused before any node is touched until talosMigration confirms it, naming the node and the key", () => {
        for (const script of [talosctlMigrationCheckScript(plan14), talosctlApplyScript(plan14)]) {
            const refused = run(script, plan14, live);
            expect(refused.exitCode).to.equal(1);
            expect(refused.stderr).to.contain("node 10.0.0.2").and.contain("pulumi config set talosMigration 1.13-to-1.14");
            expect(refused.calls).to.deep.equal([]);
        }
        expect(run(talosctlMigrationCheckScript(plan14), plan14, { "10.0.0.2": patched14 }).exitCode).to.equal(0);
    });

    it("once confirmed, takes the flags off and puts the document on, in one patch per node", () => {
        const { calls, exitCode } = run(talosctlApplyScript(plan14), plan14, live, {}, true);
        expect(exitCode).to.equal(0);
        expectNodeByNode(calls, ["10.0.0.2", "10.0.0.3"]);
        expect(calls.slice(0, 5)).to.deep.equal(["patch 10.0.0.2 auto", "  OIDC_ISSUER_URL.yaml", "  OIDC_CA_FILE.yaml", "  always.yaml", "health 10.0.0.2"]);
    });
});

describe("talosctl: the issuer's host entry", () => {
    const plan = talosApplyPlan(oidcContract({ domain: "platform.lan" }), v14, "192.168.1.50");

    it("is added where missing, kept where present, and an entry for an old address is taken off", () => {
        expect(run(talosctlApplyScript(plan), plan, { n: patched14 }).calls).to.include("  host.yaml");
        expect(run(talosctlApplyScript(plan), plan, { n: patched14 + hostDoc("192.168.1.50") }).calls).to.not.include("  host.yaml");
        const moved = run(talosctlApplyScript(plan), plan, { n: patched14 + hostDoc("192.168.1.9") }).calls;
        expect(moved).to.include.members(["  unhost-192.168.1.9.yaml", "  host.yaml"]);
    });

    it("leaves documents it did not write alone, and is taken off on revert", () => {
        const others = hostDoc("10.1.1.1", "registry.lan") + hostDoc("192.168.1.50");
        expect(run(talosctlApplyScript(plan), plan, { n: patched14 + others }).calls.filter((call) => call.includes("host"))).to.deep.equal([]);
        expect(run(talosctlRevertScript(plan), plan, { n: others }).calls).to.deep.equal(["patch n auto", "  unhost-192.168.1.50.yaml", "health n"]);
    });
});

describe("talosctl drift check", () => {
    const live = { "10.0.0.2": node13(), "10.0.0.3": fresh };
    const check = (extra: Record<string, string>) => run(talosctlDriftCheckScript(plan13), plan13, live, { TALOS_DRY_RUN: "false", ...extra });

    it("passes while every node has every setting, and changes nothing", () => {
        const inSync = run(talosctlDriftCheckScript(plan13), plan13, { "10.0.0.2": node13() }, { TALOS_DRY_RUN: "true" });
        expect([inSync.exitCode, inSync.calls]).to.deep.equal([0, []]);
    });

    it("counts a node with a stale CA path or a missing flag as lost, not only one without the issuer", () => {
        const args = oidcApiServerArgs(contract13);
        const { "oidc-username-prefix": _, ...withoutPrefix } = args;
        for (const node of [node13({ ...args, "oidc-ca-file": "/etc/kubernetes/oidc/old.pem" }), node13(withoutPrefix), patched13]) {
            const drifted = run(talosctlDriftCheckScript(plan13), plan13, { "10.0.0.2": node }, { TALOS_DRY_RUN: "true" });
            expect(drifted.exitCode, node).to.equal(1);
            expect(drifted.stderr).to.contain("node(s) 10.0.0.2 lost");
        }
    });

    it("fails, naming the node that lost them and how to re-apply, without touching a node", () => {
        const lost = check({});
        expect(lost.exitCode).to.equal(1);
        expect(lost.stderr).to.contain("node(s) 10.0.0.3 lost").and.contain("PLATFORM_AUTH_TALOS_REPAIR=1 pulumi up");
        expect(lost.calls).to.deep.equal([]);
    });

    it("with PLATFORM_AUTH_TALOS_REPAIR=1, a preview only says so, and `pulumi up` re-applies to that node alone", () => {
        const preview = check({ TALOS_REPAIR: "1", TALOS_DRY_RUN: "true" });
        expect([preview.exitCode, preview.calls, preview.stdout.trim()]).to.deep.equal([0, [], "talos: pulumi up re-applies the OIDC settings to 10.0.0.3"]);
        const repair = check({ TALOS_REPAIR: "1" });
        expect(repair.exitCode).to.equal(0);
        expectNodeByNode(repair.calls, ["10.0.0.3"]);
    });
});
