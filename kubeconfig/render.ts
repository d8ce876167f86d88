// The client's side of the OIDC contract: the kubelogin exec entry, rendered
// both as a kubeconfig `users[]` item and as the equivalent
// `kubectl config set-credentials` line, from the same argument list so the
// two can never differ.
import { stringify } from "yaml";
import type { OidcContract } from "../contract/contract";

const EXEC_API_VERSION = "client.authentication.k8s.io/v1";
/** kubelogin opens a browser on first use; it needs no terminal input. */
const EXEC_INTERACTIVE_MODE = "IfAvailable";

/** Scopes kubelogin always asks for on its own; the rest go in --oidc-extra-scope. */
const KUBELOGIN_IMPLICIT_SCOPES = new Set(["openid"]);

/** `kubectl oidc-login get-token …` arguments, after the `kubectl` command. */
export function kubeloginArgs(contract: OidcContract): string[] {
    return [
        "oidc-login",
        "get-token",
        `--oidc-issuer-url=${contract.issuerUrl}`,
        `--oidc-client-id=${contract.clientId}`,
        ...contract.scopes.filter((s) => !KUBELOGIN_IMPLICIT_SCOPES.has(s)).map((s) => `--oidc-extra-scope=${s}`),
        ...(contract.issuerCaPem ? [`--certificate-authority-data=${Buffer.from(contract.issuerCaPem).toString("base64")}`] : []),
    ];
}

function kubeconfigUserName(stack: string): string {
    return `oidc-${stack}`;
}

/** One kubeconfig `users[]` entry. */
export function kubeconfigUser(contract: OidcContract, stack: string) {
    return {
        name: kubeconfigUserName(stack),
        user: {
            exec: {
                apiVersion: EXEC_API_VERSION,
                command: "kubectl",
                args: kubeloginArgs(contract),
                interactiveMode: EXEC_INTERACTIVE_MODE,
                provideClusterInfo: false,
            },
        },
    };
}

export function kubeconfigUserYaml(contract: OidcContract, stack: string): string {
    return stringify(kubeconfigUser(contract, stack), { lineWidth: 0 });
}

/** The same user, created with kubectl; safe to paste into a POSIX shell. */
export function setCredentialsCommand(contract: OidcContract, stack: string): string {
    return [
        "kubectl config set-credentials",
        kubeconfigUserName(stack),
        `--exec-api-version=${EXEC_API_VERSION}`,
        "--exec-command=kubectl",
        `--exec-interactive-mode=${EXEC_INTERACTIVE_MODE}`,
        ...kubeloginArgs(contract).map((arg) => `--exec-arg=${shellQuote(arg)}`),
    ].join(" ");
}

export function setContextCommand(stack: string, cluster: string): string {
    return `kubectl config set-context oidc@${stack} --cluster=${shellQuote(cluster)} --user=${kubeconfigUserName(stack)}`;
}

/** kubelogin's diagnostic walk through the login, with the same client settings. */
export function oidcLoginSetupCommand(contract: OidcContract): string {
    return ["kubectl", ...kubeloginArgs(contract)]
        .map((arg) => (arg === "get-token" ? "setup" : shellQuote(arg)))
        .join(" ");
}

export function shellQuote(arg: string): string {
    return /^[A-Za-z0-9@%+=:,./_-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
