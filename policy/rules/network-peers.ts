// dex-network-peers: Dex's NetworkPolicy admits each port from named peers.
// A rule by ports alone lets any pod in the cluster reach Dex's plain-HTTP
// port and its metrics, past the gateway that terminates TLS; an empty
// selector names every namespace and is no better.
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { isObj, kindOf, list, message, obj, type Resource, RULES, str } from "./resource";

/** The label every Dex pod carries (its own copy, so an edit to the program cannot loosen this guard). */
const DEX_NAME = "dex";

/**
 * A peer that selects something in particular: every selector it has names
 * labels (an empty namespaceSelector beside a podSelector still means every
 * namespace), or an address block narrower than everything.
 */
function namesPeer(peer: unknown): boolean {
    const p = obj(peer);
    const selects = (selector: unknown) => isObj(selector) && (Object.keys(obj(selector.matchLabels)).length > 0 || list(selector.matchExpressions).length > 0);
    const selectors = [p.namespaceSelector, p.podSelector].filter((s) => s !== undefined);
    if (selectors.length > 0) return selectors.every(selects);
    const cidr = str(obj(p.ipBlock).cidr);
    return cidr !== undefined && !cidr.endsWith("/0");
}

export function checkNetworkPeers(r: Resource): string[] {
    if (kindOf(r) !== "NetworkPolicy") return [];
    const spec = obj(r.props.spec);
    if (str(obj(obj(spec.podSelector).matchLabels)["app.kubernetes.io/name"]) !== DEX_NAME) return [];
    return list(spec.ingress).flatMap((rule, i) => {
        const from = list(obj(rule).from);
        if (from.length > 0 && from.every(namesPeer)) return [];
        const ports = list(obj(rule).ports).map((p) => String(obj(p).port)).join(", ") || "every port";
        return [
            message(
                RULES.networkPeers,
                r,
                `lets ingress rule ${i} (${ports}) in from ${from.length === 0 ? "any pod in the cluster" : "a peer that selects everything"}`,
                "name the peers: the gateway's or ingress controller's namespace for the HTTP port, the monitoring namespace for metrics",
            ),
        ];
    });
}

export const networkPeersPolicy: ResourceValidationPolicy = {
    name: RULES.networkPeers,
    description: "Dex's NetworkPolicy admits its ports from named peers only.",
    enforcementLevel: "mandatory",
    validateResource: (args, reportViolation) => checkNetworkPeers(args).forEach((m) => reportViolation(m)),
};
