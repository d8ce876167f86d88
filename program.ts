// Wires the OIDC login path: config -> contract -> Dex, GitHub, Talos patch,
// RBAC and kubeconfig. Every party reads the one contract, so none can drift.
import * as github from "@pulumi/github";
import * as k8s from "@pulumi/kubernetes";
import { appendFileSync } from "node:fs";
import * as pulumi from "@pulumi/pulumi";
import { loadConfig } from "./config/load";
import { ConfigError } from "./config/types";
import { Dex } from "./dex/component";
import { readTeam, TEAM_IDS_OUTPUT, teamsToAdopt, type TeamLookup } from "./github/adopt";
import { GitHubTeams } from "./github/component";
import { checkOrg, readOrgLogin, type OrgLookup } from "./github/org";
import { ReadOnlyRbac } from "./rbac/component";
import { TalosApiServerPatch } from "./talos/component";
import { oidcContract } from "./contract/contract";
import { dexCallbackUrl, dexConfig, DEVICE_FLOW_WHY } from "./dex/config";
import { githubPort } from "./dex/objects";
import { kubeconfigFile, kubeconfigUserYaml, oidcLoginSetupCommand, setContextCommand, setCredentialsCommand } from "./kubeconfig/render";
import { clusterReaderRules, readOnlySubjects } from "./rbac/rules";
import { clusterGet, type ClusterGet } from "./preflight/cluster";
import { checkExposure } from "./preflight/exposure";
import { checkExisting } from "./preflight/existing";
import { talosPatchMode } from "./talos/render";
import { driftMessage, inspectTalosNodes, SETTINGS_OUTPUT, settingsDigest } from "./talos/inspect";
import { agentEnvironment } from "./talos/plan";

/** How the program asks the target cluster questions before creating anything; tests pass a stand-in. */
export type ClusterAccess = (context: string) => ClusterGet;

