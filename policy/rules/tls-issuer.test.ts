// The apiserver's side comes from the real program (runStack), so these tests
// read the patch exactly as the program writes it, in both Talos forms.
import { runtime } from "@pulumi/pulumi";
import { expect } from "chai";
import { readApiServerOidc } from "../../talos/read";
import { dexConfigYaml, k8s } from "../test/fixtures";
import { editTalosPatch, patchOf, programResources, talosPatchHolders } from "../test/harness";
import { label, RULES } from "./resource";
import { apiServerIssuers, checkTlsIssuer, COMMAND_TYPE } from "./tls-issuer";

const ISSUER = "https://dex.platform.lan";
/** The local stack with a control-plane node, so the patch reaches the talosctl Command too. */
const withNode = (talosVersion: "v1.13" | "v1.14") => programResources("local", { talosNodes: '["10.0.0.2"]', talosVersion });

describe("policy: tls-issuer", () => {
    const forms: ["v1.13" | "v1.14", string][] = [
        ["v1.13", "extraArgs"],
        ["v1.14", "authenticationConfig"],
    ];
    for (const [version, mode] of forms) {
        it(`reads the apiserver issuer from the program's Talos component and talosctl Command (${version}: ${mode})`, async () => {
            const holders = talosPatchHolders(await withNode(version));
            expect(holders.map(label)).to.have.members(["TalosApiServerPatch/talos", "Command/talos-apply"]);
            for (const holder of holders) expect(apiServerIssuers(holder), label(holder)).to.deep.equal([ISSUER]);
            const component = holders.find((h) => h.type !== COMMAND_TYPE)!;
            expect(readApiServerOidc(patchOf(component)).map((s) => s.mode)).to.deep.equal([mode]);
        });
    }

    it("reads no apiserver issuer from a patch unknown during a preview, or not a string, and so reports nothing", async () => {
        const resources = await withNode("v1.14");
        expect(resources.flatMap(apiServerIssuers)).to.have.length(2);
        editTalosPatch(resources, () => runtime.unknownValue);
        expect(resources.flatMap(apiServerIssuers)).to.deep.equal([]);
        expect(checkTlsIssuer(resources)).to.deep.equal([]);
        for (const holder of talosPatchHolders(resources)) holder.props = { patchYaml: 42, environment: runtime.unknownValue };
        expect(resources.flatMap(apiServerIssuers)).to.deep.equal([]);
    });

    it("passes Dex's https issuer equal to the apiserver's, in both patch forms at once", async () => {
        const resources = [...(await withNode("v1.13")), ...talosPatchHolders(await withNode("v1.14"))];
        // Every patch was read, so the pass is a comparison and not an absence.
        expect(resources.flatMap(apiServerIssuers)).to.deep.equal([ISSUER, ISSUER, ISSUER, ISSUER]);
        expect(checkTlsIssuer(resources)).to.deep.equal([]);
    });

    it("fails an http Dex issuer, naming the config's Secret", () => {
        const findings = checkTlsIssuer([k8s("Secret", "dex-config", { stringData: { "config.yaml": dexConfigYaml("$X", "http://dex.example.com") } })]);
        expect(findings.map((f) => f.message)).to.deep.equal([
            `${RULES.issuer}: Secret/dex-config sets Dex's issuer to "http://dex.example.com", which is not https://. Fix: use an https:// issuer; kubelogin and the apiserver send and verify tokens only over TLS.`,
        ]);
    });

    it("fails an apiserver issuer that differs from Dex's, even by a trailing slash, naming the patch", async () => {
        const resources = await programResources("local", { talosVersion: "v1.14" });
        editTalosPatch(resources, (patch) => patch.replace(ISSUER, `${ISSUER}/`));
        const findings = checkTlsIssuer(resources);
        expect(findings).to.have.length(1);
        expect(findings[0].message).to.contain("TalosApiServerPatch/talos").and.contain(`trust issuer "${ISSUER}/"`);
    });

    it("fails an http apiserver issuer without any Dex config, naming the Command", async () => {
        const command = (await withNode("v1.13")).filter((r) => r.type === COMMAND_TYPE);
        editTalosPatch(command, (patch) => patch.replace(ISSUER, "http://dex.platform.lan"));
        const findings = checkTlsIssuer(command);
        expect(findings).to.have.length(1);
        expect(findings[0].message).to.contain("Command/talos-apply").and.contain('"http://dex.platform.lan", which is not https://');
    });
});
