// tls-issuer: Dex's issuer is in its config, the apiserver's only in the Talos
// patch: the patchYaml that TalosApiServerPatch registers as its output (stack
// policies see each resource's outputs, so this works even when no nodes are
// configured), and the settings the talosctl Command hands the node agent
// (TALOS_OWNED) when they are. The patch is read back through talos/read.ts,
// the one inverse of how the program writes it, so the two forms (1.13 flags,
// 1.14 document) cannot drift apart between the program and this rule.
import type { StackValidationPolicy } from "@pulumi/policy";
import { readApiServerOidc } from "../../talos/read";
import { dexConfigs } from "./dex-config";
import { type Finding, label, message, obj, type Resource, RULES, str } from "./resource";

export const TALOS_PATCH_TYPE = "platform-auth:auth:TalosApiServerPatch";
export const COMMAND_TYPE = "command:local:Command";

/** The OIDC issuer URLs a Talos patch (a YAML stream) or the node agent's settings (JSON) make the apiserver trust. */
export function apiServerIssuers(r: Resource): string[] {
    // Unknown during a preview (or no patch at all): nothing to compare yet.
    if (r.type === TALOS_PATCH_TYPE) return readApiServerOidc(str(r.props.patchYaml) ?? "").map((settings) => settings.issuerUrl);
    const owned = r.type === COMMAND_TYPE ? str(obj(r.props.environment).TALOS_OWNED) : undefined;
    try {
        const issuer = owned === undefined ? undefined : str(obj(JSON.parse(owned)).issuerUrl);
        return issuer === undefined ? [] : [issuer];
    } catch {
        return [];
    }
}

export function checkTlsIssuer(resources: Resource[]): Finding[] {
    const dex = resources.flatMap((r) => dexConfigs(r).map(([, config]) => ({ resource: r, issuer: str(config.issuer) })));
    const api = resources.flatMap((r) => apiServerIssuers(r).map((issuer) => ({ resource: r, issuer })));
    const findings: Finding[] = [];
    const report = (resource: Resource, problem: string, fix: string) => findings.push({ resource, message: message(RULES.issuer, resource, problem, fix) });
    const https = "use an https:// issuer; kubelogin and the apiserver send and verify tokens only over TLS";
    for (const d of dex) if (d.issuer !== undefined && !d.issuer.startsWith("https://")) report(d.resource, `sets Dex's issuer to "${d.issuer}", which is not https://`, https);
    for (const a of api) if (!a.issuer.startsWith("https://")) report(a.resource, `sets the apiserver's OIDC issuer to "${a.issuer}", which is not https://`, https);
    const dexIssuers = [...new Set(dex.map((d) => d.issuer).filter((i): i is string => i !== undefined))];
    // Without a Dex config in the stack there is nothing to compare against.
    if (dexIssuers.length > 0) {
        const where = [...new Set(dex.map((d) => label(d.resource)))].join(", ");
        for (const a of api.filter((a) => !dexIssuers.includes(a.issuer))) {
            report(
                a.resource,
                `makes the apiserver trust issuer "${a.issuer}", but Dex (${where}) issues tokens as "${dexIssuers.join('", "')}"`,
                "derive both from the one OIDC contract (contract/contract.ts); the strings must be equal byte for byte, trailing slash included",
            );
        }
    }
    return findings;
}

export const tlsIssuerPolicy: StackValidationPolicy = {
    name: RULES.issuer,
    description: "Dex's issuer and the apiserver's OIDC issuer are https:// and equal.",
    enforcementLevel: "mandatory",
    validateStack: (args, reportViolation) => {
        for (const f of checkTlsIssuer(args.resources)) reportViolation(f.message, f.resource.urn);
    },
};
