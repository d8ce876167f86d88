// Just enough of a Kubernetes client to ask the target cluster a question
// before any resource exists: the same kubeconfig files and context the
// kubernetes provider uses, client certificates or bearer tokens, and GET.
// Credentials that need a plugin (exec, auth-provider) are not run here; the
// caller is told the cluster could not be asked, and decides.
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";
import { parse } from "yaml";

export interface ClusterAnswer {
    status: number;
    body: string;
}

/** GETs an API path on the cluster, or says why it could not ask. */
export type ClusterGet = (path: string) => Promise<ClusterAnswer>;

export class CannotAskCluster extends Error {}

/** The kubeconfig files in the order kubectl and the provider read them. */
export function kubeconfigPaths(env: NodeJS.ProcessEnv = process.env): string[] {
    return env.KUBECONFIG ? env.KUBECONFIG.split(delimiter).filter(Boolean) : [join(homedir(), ".kube", "config")];
}

/** A GET against the cluster behind `context`, as the kubeconfig files describe it. */
export function clusterGet(context: string, paths = kubeconfigPaths()): ClusterGet {
    const configs = paths.flatMap((path) => {
        try {
            return [parse(readFileSync(path, "utf8")) ?? {}];
        } catch {
            return [];
        }
    });
    const find = (section: string, name: string) => {
        for (const config of configs) {
            const entry = ((config[section] ?? []) as Record<string, any>[]).find((e) => e.name === name);
            if (entry) return entry;
        }
        return undefined;
    };
    const contextEntry = find("contexts", context)?.context;
    if (!contextEntry) return () => Promise.reject(new CannotAskCluster(`no context "${context}" in ${paths.join(", ")}`));
    const cluster = find("clusters", contextEntry.cluster)?.cluster;
    const user = find("users", contextEntry.user)?.user ?? {};
    if (!cluster?.server) return () => Promise.reject(new CannotAskCluster(`context "${context}" names no cluster server`));
    if (user.exec || user["auth-provider"]) return () => Promise.reject(new CannotAskCluster(`context "${context}" authenticates through a plugin`));
    const material = (dataKey: string, fileKey: string, from: Record<string, any>) =>
        from[dataKey] ? Buffer.from(from[dataKey], "base64") : from[fileKey] ? readFileSync(from[fileKey]) : undefined;
    const token = user.token ?? (user.tokenFile ? readFileSync(user.tokenFile, "utf8").trim() : undefined);
    const options = {
        ca: material("certificate-authority-data", "certificate-authority", cluster),
        cert: material("client-certificate-data", "client-certificate", user),
        key: material("client-key-data", "client-key", user),
        rejectUnauthorized: cluster["insecure-skip-tls-verify"] !== true,
        headers: { accept: "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
        timeout: 15_000,
    };
    return (path) =>
        new Promise((resolve, reject) => {
            const req = request(new URL(path, cluster.server), options, (res) => {
                let body = "";
                res.on("data", (chunk) => (body += chunk));
                res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
            });
            req.on("timeout", () => req.destroy(new Error("timed out")));
            req.on("error", (error) => reject(new CannotAskCluster(`${cluster.server}: ${error.message}`)));
            req.end();
        });
}

/** A proxy or login page may answer instead of the apiserver: not JSON is not an answer. */
export function jsonBody(text: string): Record<string, any> | undefined {
    try {
        return JSON.parse(text) as Record<string, any>;
    } catch {
        return undefined;
    }
}
