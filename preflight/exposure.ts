// Whether the cluster can serve Dex the way `exposure` asks, checked before
// any resource exists. Without it a missing Gateway API or ingress class shows
// up only at `pulumi up`, after Dex is deployed, as an unknown kind or a route
// that never attaches.
import type { ConfigProblem, Exposure } from "../config/types";
import { CannotAskCluster, jsonBody, type ClusterGet } from "./cluster";

export interface PreflightResult {
    problems: ConfigProblem[];
    /** Checks that could not run (no access, a plugin-based login); the run goes on. */
    warnings: string[];
}

const GATEWAY_API = "/apis/gateway.networking.k8s.io/v1";
const INGRESS_CLASSES = "/apis/networking.k8s.io/v1/ingressclasses";

export async function checkExposure(exposure: Exposure, context: string, get: ClusterGet): Promise<PreflightResult> {
    const result: PreflightResult = { problems: [], warnings: [] };
    const where = `the cluster of kubernetes:context ${context}`;
    try {
        if (exposure.kind === "httproute") await checkGateway(exposure, where, get, result);
        else await checkIngressClass(exposure.className, where, get, result);
    } catch (error) {
        if (!(error instanceof CannotAskCluster)) throw error;
        result.warnings.push(`could not check exposure against ${where} (${error.message}); a missing Gateway API or ingress class will only show at \`pulumi up\`.`);
    }
    return result;
}

async function checkGateway(exposure: Extract<Exposure, { kind: "httproute" }>, where: string, get: ClusterGet, result: PreflightResult): Promise<void> {
    const api = await get(GATEWAY_API);
    const discovery = api.status === 200 ? jsonBody(api.body) : undefined;
    // Neither served (404) nor an apiserver's discovery document (an error, a proxy's page): only a warning.
    if (api.status !== 404 && discovery === undefined) return denied(result, where, GATEWAY_API, api.status);
    if (api.status === 404 || !(discovery!.resources ?? []).some((r: { name: string }) => r.name === "httproutes")) {
        result.problems.push({
            key: "exposure",
            message: `is an httproute, but ${where} does not serve HTTPRoute (gateway.networking.k8s.io/v1); install the Gateway API CRDs and a Gateway, or set exposure to { kind: ingress, className: <class> }.`,
        });
        return;
    }
    const path = `${GATEWAY_API}/namespaces/${exposure.gatewayNamespace}/gateways/${exposure.gatewayName}`;
    const gateway = await get(path);
    if (gateway.status === 404) {
        result.problems.push({
            key: "exposure.gatewayName",
            message: `names Gateway "${exposure.gatewayName}" in namespace "${exposure.gatewayNamespace}", which ${where} does not have; Dex's HTTPRoute would never be accepted. Name an existing Gateway (kubectl get gateways -A).`,
        });
    } else if (gateway.status !== 200) {
        denied(result, where, path, gateway.status);
    }
}

async function checkIngressClass(className: string, where: string, get: ClusterGet, result: PreflightResult): Promise<void> {
    const path = `${INGRESS_CLASSES}/${className}`;
    const ingressClass = await get(path);
    if (ingressClass.status === 404) {
        const list = await get(INGRESS_CLASSES);
        const known = list.status === 200 ? (jsonBody(list.body)?.items ?? []).map((i: { metadata: { name: string } }) => i.metadata.name) : [];
        result.problems.push({
            key: "exposure.className",
            message: `"${className}" is not an IngressClass of ${where}${known.length ? `; it has ${known.join(", ")}` : ""}. Set exposure.className to one it has, or use { kind: httproute, ... }.`,
        });
    } else if (ingressClass.status !== 200) {
        denied(result, where, path, ingressClass.status);
    }
}

function denied(result: PreflightResult, where: string, path: string, status: number): void {
    result.warnings.push(`could not check exposure: ${where} answered ${status} for GET ${path}.`);
}
