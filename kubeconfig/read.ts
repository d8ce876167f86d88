// The inverse of render.ts: the login settings a kubeconfig user entry gives
// kubelogin, read back from its YAML. Tests and the e2e compare parties
// through this rather than by picking at exec arguments themselves.
import { parse, stringify } from "yaml";

export interface KubeloginSettings {
    userName: string;
    command: string;
    issuerUrl?: string;
    clientId?: string;
    /** Every scope kubelogin will request: its implicit `openid` plus each --oidc-extra-scope. */
    scopes: string[];
    /** The issuer CA kubelogin trusts, decoded from --certificate-authority-data. */
    caPem?: string;
    /** --grant-type; unset, kubelogin runs the browser flow. */
    grantType?: string;
    args: string[];
}

export function readKubeloginUser(userYaml: string): KubeloginSettings {
    const entry = parse(userYaml) as { name: string; user: { exec: { command: string; args: string[] } } };
    const args = entry.user.exec.args;
    const values = (flag: string) => args.filter((a) => a.startsWith(`${flag}=`)).map((a) => a.slice(flag.length + 1));
    const [caData] = values("--certificate-authority-data");
    return {
        userName: entry.name,
        command: entry.user.exec.command,
        issuerUrl: values("--oidc-issuer-url")[0],
        clientId: values("--oidc-client-id")[0],
        scopes: ["openid", ...values("--oidc-extra-scope")],
        caPem: caData === undefined ? undefined : Buffer.from(caData, "base64").toString(),
        grantType: values("--grant-type")[0],
        args,
    };
}

/** What a whole kubeconfig file gives kubectl on its current context: where, trusting which CA, and as whom. */
export interface KubeconfigContext {
    context: string;
    cluster: string;
    server: string;
    /** Decoded from the cluster's certificate-authority-data. */
    caPem: string;
    user: KubeloginSettings;
    /** How many clusters and users the file holds: a standalone file holds exactly what its context needs. */
    entries: { clusters: number; users: number };
}

export function readKubeconfigFile(fileYaml: string): KubeconfigContext {
    const file = parse(fileYaml) as {
        "current-context": string;
        clusters: { name: string; cluster: { server: string; "certificate-authority-data": string } }[];
        users: { name: string }[];
        contexts: { name: string; context: { cluster: string; user: string } }[];
    };
    const named = <T extends { name: string }>(list: T[], name: string, what: string): T => {
        const found = list.find((entry) => entry.name === name);
        if (found === undefined) throw new Error(`the kubeconfig has no ${what} named ${name}`);
        return found;
    };
    const { context } = named(file.contexts, file["current-context"], "context");
    const { cluster } = named(file.clusters, context.cluster, "cluster");
    return {
        context: file["current-context"],
        cluster: context.cluster,
        server: cluster.server,
        caPem: Buffer.from(cluster["certificate-authority-data"], "base64").toString(),
        user: readKubeloginUser(stringify(named(file.users, context.user, "user"))),
        entries: { clusters: file.clusters.length, users: file.users.length },
    };
}
