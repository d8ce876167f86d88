// What the program owns on a Talos node, in the two forms it is handed out:
// the settings the node agent (agent.ts) composes with each node's live
// config, and the whole patch for people applying it by hand (the
// `talosPatch` output), which can only assume a node that holds nothing else.
import { TALOS_MIGRATION_TO_1_14, type TalosVersion } from "../config/types";
import type { OidcContract } from "../contract/contract";
import type { OwnedSettings } from "./compose";
import {
    authenticationConfiguration,
    caFileEntry,
    caVolumeEntry,
    kubeAuthenticationConfig,
    oidcApiServerArgs,
    oidcFlagNames,
    staticHostDocument,
    talosDefaultAuthentication,
    talosPatchMode,
    toYamlStream,
} from "./render";

/** What the node agent reads: the nodes, what the program owns on them, and the context for their apiservers' metrics. */
export function agentEnvironment(
    contract: OidcContract,
    version: TalosVersion,
    nodes: string[],
    options: { issuerAddress?: string; migrationConfirmed: boolean; kubernetesContext: string },
): Record<string, string> {
    return {
        TALOS_NODES: nodes.join(" "),
        TALOS_OWNED: JSON.stringify(ownedSettings(contract, version, options.issuerAddress, options.migrationConfirmed)),
        TALOS_KUBE_CONTEXT: options.kubernetesContext,
    };
}

export function ownedSettings(contract: OidcContract, version: TalosVersion, issuerAddress: string | undefined, migrationConfirmed: boolean): OwnedSettings {
    const common = {
        issuerUrl: contract.issuerUrl,
        audience: contract.audience,
        ownFlagNames: oidcFlagNames(contract),
        issuerHost: new URL(contract.issuerUrl).hostname,
        issuerAddress,
        migrationConfirmed,
        migrationHint: `\`pulumi config set talosMigration ${TALOS_MIGRATION_TO_1_14}\` (docs/talos.md: Applying the Talos patch)`,
    };
    if (talosPatchMode(version) === "authenticationConfig") {
        const [jwt] = authenticationConfiguration(contract).jwt;
        return { ...common, mode: "authenticationConfig", jwt, defaultAuthentication: talosDefaultAuthentication() };
    }
    const ca = contract.issuerCaPem;
    return {
        ...common,
        mode: "extraArgs",
        flags: oidcApiServerArgs(contract),
        ...(ca ? { caFile: caFileEntry(ca), caVolume: caVolumeEntry() } : {}),
    };
}

/** The `talosPatch` output: the whole patch as one YAML stream. */
export function talosPatchYaml(contract: OidcContract, version: TalosVersion, issuerAddress?: string): string {
    return toYamlStream(talosPatchDocuments(contract, version, issuerAddress));
}

/** The whole patch as one set of documents, for people applying it by hand (the `talosPatch` output). */
export function talosPatchDocuments(contract: OidcContract, version: TalosVersion, issuerAddress?: string): Record<string, unknown>[] {
    const host = issuerAddress === undefined ? [] : [staticHostDocument(issuerAddress, new URL(contract.issuerUrl).hostname)];
    if (talosPatchMode(version) === "authenticationConfig") return [kubeAuthenticationConfig(authenticationConfiguration(contract)), ...host];
    const flags = { cluster: { apiServer: { extraArgs: oidcApiServerArgs(contract) } } };
    const ca = contract.issuerCaPem;
    if (!ca) return [flags, ...host];
    return [{ machine: { files: [caFileEntry(ca)] }, cluster: { apiServer: { ...flags.cluster.apiServer, extraVolumes: [caVolumeEntry()] } } }, ...host];
}
