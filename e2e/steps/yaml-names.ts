// Step 15 (on an Enterprise Server): names Dex would misread. Dex reads its
// config as YAML 1.1, where an unquoted on, yes or 0b1 is a boolean or a
// number and Dex refuses to start. An org named "yes" with teams named after
// every such word, on a second GitHub stand-in, and a second Dex started from
// the program's own rendering of that config (dexConfig, dexConfigYaml) on
// the same cluster's storage: it must start, and its groups claim must carry
// every name as written.
import { oidcContract } from "../../contract/contract";
import { dexConfig, dexConfigYaml, GITHUB_CA } from "../../dex/config";
import { jwtClaims, runDex } from "../../lab/dex";
import { deployedDex, type EngineContext } from "../../lab/deployment";
import { startGitHubStandIn } from "../../lab/github";
import { ned, PEOPLE, YAML_TRAPS } from "../../lab/github-people";
import { GHES_HOST, GHES_PORT, GITHUB_ADDRESS } from "../../lab/namespace";
import type { KeyPair } from "../../lab/pki";
import { run } from "../../lab/processes";
import { expectThat } from "../../lab/report";
import type { ModeContext } from "./context";

const ORG = "yes";
const NAMESPACE = "dex-yaml-names";

export interface YamlNamesTools {
    dexBinary: string;
    /** The issuer's TLS, whose leaf names dex.<domain>; the second Dex serves it on another port. */
    tls: { leaf: KeyPair; caPem: string };
    /** The Enterprise Server's CA (it signs the second stand-in too). */
    githubCa: KeyPair & { dir: string };
    /** The users' environment: kubelogin on PATH. */
    env: NodeJS.ProcessEnv;
    runDir: string;
}

export async function yamlNamesStep(ctx: EngineContext, mode: ModeContext, tools: YamlNamesTools): Promise<void> {
    await mode.report.check(`15. Dex starts with org "${ORG}" and teams named ${YAML_TRAPS.join(", ")}, as the program writes them, and its groups claim carries every name unchanged`, async () => {
        const deployed = deployedDex(ctx);
        const domain = new URL(mode.outputs.issuerUrl).hostname.replace(/^dex\./, "");
        // The deployed Dex has dex.<domain>:443; this one takes another port of the same name.
        const issuerUrl = `https://dex.${domain}:5443`;
        const port = GHES_PORT + 1;
        const github = await startGitHubStandIn({
            org: ORG,
            ca: tools.githubCa,
            people: PEOPLE,
            oauthApp: { clientId: deployed.env.GITHUB_CLIENT_ID, clientSecret: deployed.env.GITHUB_CLIENT_SECRET, callbackUrl: `${issuerUrl}/callback` },
            listen: { address: GITHUB_ADDRESS, port, hosts: [GHES_HOST] },
        });
        try {
            for (const team of YAML_TRAPS) github.makeTeam(team, { [ned.login]: "member" });
            const contract = { ...oidcContract({ domain, issuerCaPem: tools.tls.caPem }), issuerUrl };
            const configYaml = dexConfigYaml(
                dexConfig({ contract, githubOrg: ORG, teamSlugs: YAML_TRAPS, tokenLifetimes: { idToken: "10m", refreshTokenIdle: "1h", refreshTokenAbsolute: "1h" }, githubServer: { host: `${GHES_HOST}:${port}`, privateCa: true }, deviceFlow: false }),
            );
            expectThat(mode.kubectl(mode.cluster.adminKubeconfig, "create", "namespace", NAMESPACE).status === 0, `could not create namespace ${NAMESPACE}`);
            const storage = mode.cluster.kubeconfig(NAMESPACE, { name: NAMESPACE, user: { "client-certificate": mode.pki.admin.certFile, "client-key": mode.pki.admin.keyFile } }, NAMESPACE);
            const dex = await runDex(
                tools.dexBinary,
                configYaml,
                { kubeconfig: storage, tlsCert: tools.tls.leaf.certFile, tlsKey: tools.tls.leaf.keyFile, env: deployed.env, files: { [`${GITHUB_CA.dir}/${GITHUB_CA.file}`]: tools.githubCa.certPem }, trust: {} },
                tools.runDir,
                tools.tls.caPem,
                NAMESPACE,
            );
            try {
                const token = run("kubectl-oidc_login", [
                    "get-token", `--oidc-issuer-url=${issuerUrl}`, `--oidc-client-id=${mode.outputs.kubectlClientId}`, "--oidc-extra-scope=email", "--oidc-extra-scope=groups",
                    `--certificate-authority-data=${Buffer.from(tools.tls.caPem).toString("base64")}`, `--browser-command=${mode.browser.commandFor(ned)}`, `--token-cache-dir=${tools.runDir}/${NAMESPACE}-cache`,
                ], tools.env);
                expectThat(token.status === 0, `kubelogin found no token: ${token.stderr.slice(-400)}`);
                const groups = (jwtClaims(JSON.parse(token.stdout).status.token).groups as string[]).sort();
                const wanted = YAML_TRAPS.map((team) => `${ORG}:${team}`).sort();
                expectThat(JSON.stringify(groups) === JSON.stringify(wanted), `groups ${JSON.stringify(groups)}, wanted ${JSON.stringify(wanted)}`);
                return `groups: ${groups.join(", ")}`;
            } finally {
                await dex.stop();
            }
        } finally {
            await github.close();
            mode.kubectl(mode.cluster.adminKubeconfig, "delete", "namespace", NAMESPACE, "--wait=false");
        }
    });
}
