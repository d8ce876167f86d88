// The doctor's serving-side checks, as pure functions: each takes what main.ts
// fetched or ran (outputs, HTTPS answers, kubectl results) and says pass or
// fail, and for a failure, the fix. A bare "Unauthorized" has many causes;
// these tell them apart from the outside, in the order a login walks them.
import type { Exposure } from "../config/types";
import { parseJson, parseStackOutputs, type StackOutputs } from "./stack";

export type Status = "pass" | "fail" | "skip";

export interface CheckResult {
    name: string;
    status: Status;
    detail: string;
    fix?: string;
}

/** The status runCommand gives a program that is not on PATH, as a shell does. */
export const NOT_FOUND = 127;

export interface CommandResult {
    status: number;
    stdout: string;
    stderr: string;
    timedOut?: boolean;
}

/** An HTTPS GET's answer, or why there was none (Node's error code: ECONNREFUSED, UNABLE_TO_VERIFY_LEAF_SIGNATURE, …). */
export type HttpAnswer = { status: number; body: string } | { error: string; code?: string };

/** The checks' names, in the order they run; the e2e finds the lines by them. */
export const CHECKS = {
    outputs: "the stack outputs are readable",
    discovery: "the issuer's discovery document is reachable and names the issuer",
    jwks: "the issuer serves its signing keys (JWKS)",
    deployment: "Dex's Deployment is available",
    route: "Dex's HTTPRoute is Accepted by its Gateway",
    ingress: "Dex's Ingress has an address",
    kubelogin: "kubelogin is installed",
    kubeconfig: "your kubeconfig user matches the outputs",
    whoami: "the apiserver accepts your cached login",
} as const;

export const pass = (name: string, detail: string): CheckResult => ({ name, status: "pass", detail });
export const fail = (name: string, detail: string, fix: string): CheckResult => ({ name, status: "fail", detail, fix });
/** Not run: its input is missing (an earlier check failed), or it does not apply. */
export const skip = (name: string, detail: string): CheckResult => ({ name, status: "skip", detail });

export function firstLine(text: string): string {
    return text.trim().split("\n")[0] ?? "";
}

export function outputsCheck(stack: string, result: CommandResult): { result: CheckResult; outputs?: StackOutputs } {
    const name = CHECKS.outputs;
    const fix = `run it in the program's directory, logged in to the stack's backend (\`pulumi login\`), with the stack's name as \`pulumi stack ls\` lists it; a stack that was never deployed has no outputs: \`pulumi up --stack ${stack}\``;
    if (result.status === NOT_FOUND) return { result: fail(name, result.stderr, "install the Pulumi CLI: `eval \"$(bash scripts/setup.sh --with-pulumi)\"`") };
    if (result.status !== 0) return { result: fail(name, firstLine(result.stderr || result.stdout), fix) };
    try {
        const outputs = parseStackOutputs(result.stdout);
        return { result: pass(name, `issuer ${outputs.issuerUrl}, client ${outputs.kubectlClientId}, audience ${outputs.apiServerAudience}`), outputs };
    } catch (error) {
        return { result: fail(name, (error as Error).message, `the stack was deployed by an older version of this program: \`pulumi up --stack ${stack}\``) };
    }
}

const UNTRUSTED = new Set([
    "UNABLE_TO_VERIFY_LEAF_SIGNATURE", "SELF_SIGNED_CERT_IN_CHAIN", "DEPTH_ZERO_SELF_SIGNED_CERT", "UNABLE_TO_GET_ISSUER_CERT",
    "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "CERT_UNTRUSTED", "CERT_SIGNATURE_FAILURE",
]);
const UNREACHABLE = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH"]);

/** Why the issuer gave no document: each failure of the TLS or network path has its own fix. */
function unansweredFix(answer: { error: string; code?: string }, issuerUrl: string, privateCa: boolean): string {
    const host = new URL(issuerUrl).host;
    const code = answer.code ?? "";
    if (UNTRUSTED.has(code)) {
        return privateCa
            ? `${host}'s certificate is not signed by the CA in kubeconfigUser: set issuerCaPem to the root CA that signs it, not the server certificate (mkcert: \`pulumi config set issuerCaPem -- "$(cat "$(mkcert -CAROOT)/rootCA.pem")"\`), \`pulumi up\`, then run setCredentialsCommand again`
            : `${host}'s certificate is not publicly trusted: give the gateway a publicly trusted certificate, or, for a private CA, set issuerCaRequired: true and issuerCaPem, then \`pulumi up\``;
    }
    if (code === "ERR_TLS_CERT_ALTNAME_INVALID") return `the certificate served at ${host} is for another name: give the gateway (or Ingress) a certificate for ${host}`;
    if (code === "CERT_HAS_EXPIRED" || code === "CERT_NOT_YET_VALID") return `the certificate served at ${host} is not valid now: renew it`;
    if (code === "ENOTFOUND" || code === "EAI_AGAIN") return `${host} does not resolve on this machine: add it to DNS (or /etc/hosts), pointing at the gateway`;
    if (UNREACHABLE.has(code)) return `nothing answers at ${issuerUrl}: check Dex's pods (\`kubectl -n dex get pods\`, \`kubectl -n dex logs deploy/dex\`) and the route (below)`;
    return `${issuerUrl} could not be fetched: ${answer.error}`;
}

