// Dex's config file as Dex reads it: YAML 1.1, where unquoted names such as
// on, yes or 0b1 are booleans or numbers (the real Dex binary reads the same
// names in the e2e), and the GitHub port its egress must allow.
import { expect } from "chai";
import { isScalar, parseDocument, visit } from "yaml";
import { oidcContract } from "../contract/contract";
import { dexConfig, dexConfigYaml } from "./config";
import { githubPort } from "./objects";
import { readDexConfig } from "./read";
import { YAML_TRAPS } from "../lab/github-people";


const LIFETIMES = { idToken: "1h", refreshTokenIdle: "24h", refreshTokenAbsolute: "720h" };

describe("Dex's config file", () => {
    for (const org of ["devantler-tech", "yes", "0b1"]) {
        it(`keeps org "${org}" and every team slug a string for a YAML 1.1 reader`, () => {
            const text = dexConfigYaml(dexConfig({ contract: oidcContract({ domain: "platform.lan" }), githubOrg: org, teamSlugs: YAML_TRAPS, tokenLifetimes: LIFETIMES, deviceFlow: false }));
            expect(readDexConfig(text).connectors[0].config.orgs).to.deep.equal([{ name: org, teams: YAML_TRAPS }]);
        });
    }

    // go-yaml, under Dex, also reads Go's own number syntax (0o12) that no YAML 1.1 reader here knows: quoting is the guarantee.
    it("writes every string in double quotes, keys aside", () => {
        const text = dexConfigYaml(dexConfig({ contract: oidcContract({ domain: "platform.lan" }), githubOrg: "yes", teamSlugs: YAML_TRAPS, tokenLifetimes: LIFETIMES, deviceFlow: true }));
        const plain: string[] = [];
        visit(parseDocument(text, { version: "1.1" }), {
            Pair: (_, pair) => void (isScalar(pair.value) && typeof pair.value.value === "string" && pair.value.type !== "QUOTE_DOUBLE" && plain.push(String(pair.value.value))),
            Seq: (_, seq) => void seq.items.forEach((item) => isScalar(item) && typeof item.value === "string" && item.type !== "QUOTE_DOUBLE" && plain.push(String(item.value))),
        });
        expect(plain).to.deep.equal([]);
        expect(text).to.include('- "0o12"');
    });

    it("GitHub's port for Dex's egress: 443 unless an Enterprise Server's host names another, none for github.com", () => {
        expect(githubPort(undefined)).to.equal(undefined);
        expect(githubPort("ghe.devantler.tech")).to.equal(443);
        expect(githubPort("ghe.devantler.tech:8443")).to.equal(8443);
    });
});
