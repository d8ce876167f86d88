// The stack's configuration as the rest of the program sees it: typed, and
// already validated (parse.ts). The lowest layer: it imports nothing of ours.
import * as pulumi from "@pulumi/pulumi";

export const PROJECT = "platform-auth";

/** Talos minors this program knows how to patch (talos/render.ts picks flags or documents). */
export const KNOWN_TALOS_MINORS = [10, 11, 12, 13, 14] as const;

/**
 * From this minor Talos configures the apiserver with an AuthenticationConfiguration
 * document instead of `oidc-*` flags (talos/render.ts), and its username mapping
 * lowercases the email, which the flags cannot.
 */
export const FIRST_TALOS_MINOR_WITH_AUTH_DOCUMENT = 14;

/**
 * The Dex release this program is tested with (the e2e builds the same
 * version). By tag: no registry is reachable where it is built, so its digest
 * is not known here (docs/configuration.md, `dexImage`).
 */
export const DEFAULT_DEX_IMAGE = "ghcr.io/dexidp/dex:v2.45.1-distroless";

/** The talosMigration value that confirms moving a stack's nodes from the 1.13 flags to the 1.14 document. */
export const TALOS_MIGRATION_TO_1_14 = "1.13-to-1.14";

export interface TalosVersion {
    major: 1;
    minor: number;
    /** As written in config, for messages and outputs. */
    text: string;
}

export interface TeamMember {
    username: string;
    role: "member" | "maintainer";
}

export interface GitHubTeam {
    /** The team slug: Dex emits groups as `<org>:<slug>` with `teamNameField: slug`. */
    slug: string;
    description: string;
    /** Exactly the team's members: anyone else is removed on the next `up`. */
    members: TeamMember[];
    /** The team existed before this stack: it is adopted (imported) and never deleted. */
    existing: boolean;
}

export type Exposure =
    | { kind: "httproute"; gatewayName: string; gatewayNamespace: string; sectionName?: string; proxyNamespace: string }
    | { kind: "ingress"; className: string; tlsSecretName?: string; controllerNamespace: string };

/** Where users reach the apiserver, and the CA of its TLS (public, like the address). */
export interface ApiServerEndpoint {
    url: string;
    caPem: string;
}

export interface TokenLifetimes {
    idToken: string;
    refreshTokenIdle: string;
    refreshTokenAbsolute: string;
}

export interface PlatformAuthConfig {
    stack: string;
    domain: string;
    githubOrg: string;
    githubTeams: GitHubTeam[];
    githubClientId: string;
    githubClientSecret: pulumi.Output<string>;
    readOnlyUsers: string[];
    /** `<org>:<team>` as Dex emits them, without the apiserver's prefix. */
    readOnlyGroups: string[];
    /** Extra API groups (CRDs of the platform) that cluster-reader may read. */
    readOnlyApiGroups: string[];
    issuerCaPem?: string;
    dexReplicas: number;
    /** Dex's image: DEFAULT_DEX_IMAGE, or `repo:tag@sha256:<digest>` for a mirror. */
    dexImage: string;
    /** The namespace allowed to scrape Dex's metrics; none when unset. */
    monitoringNamespace?: string;
    tokenLifetimes: TokenLifetimes;
    exposure: Exposure;
    talosVersion: TalosVersion;
    talosNodes: string[];
    /** The address dex.<domain> resolves to on the control-plane nodes, when their DNS does not know it. */
    issuerAddress?: string;
    /** talosMigration confirms the 1.13 → 1.14 move (flags reverted, document applied, node by node). */
    talosMigrationConfirmed: boolean;
    /** Take over same-named objects another field manager owns (the manual setup), instead of refusing. */
    adoptExisting: boolean;
    /**
     * kubelogin's device flow for sessions without a browser. Off by default: Dex's
     * approval screen is one global switch, and a device code someone else started
     * must never yield a person's tokens without it.
     */
    deviceFlow: boolean;
    /** The kubeconfig cluster entry the generated context points at. */
    kubeconfigCluster: string;
    /** With it, the outputs include a whole kubeconfig file; without it, users need the cluster entry already. */
    apiServer?: ApiServerEndpoint;
    /** Dex's GitHub connector puts a verified email of this domain in the token, whatever the public profile says. */
    preferredEmailDomain?: string;
    /** The kubeconfig context the explicit kubernetes provider (and the preflight) use. */
    kubernetesContext: string;
    /** A GitHub Enterprise Server, for both the github provider and Dex's connector; github.com when unset. */
    githubServer?: GitHubServer;
}

export interface GitHubServer {
    /** `github:baseUrl` as set: the provider's API base URL. */
    baseUrl: string;
    /** `<host>[:port]`: Dex's connector `hostName`. */
    host: string;
    /** The server's private root CA (githubCaPem), which Dex trusts for it. */
    caPem?: string;
}

export interface ConfigProblem {
    key: string;
    message: string;
}

/** A RunError: Pulumi prints its message alone, as a refusal, not as a crash with a stack trace. */
export class ConfigError extends pulumi.RunError {
    constructor(readonly problems: ConfigProblem[]) {
        super(
            "Invalid stack configuration (nothing was created):\n" +
                // Provider keys carry their own namespace (kubernetes:context); the program's get the project's.
                problems.map((p) => `  - ${p.key.includes(":") ? "" : `${PROJECT}:`}${p.key}: ${p.message}`).join("\n"),
        );
        this.name = "ConfigError";
    }
}

/** Raw config: key (without the project prefix) to the value as Pulumi stores it; other namespaces keep theirs. */
export type RawConfig = Record<string, string | undefined>;

/** Groups whose objects hold credentials; reading them is not "read-only". */
export const CREDENTIAL_API_GROUPS = ["dex.coreos.com"];

/** Existing objects adoptExisting takes over, each as `adoptionKey(kind, name)`; preflight/existing.ts finds them. */
export type AdoptedObjects = ReadonlySet<string>;

export function adoptionKey(kind: string, name: string): string {
    return `${kind}/${name}`;
}

/**
 * Metadata to spread into an object the program takes over: the provider's
 * patchForce lets its apply win the field conflicts with the old owner. Only
 * adopted objects get it, so a conflict anywhere else still stops the run.
 */
export function adoptionMetadata(adopted: AdoptedObjects, kind: string, name: string): { annotations?: Record<string, string> } {
    return adopted.has(adoptionKey(kind, name)) ? { annotations: { "pulumi.com/patchForce": "true" } } : {};
}

/** Reports one problem with a key; parsing goes on so that every problem is reported at once. */
export type Fail = (key: string, message: string) => void;