export function discoveryCheck(outputs: StackOutputs, trust: { caPem?: string; label: string }, answer: HttpAnswer): { result: CheckResult; jwksUri?: string } {
    const name = CHECKS.discovery;
    const url = `${outputs.issuerUrl}/.well-known/openid-configuration`;
    if ("error" in answer) return { result: fail(name, `${url} (trusting ${trust.label}): ${answer.code ?? answer.error}`, unansweredFix(answer, outputs.issuerUrl, trust.caPem !== undefined)) };
    const document = parseJson(answer.body);
    if (answer.status !== 200 || typeof document?.issuer !== "string") {
        return { result: fail(name, `${url} answers HTTP ${answer.status}, not a discovery document`, "the host reaches something other than Dex: check the route (below) and Dex's Service (`kubectl -n dex get endpoints dex`)") };
    }
    if (document.issuer !== outputs.issuerUrl) {
        return { result: fail(name, `Dex names its issuer ${document.issuer}, the stack says ${outputs.issuerUrl}`, "Dex runs a config other than this stack's: `pulumi up`, then check that Dex's pods rolled (`kubectl -n dex rollout status deploy/dex`)") };
    }
    return { result: pass(name, `issuer ${document.issuer}, trusting ${trust.label}`), jwksUri: typeof document.jwks_uri === "string" ? document.jwks_uri : undefined };
}

export function jwksCheck(answer: HttpAnswer): CheckResult {
    const keys = "error" in answer ? undefined : parseJson(answer.body)?.keys;
    if (Array.isArray(keys) && keys.length > 0) return pass(CHECKS.jwks, `${keys.length} key${keys.length > 1 ? "s" : ""}`);
    const detail = "error" in answer ? answer.code ?? answer.error : `HTTP ${answer.status}, no keys`;
    return fail(CHECKS.jwks, detail, "Dex keeps its signing keys in its storage: check its logs (`kubectl -n dex logs deploy/dex`) for errors on signingkeies.dex.coreos.com");
}

/** The fix when kubectl itself failed: the context, the cluster, or the object. */
export function kubectlFailureFix(context: string, result: CommandResult, missing: string): string {
    const text = result.stderr || result.stdout;
    if (result.status === NOT_FOUND) return "install kubectl";
    if (/context.*(does not exist|not found)|no context exists/i.test(text)) {
        return `your kubeconfig has no context "${context}": pass the cluster's admin context with --context, or set it with \`pulumi config set kubernetes:context <context>\``;
    }
    if (/Unable to connect|connection refused|no such host|i\/o timeout/i.test(text)) return `the cluster behind context "${context}" does not answer: check its server address and your network`;
    if (/forbidden/i.test(text)) return `context "${context}" may not read it: use the cluster's admin context (--context)`;
    if (/NotFound|not found|doesn't have a resource type/i.test(text)) return missing;
    return `kubectl failed: ${firstLine(text)}`;
}

export function deploymentCheck(context: string, result: CommandResult): CheckResult {
    const name = CHECKS.deployment;
    if (result.status !== 0) return fail(name, firstLine(result.stderr), kubectlFailureFix(context, result, "Dex's Deployment does not exist: `pulumi up`"));
    const deployment = JSON.parse(result.stdout);
    const available = condition(deployment.status?.conditions, "Available");
    const ready = `${deployment.status?.readyReplicas ?? 0}/${deployment.spec?.replicas ?? "?"} ready`;
    if (available?.status === "True") return pass(name, ready);
    return fail(name, `${ready}${available?.message ? `: ${available.message}` : ""}`, "Dex's pods are not ready: `kubectl -n dex describe deploy/dex` and `kubectl -n dex logs deploy/dex` (Dex exits when its config or storage is wrong)");
}

/** The kubectl resource that serves the issuer's host for this exposure. */
export function exposureResource(exposure: Exposure): string {
    return exposure.kind === "httproute" ? "httproutes.gateway.networking.k8s.io" : "ingresses.networking.k8s.io";
}

export function routeCheck(exposure: Exposure, context: string, result: CommandResult): CheckResult {
    const name = exposure.kind === "httproute" ? CHECKS.route : CHECKS.ingress;
    if (result.status !== 0) return fail(name, firstLine(result.stderr), kubectlFailureFix(context, result, `Dex's ${exposure.kind === "httproute" ? "HTTPRoute" : "Ingress"} (or its API) does not exist: \`pulumi up\``));
    const object = JSON.parse(result.stdout);
    if (exposure.kind === "ingress") {
        const addresses = (object.status?.loadBalancer?.ingress ?? []).map((i: { ip?: string; hostname?: string }) => i.ip ?? i.hostname);
        if (addresses.length > 0) return pass(name, addresses.join(", "));
        return fail(name, "no address in status.loadBalancer", `no ingress controller has taken it: check that the controller of class ${exposure.className} runs`);
    }
    const parents: { parentRef?: { name?: string; namespace?: string }; conditions?: Condition[] }[] = object.status?.parents ?? [];
    const accepted = parents.find((p) => condition(p.conditions, "Accepted")?.status === "True");
    if (accepted) return pass(name, `by ${accepted.parentRef?.namespace ?? "dex"}/${accepted.parentRef?.name}`);
    const refused = parents.map((p) => condition(p.conditions, "Accepted")).find((c) => c !== undefined);
    const gateway = `${exposure.gatewayNamespace}/${exposure.gatewayName}`;
    return fail(
        name,
        refused ? `${refused.reason}: ${refused.message}` : "no Gateway controller has reported on it",
        `check that Gateway ${gateway} exists and its controller runs (\`kubectl -n ${exposure.gatewayNamespace} get gateway ${exposure.gatewayName}\`), and that its listener${exposure.sectionName ? ` ${exposure.sectionName}` : ""} admits routes from namespace dex (allowedRoutes.namespaces)`,
    );
}

interface Condition {
    type: string;
    status: string;
    reason?: string;
    message?: string;
}

function condition(conditions: Condition[] | undefined, type: string): Condition | undefined {
    return (conditions ?? []).find((c) => c.type === type);
}
