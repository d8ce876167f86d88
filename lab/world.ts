// The local world a stack is deployed into, shared by the e2e, the sandbox
// (`npm run sandbox`) and the bench: a control plane configured from the
// stack's own Talos patch, the GitHub stand-in people sign in to, and Dex
// started as the cluster holds it. Each piece is the same code in all three;
// what they do with it differs.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeCa, type KeyPair } from "./pki";
import { USER_KEYS } from "./stack-file";
import type { TalosPatchMode } from "../talos/render";
import { makeClusterPki, startCluster, type Cluster, type Kubectl, type Pki } from "./control-plane";
import { runDex, type DexHandle } from "./dex";
import { forgeJwt } from "./jwt";
import { waitFor } from "./processes";
import { startGitHubStandIn, type GitHubStandIn } from "./github";
import type { GitHubStandInOptions } from "./github-types";
import { oscar, PEOPLE } from "./github-people";
import { deployedDex, type EngineContext } from "./deployment";
import { apiServerAuthFlags, mergedMachineConfig } from "./talos-node";
import type { Tools } from "./tools";

/** The OAuth app's credentials, as the stack's user keys set them; the GitHub stand-in has the app registered with them. */
export const OAUTH_APP = { clientId: USER_KEYS.githubClientId, clientSecret: USER_KEYS.githubClientSecret };

export interface ControlPlane {
    cluster: Cluster;
    pki: Pki;
    /** The Talos minor whose config library merged the patch. */
    minor: "1.13" | "1.14";
}

/** etcd and the Kubernetes control plane, the apiserver started with the authentication settings the stack's talosPatch gives a Talos node. */
export async function startControlPlane(tools: Tools, stack: { talosPatch: string; talosPatchMode: TalosPatchMode }, runDir: string, trust: Record<string, string>): Promise<ControlPlane> {
    const pkiDir = join(runDir, "pki");
    mkdirSync(pkiDir, { recursive: true });
    const pki = makeClusterPki(makeCa("cluster CA", pkiDir));
    // Each patch form goes through its own minor's config library.
    const minor = stack.talosPatchMode === "authenticationConfig" ? "1.14" : "1.13";
    const machineConfig = mergedMachineConfig(tools, minor, stack.talosPatch, runDir);
    const cluster = await startCluster(tools, pki, apiServerAuthFlags(machineConfig, runDir), runDir, trust);
    return { cluster, pki, minor };
}

/** The GitHub stand-in with the org's people, one of them (oscar) in a team of the org that no stack admits. */
export async function startGitHub(org: string, ca: KeyPair & { dir: string }, callbackUrl: string, listen?: GitHubStandInOptions["listen"]): Promise<GitHubStandIn> {
    const github = await startGitHubStandIn({ org, ca, people: PEOPLE, oauthApp: { ...OAUTH_APP, callbackUrl }, listen });
    github.makeTeam("outsiders", { [oscar.login]: "member" });
    return github;
}

/** Dex as the cluster holds it: its config and environment from the Secrets and the Deployment, its ServiceAccount's token for storage. */
export async function startDeployedDex(ctx: EngineContext, kubectl: Kubectl, dexBinary: string, tls: { leaf: KeyPair; caPem: string }, trust: Record<string, string>): Promise<DexHandle> {
    const token = kubectl(ctx.cluster.adminKubeconfig, "create", "token", "dex", "-n", "dex", "--duration=24h");
    if (token.status !== 0) throw new Error(`could not mint Dex's ServiceAccount token: ${token.stderr}`);
    const deployed = deployedDex(ctx);
    return runDex(
        dexBinary,
        deployed.configYaml,
        {
            kubeconfig: ctx.cluster.kubeconfig("dex", { name: "dex", user: { token: token.stdout.trim() } }, "dex"),
            tlsCert: tls.leaf.certFile,
            tlsKey: tls.leaf.keyFile,
            env: deployed.env,
            files: deployed.files,
            trust,
        },
        ctx.runDir,
        tls.caPem,
    );
}

/** The keys an operator sets beyond the stack file: the app, the apiserver's address and CA (a whole kubeconfig output), and the GitHub server with its CA. */
export function operatorKeys(cluster: Cluster, pki: Pki, github?: { baseUrl: string; caPem: string }): Record<string, string> {
    return {
        ...USER_KEYS,
        apiServerUrl: cluster.server,
        apiServerCaPem: pki.ca.certPem,
        ...(github ? { "github:baseUrl": github.baseUrl, githubCaPem: github.caPem } : {}),
    };
}

/** Sets the status a Gateway controller would: Accepted by each parent the route names. */
export function acceptRoute({ kubectl, cluster }: EngineContext): void {
    const get = (...args: string[]) => JSON.parse(kubectl(cluster.adminKubeconfig, "get", ...args, "-o", "json").stdout);
    const route = get("httproutes.gateway.networking.k8s.io", "dex", "-n", "dex");
    const parents = route.spec.parentRefs.map((parentRef: { name: string; namespace: string }) => {
        const gatewayClass = get("gateways.gateway.networking.k8s.io", parentRef.name, "-n", parentRef.namespace).spec.gatewayClassName;
        return {
            parentRef,
            controllerName: get("gatewayclasses.gateway.networking.k8s.io", gatewayClass).spec.controllerName,
            conditions: [{ type: "Accepted", status: "True", reason: "Accepted", message: "set in the Gateway controller's place (none runs here)", observedGeneration: route.metadata.generation, lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, "Z") }],
        };
    });
    const patched = kubectl(cluster.adminKubeconfig, "patch", "httproutes.gateway.networking.k8s.io", "dex", "-n", "dex", "--subresource=status", "--type=merge", "-p", JSON.stringify({ status: { parents } }));
    if (patched.status !== 0) throw new Error(`setting the route's status failed: ${patched.stderr}`);
}

/**
 * Waits until the apiserver has loaded `issuer`'s keys: it reviews a token for
 * that issuer signed by another key, and answers "not initialized" until then
 * (an event of the apiserver's, not a fixed wait).
 */
export async function issuerLoaded(cluster: Cluster, kubectl: Kubectl, issuer: string, audience: string, runDir: string): Promise<void> {
    const review = join(runDir, "issuer-probe.json");
    const token = forgeJwt({ iss: issuer, aud: [audience], sub: "probe", email: "probe@invalid", email_verified: true });
    writeFileSync(review, JSON.stringify({ apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: { token } }));
    await waitFor(
        `the apiserver to load the keys of ${issuer}`,
        () => {
            const answer = kubectl(cluster.adminKubeconfig, "create", "-f", review, "-o", "json");
            const error = answer.status === 0 ? (JSON.parse(answer.stdout).status?.error as string | undefined) : undefined;
            return error !== undefined && !/not initialized/.test(error) ? true : undefined;
        },
        120_000,
        cluster.apiServer,
    );
}
