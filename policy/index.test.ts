// The entry point the CLI runs registers the very list the rules' tests use.
import Module from "node:module";
import type { PolicyPackArgs } from "@pulumi/policy";
import { expect } from "chai";
import { PACK_NAME, policies } from "./rules";
import { RULES } from "./rules/resource";

describe("policy pack: wiring", () => {
    it("policy/index.ts registers exactly the policies of rules/index.ts, under the pack name, as mandatory", () => {
        // PolicyPack starts a gRPC server for the CLI, so swap in a recorder for its module while index loads.
        const modulePath = require.resolve("@pulumi/policy");
        const original = require.cache[modulePath];
        const registered: { name: string; args: PolicyPackArgs }[] = [];
        const fake = new Module(modulePath);
        fake.exports = { PolicyPack: class { constructor(name: string, args: PolicyPackArgs) { registered.push({ name, args }); } } };
        fake.loaded = true;
        require.cache[modulePath] = fake;
        const indexPath = require.resolve("./index");
        try {
            require(indexPath);
        } finally {
            delete require.cache[indexPath];
            if (original) require.cache[modulePath] = original;
            else delete require.cache[modulePath];
        }
        expect(registered).to.have.length(1);
        expect(registered[0].name).to.equal(PACK_NAME);
        expect(registered[0].args.policies).to.equal(policies);
        expect(registered[0].args.enforcementLevel).to.equal("mandatory");
    });

    it("has one mandatory policy per rule name", () => {
        expect(policies.map((p) => p.name)).to.have.members(Object.values(RULES)).and.have.length(Object.values(RULES).length);
        for (const p of policies) expect(p.enforcementLevel, p.name).to.equal("mandatory");
    });
});
