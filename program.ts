// Wires the OIDC login path: config -> contract -> Dex, GitHub, Talos patch,
// RBAC and kubeconfig. Every party reads the one contract, so none can drift.
import { loadConfig } from "./config/load";
import { Dex } from "./dex/component";
import { GitHubTeams } from "./github/component";
import { ReadOnlyRbac } from "./rbac/component";
import { TalosApiServerPatch } from "./talos/component";
import { oidcContract } from "./contract/contract";
import { dexCallbackUrl, dexConfig } from "./dex/config";
import { kubeconfigUserYaml, oidcLoginSetupCommand, setContextCommand, setCredentialsCommand } from "./kubeconfig/render";
import { clusterReaderRules, readOnlySubjects } from "./rbac/rules";
import { talosPatchMode } from "./talos/render";

export function platformAuth() {
    // Validate everything first: a bad value must stop the run before any resource exists.
    const config = loadConfig();
    const contract = oidcContract(config);
    const host = new URL(contract.issuerUrl).host;

    const github = new GitHubTeams("github", {
        teams: config.githubTeams,
        issuerUrl: contract.issuerUrl,
        callbackUrl: dexCallbackUrl(contract),
    });
    new Dex("dex", {
        config: dexConfig({
            contract,
            githubOrg: config.githubOrg,
            teamSlugs: config.githubTeams.map((t) => t.slug),
            tokenLifetimes: config.tokenLifetimes,
        }),
        host,
        githubClientId: config.githubClientId,
        githubClientSecret: config.githubClientSecret,
        replicas: config.dexReplicas,
        exposure: config.exposure,
    });
    const talos = new TalosApiServerPatch("talos", { contract, version: config.talosVersion, nodes: config.talosNodes });
    new ReadOnlyRbac("rbac", {
        clusterReaderRules: clusterReaderRules(config.readOnlyApiGroups),
        subjects: readOnlySubjects(contract, config.readOnlyUsers, config.readOnlyGroups),
    });

    return {
        issuerUrl: contract.issuerUrl,
        kubectlClientId: contract.clientId,
        apiServerAudience: contract.audience,
        kubeconfigUser: kubeconfigUserYaml(contract, config.stack),
        setCredentialsCommand: setCredentialsCommand(contract, config.stack),
        setContextCommand: setContextCommand(config.stack, config.kubeconfigCluster),
        oidcLoginSetupCommand: oidcLoginSetupCommand(contract),
        talosPatch: talos.patchYaml,
        talosPatchMode: talosPatchMode(config.talosVersion),
        githubOAuthApp: github.oauthApp,
    };
}
