// What the doctor and revoke read from Pulumi: the stack's outputs (the login
// path as deployed) and the few config values that say where the cluster is.
// Defaults come from the program's own parsers, so a key left unset means here
// what it means to `pulumi up`.
import { parseExposure, parseTokenLifetimes } from "../config/fields";
import type { Exposure } from "../config/types";

/** The outputs the checks compare against; `pulumi stack output --json` gives them. */
export interface StackOutputs {
    issuerUrl: string;
    kubectlClientId: string;
    apiServerAudience: string;
    kubeconfigUser: string;
    setCredentialsCommand: string;
    setContextCommand: string;
    talosPatch: string;
}

const OUTPUT_KEYS: (keyof StackOutputs)[] = ["issuerUrl", "kubectlClientId", "apiServerAudience", "kubeconfigUser", "setCredentialsCommand", "setContextCommand", "talosPatch"];

/** The outputs, or an error naming the missing ones. */
export function parseStackOutputs(json: string): StackOutputs {
    const outputs = JSON.parse(json) as Record<string, unknown>;
    const missing = OUTPUT_KEYS.filter((key) => typeof outputs[key] !== "string");
    if (missing.length > 0) throw new Error(`the stack has no ${missing.join(", ")} output${missing.length > 1 ? "s" : ""}`);
    return outputs as unknown as StackOutputs;
}

export interface StackSettings {
    /** kubernetes:context: the admin context Pulumi deploys with. */
    context?: string;
    exposure?: Exposure;
    /** Dex's ID token lifetime as the stack configures it (tokenLifetimes.idToken, default included). */
    idTokenLifetime?: string;
}

/** The settings from `pulumi config --json`; a value that does not parse is left out (pulumi up would refuse it). */
export function parseStackSettings(json: string): StackSettings {
    const config = JSON.parse(json) as Record<string, { value?: string }>;
    const object = (key: string) => {
        const text = config[`platform-auth:${key}`]?.value;
        return text === undefined ? undefined : parseJson(text);
    };
    const ignore = () => undefined;
    return {
        context: config["kubernetes:context"]?.value,
        exposure: parseExposure(object("exposure"), ignore),
        idTokenLifetime: parseTokenLifetimes(object("tokenLifetimes"), ignore)?.idToken,
    };
}

/** Where the issuer's trust comes from: the CA in the kubeconfigUser output, or the system's roots. */
export function issuerTrust(caPem: string | undefined): { caPem?: string; label: string } {
    return caPem ? { caPem, label: "the CA in kubeconfigUser (issuerCaPem)" } : { label: "the system's trusted roots" };
}

/** JSON text as an object, or undefined for anything else (not JSON, or not an object). */
export function parseJson(text: string): Record<string, any> | undefined {
    try {
        const value = JSON.parse(text);
        return typeof value === "object" && value !== null ? value : undefined;
    } catch {
        return undefined;
    }
}
