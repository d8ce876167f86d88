// What every rule shares: the plain resource shape they read, the rule names,
// forgiving accessors for props that may be missing or unknown at preview, and
// one message format, so every violation names the resource and its fix alike.
import { runtime } from "@pulumi/pulumi";

/** What every rule reads of a resource; CrossGuard's PolicyResource and ResourceValidationArgs both fit. */
export interface Resource {
    type: string;
    name: string;
    props: Record<string, unknown>;
    urn?: string;
}

/** A stack-level violation, reported against `resource` (the binding, the patch...). */
export interface Finding {
    resource: Resource;
    message: string;
}

export const RULES = {
    readOnly: "oidc-read-only-access",
    credentials: "no-plaintext-credentials",
    issuer: "tls-issuer",
    podSecurity: "pod-security-restricted",
    networkPeers: "dex-network-peers",
} as const;

export type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
export const obj = (v: unknown): Obj => (isObj(v) ? v : {});
export const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
export const strings = (v: unknown): string[] => list(v).filter((s): s is string => typeof s === "string");
/** A known string; during a preview, computed values arrive as the engine's unknown sentinel. */
export const str = (v: unknown): string | undefined => (typeof v === "string" && v !== runtime.unknownValue ? v : undefined);

/** `kubernetes:apps/v1:Deployment` -> "Deployment"; undefined for anything not from the Kubernetes provider. */
export function kindOf(r: Resource): string | undefined {
    return r.type.startsWith("kubernetes:") ? r.type.slice(r.type.lastIndexOf(":") + 1) : undefined;
}

export const objectName = (r: Resource) => str(obj(r.props.metadata).name) ?? r.name;
export const namespaceOf = (r: Resource) => str(obj(r.props.metadata).namespace) ?? "default";

/** How messages name a resource: kind/name for Kubernetes objects, type/name otherwise. */
export function label(r: Resource): string {
    return `${kindOf(r) ?? r.type.slice(r.type.lastIndexOf(":") + 1)}/${objectName(r)}`;
}

export function message(rule: string, r: Resource, problem: string, fix: string): string {
    return `${rule}: ${label(r)} ${problem}. Fix: ${fix}.`;
}