export async function platformAuth(cluster: ClusterAccess = clusterGet, teamLookup: TeamLookup = readTeam, orgLookup: OrgLookup = readOrgLogin) {
    const phases = phaseClock(process.env.PLATFORM_AUTH_PHASES);
    // Validate the config first: a bad value stops the run before any resource exists (the cluster's
    // and GitHub's answers below come after the two providers, whose plugins start meanwhile).
    const config = loadConfig();
    phases.mark("config");
    // Explicit providers only (the stack files disable the defaults): every object goes to the
    // configured context and org, never to whatever the ambient kubeconfig or token points at.
    // Made first, so that the engine starts their plugins while the program asks its questions.
    const kubernetes = new k8s.Provider("kubernetes", {
        context: config.kubernetesContext,
        // Secrets change in place: replacing one with a fixed name deletes it first, and for that
        // window Dex's config or credentials would not exist. The pod template's digests roll Dex.
        enableSecretMutable: true,
    });
    const githubApi = new github.Provider("github", { owner: config.githubOrg, baseUrl: config.githubServer?.baseUrl });
    const contract = oidcContract(config);
    const host = new URL(contract.issuerUrl).host;
    // The stack's own last deployment: what it applied to the nodes and which teams it holds. Read
    // only when a decision needs it: on a file backend, a stack's first update may still be writing
    // the checkpoint this would read (and a preview reads what the update would).
    let lastDeployment: pulumi.StackReference | undefined;
    const lastOutput = (name: string) => phases.during("stack outputs", (lastDeployment ??= new pulumi.StackReference("previous-deployment", { name: `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}` })).getOutputValue(name));
    const recordedTeams = async () => ((await lastOutput(TEAM_IDS_OUTPUT)) ?? {}) as Record<string, string>;

    // Every question before any object, all at once (each is a round trip): the cluster's
    // preflights; the org as GitHub spells it (Dex compares it exactly); the teams already in
    // GitHub, adopted as GitHub holds them (a missing `existing` one is bad config).
    const get = cluster(config.kubernetesContext);
    const [exposure, existing, orgProblems, existingTeams] = await Promise.all([
        phases.during("preflight", checkExposure(config.exposure, config.kubernetesContext, get)),
        phases.during("preflight", checkExisting(config.exposure, config.adoptExisting, config.kubernetesContext, get)),
        phases.during("github", checkOrg(config.githubOrg, orgLookup, githubApi)),
        phases.during("github", teamsToAdopt(config.githubTeams, teamLookup, githubApi, recordedTeams)),
    ]);
    phases.mark("questions");
    const problems = [...exposure.problems, ...existing.problems, ...orgProblems, ...existingTeams.problems];
    if (problems.length > 0) throw new ConfigError(problems);
    [...exposure.warnings, ...existing.warnings].forEach((warning) => pulumi.log.warn(warning));
    // The nodes are read before anything exists: an unconfirmed migration is refused like bad config.
    const agent = config.talosNodes.length > 0
        ? agentEnvironment(contract, config.talosVersion, config.talosNodes, {
              issuerAddress: config.issuerAddress,
              migrationConfirmed: config.talosMigrationConfirmed,
              kubernetesContext: config.kubernetesContext,
          })
        : undefined;
    const repair = process.env.PLATFORM_AUTH_TALOS_REPAIR === "1";
    if (agent) {
        const inspection = await inspectTalosNodes(agent);
        if (inspection.refusals.length > 0) throw new ConfigError(inspection.refusals);
        if (inspection.notes.length > 0) pulumi.log.info(inspection.notes.join("\n"));
        const drift = driftMessage(inspection, await lastOutput(SETTINGS_OUTPUT), settingsDigest(agent), talosPatchMode(config.talosVersion));
        if (drift && !repair) throw new pulumi.RunError(drift);
        phases.mark("talos nodes");
    }
    if (config.deviceFlow) pulumi.log.info(DEVICE_FLOW_WHY);
    existingTeams.warnings.forEach((warning) => pulumi.log.warn(warning));
    const teams = new GitHubTeams(
        "github",
        {
            teams: config.githubTeams,
            existing: existingTeams.found,
            issuerUrl: contract.issuerUrl,
            callbackUrl: dexCallbackUrl(contract),
        },
        { providers: [githubApi] },
    );
    const dex = new Dex("dex", {
        config: dexConfig({
            contract,
            githubOrg: config.githubOrg,
            teamSlugs: config.githubTeams.map((t) => t.slug),
            tokenLifetimes: config.tokenLifetimes,
            preferredEmailDomain: config.preferredEmailDomain,
            githubServer: config.githubServer && { host: config.githubServer.host, privateCa: config.githubServer.caPem !== undefined },
            deviceFlow: config.deviceFlow,
        }),
        host,
        githubClientId: config.githubClientId,
        githubClientSecret: config.githubClientSecret,
        replicas: config.dexReplicas,
        image: config.dexImage,
        githubCaPem: config.githubServer?.caPem,
        exposure: config.exposure,
        deviceFlow: config.deviceFlow,
        peers: {
            ingressNamespace: config.exposure.kind === "httproute" ? config.exposure.proxyNamespace : config.exposure.controllerNamespace,
            monitoringNamespace: config.monitoringNamespace,
            githubPort: githubPort(config.githubServer?.host),
        },
        adopted: existing.adopted,
    }, { providers: [kubernetes] });
    const rbac = new ReadOnlyRbac(
        "rbac",
        {
            clusterReaderRules: clusterReaderRules(config.readOnlyApiGroups),
            subjects: readOnlySubjects(contract, config.readOnlyUsers, config.readOnlyGroups),
            adopted: existing.adopted,
        },
        { providers: [kubernetes] },
    );
    // The apiserver trusts Dex only once Dex and the bindings exist: no node points at an issuer that is not there.
    const talos = new TalosApiServerPatch(
        "talos",
        {
            contract,
            version: config.talosVersion,
            issuerAddress: config.issuerAddress,
            agent,
            repair,
        },
        { dependsOn: [dex, rbac] },
    );

    phases.mark("registration");
    phases.write();
    return {
        issuerUrl: contract.issuerUrl,
        kubectlClientId: contract.clientId,
        apiServerAudience: contract.audience,
        kubeconfigUser: kubeconfigUserYaml(contract, config.stack, "browser"),
        setCredentialsCommand: setCredentialsCommand(contract, config.stack, "browser"),
        // The device flow's user only where Dex serves it (deviceFlow).
        ...(config.deviceFlow
            ? { kubeconfigUserHeadless: kubeconfigUserYaml(contract, config.stack, "headless"), setCredentialsHeadlessCommand: setCredentialsCommand(contract, config.stack, "headless") }
            : {}),
        setContextCommand: setContextCommand(config.stack, config.kubeconfigCluster),
        // Only with the apiserver's address and CA: without them there is no whole file to give.
        ...(config.apiServer ? { kubeconfig: kubeconfigFile(contract, config.stack, config.kubeconfigCluster, config.apiServer) } : {}),
        oidcLoginSetupCommand: oidcLoginSetupCommand(contract),
        talosPatch: talos.patchYaml,
        talosPatchMode: talosPatchMode(config.talosVersion),
        githubOAuthApp: teams.oauthApp,
        // Read back by the next deployment (github/adopt.ts): the teams this stack holds.
        [TEAM_IDS_OUTPUT]: teams.teamIds,
        // Read back by the next deployment (talos/inspect.ts): what the nodes were given, to tell drift from an update.
        ...(talos.appliedSettings ? { [SETTINGS_OUTPUT]: talos.appliedSettings } : {}),
    };
}

/**
 * How long each phase of a run took, for `npm run bench`: with
 * PLATFORM_AUTH_PHASES naming a file, each run appends one JSON line of
 * milliseconds. `mark` ends a phase of the program's own time line ("load" is
 * the time from the process's start to the program's: the runtime, the SDKs,
 * the program's modules); `during` times one wait, which may overlap others,
 * under "<name> (wait)".
 */
function phaseClock(file: string | undefined) {
    const spent: Record<string, number> = { load: performance.now() };
    let last = performance.now();
    return {
        mark(name: string) {
            const now = performance.now();
            spent[name] = (spent[name] ?? 0) + now - last;
            last = now;
        },
        async during<T>(name: string, promise: Promise<T>): Promise<T> {
            const started = performance.now();
            try {
                return await promise;
            } finally {
                const key = `${name} (wait)`;
                spent[key] = Math.max(spent[key] ?? 0, performance.now() - started);
            }
        },
        write() {
            if (file) appendFileSync(file, `${JSON.stringify(spent)}\n`);
        },
    };
}
