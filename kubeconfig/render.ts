// The client's side of the OIDC contract: the kubelogin exec entry, rendered
// both as a kubeconfig `users[]` item and as the equivalent
// `kubectl config set-credentials` line, from the same argument list so the
// two can never differ; and, when the apiserver's address and CA are known,
// a whole kubeconfig file, so a read-only user needs nothing from the admin's.
import { stringify } from "yaml";
import type { ApiServerEndpoint } from "../config/types";
import type { OidcContract } from "../contract/contract";
import { shellQuote } from "../config/shell";

const EXEC_API_VERSION = "client.authentication.k8s.io/v1";
/** kubelogin opens a browser or prints a URL; it needs no terminal input. */
const EXEC_INTERACTIVE_MODE = "IfAvailable";

/** Scopes kubelogin always asks for on its own; the rest go in --oidc-extra-scope. */
const KUBELOGIN_IMPLICIT_SCOPES = new Set(["openid"]);

/** How a person logs in: with a browser on this machine, or on another device (SSH sessions, CI runners). */
export type LoginFlow = "browser" | "headless";

const FLOWS: Record<LoginFlow, { userSuffix: string; args: string[] }> = {
    // kubelogin's default: authorization code with PKCE, the redirect caught on localhost:8000 (18000 when 8000 is taken).
    browser: { userSuffix: "", args: [] },
    // The device flow: there is no browser to open here, so kubelogin prints Dex's verification URL and waits.
    headless: { userSuffix: "-headless", args: ["--grant-type=device-code", "--skip-open-browser"] },
};

/** `kubectl oidc-login get-token …` arguments, after the `kubectl` command. */
export function kubeloginArgs(contract: OidcContract, flow: LoginFlow): string[] {
    return [
        "oidc-login",
        "get-token",
        `--oidc-issuer-url=${contract.issuerUrl}`,
        `--oidc-client-id=${contract.clientId}`,
        ...contract.scopes.filter((s) => !KUBELOGIN_IMPLICIT_SCOPES.has(s)).map((s) => `--oidc-extra-scope=${s}`),
        ...(contract.issuerCaPem ? [`--certificate-authority-data=${Buffer.from(contract.issuerCaPem).toString("base64")}`] : []),
        ...FLOWS[flow].args,
    ];
}

function kubeconfigUserName(stack: string, flow: LoginFlow): string {
    return `oidc-${stack}${FLOWS[flow].userSuffix}`;
}

function contextName(stack: string): string {
    return `oidc@${stack}`;
}

/** One kubeconfig `users[]` entry. */
export function kubeconfigUser(contract: OidcContract, stack: string, flow: LoginFlow) {
    return {
        name: kubeconfigUserName(stack, flow),
        user: {
            exec: {
                apiVersion: EXEC_API_VERSION,
                command: "kubectl",
                args: kubeloginArgs(contract, flow),
                interactiveMode: EXEC_INTERACTIVE_MODE,
                provideClusterInfo: false,
            },
        },
    };
}

export function kubeconfigUserYaml(contract: OidcContract, stack: string, flow: LoginFlow): string {
    return stringify(kubeconfigUser(contract, stack, flow), { lineWidth: 0 });
}

/** The same user, created with kubectl; safe to paste into a POSIX shell. */
export function setCredentialsCommand(contract: OidcContract, stack: string, flow: LoginFlow): string {
    return [
        "kubectl config set-credentials",
        kubeconfigUserName(stack, flow),
        `--exec-api-version=${EXEC_API_VERSION}`,
        "--exec-command=kubectl",
        `--exec-interactive-mode=${EXEC_INTERACTIVE_MODE}`,
        ...kubeloginArgs(contract, flow).map((arg) => `--exec-arg=${shellQuote(arg)}`),
    ].join(" ");
}

/** Joins the browser user to a cluster entry the user's kubeconfig must already have. */
export function setContextCommand(stack: string, cluster: string): string {
    return `kubectl config set-context ${contextName(stack)} --cluster=${shellQuote(cluster)} --user=${kubeconfigUserName(stack, "browser")}`;
}

/** A whole kubeconfig: the cluster (address and CA), the browser user, and the context joining them, made current. */
export function kubeconfigFile(contract: OidcContract, stack: string, cluster: string, apiServer: ApiServerEndpoint): string {
    const user = kubeconfigUser(contract, stack, "browser");
    return stringify(
        {
            apiVersion: "v1",
            kind: "Config",
            clusters: [{ name: cluster, cluster: { server: apiServer.url, "certificate-authority-data": Buffer.from(apiServer.caPem).toString("base64") } }],
            users: [user],
            contexts: [{ name: contextName(stack), context: { cluster, user: user.name } }],
            "current-context": contextName(stack),
        },
        { lineWidth: 0 },
    );
}

/** kubelogin's diagnostic walk through the browser login, with the same client settings. */
export function oidcLoginSetupCommand(contract: OidcContract): string {
    return ["kubectl", ...kubeloginArgs(contract, "browser")]
        .map((arg) => (arg === "get-token" ? "setup" : shellQuote(arg)))
        .join(" ");
}
