// The inverse of render.ts: the login settings a kubeconfig user entry gives
// kubelogin, read back from its YAML. Tests and the e2e compare parties
// through this rather than by picking at exec arguments themselves.
import { parse } from "yaml";

export interface KubeloginSettings {
    userName: string;
    command: string;
    issuerUrl?: string;
    clientId?: string;
    /** Every scope kubelogin will request: its implicit `openid` plus each --oidc-extra-scope. */
    scopes: string[];
    /** The issuer CA kubelogin trusts, decoded from --certificate-authority-data. */
    caPem?: string;
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
        args,
    };
}
