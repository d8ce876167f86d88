// The stack's configuration as the rest of the program sees it: typed, and
// already validated (parse.ts). The lowest layer: it imports nothing of ours.
import type * as pulumi from "@pulumi/pulumi";

export const PROJECT = "platform-auth";

/** Talos minors this program knows how to patch (talos/render.ts picks flags or documents). */
export const KNOWN_TALOS_MINORS = [10, 11, 12, 13, 14] as const;

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
    members: TeamMember[];
}

export type Exposure =
    | { kind: "httproute"; gatewayName: string; gatewayNamespace: string; sectionName?: string }
    | { kind: "ingress"; className: string; tlsSecretName?: string };

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
    tokenLifetimes: TokenLifetimes;
    exposure: Exposure;
    talosVersion: TalosVersion;
    talosNodes: string[];
    /** The kubeconfig cluster entry the generated context points at. */
    kubeconfigCluster: string;
}

export interface ConfigProblem {
    key: string;
    message: string;
}

export class ConfigError extends Error {
    constructor(readonly problems: ConfigProblem[]) {
        super(
            "Invalid stack configuration (nothing was created):\n" +
                problems.map((p) => `  - ${PROJECT}:${p.key}: ${p.message}`).join("\n"),
        );
        this.name = "ConfigError";
    }
}

/** Raw config: key (without the project prefix) to the value as Pulumi stores it; other namespaces keep theirs. */
export type RawConfig = Record<string, string | undefined>;

/** Groups whose objects hold credentials; reading them is not "read-only". */
export const CREDENTIAL_API_GROUPS = ["dex.coreos.com"];

/** Reports one problem with a key; parsing goes on so that every problem is reported at once. */
export type Fail = (key: string, message: string) => void;
