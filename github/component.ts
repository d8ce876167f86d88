// The GitHub side: what GitHub's API can manage, and the exact values for what
// it cannot. OAuth apps cannot be created through the API, so their client ID
// and secret arrive as stack config; this component only says where to
// register the app. The teams it manages are the ones whose membership Dex
// turns into the `<org>:<team>` groups claim, so their membership is the stack
// config's, whole: TeamMembers is authoritative, and a member added in
// GitHub's web UI is removed by the next `up`.
import * as github from "@pulumi/github";
import * as pulumi from "@pulumi/pulumi";
import type { GitHubTeam } from "../config/types";

/** A team that existed before the stack, as GitHub holds it: the program adopts it as it is. */
export interface ExistingTeam {
    id: string;
    description: string;
    privacy: string;
}

export interface GitHubTeamsArgs {
    teams: GitHubTeam[];
    /** By slug, the teams marked `existing`, looked up before any resource. */
    existing: Record<string, ExistingTeam>;
    issuerUrl: string;
    callbackUrl: string;
}

export interface OAuthAppRegistration {
    homepageUrl: string;
    callbackUrl: string;
}

export class GitHubTeams extends pulumi.ComponentResource {
    readonly oauthApp: OAuthAppRegistration;

    constructor(name: string, args: GitHubTeamsArgs, opts?: pulumi.ComponentResourceOptions) {
        // Formerly GitHubOrg: the alias lets existing stacks keep their teams instead of recreating them.
        super("platform-auth:auth:GitHubTeams", name, {}, { ...opts, aliases: [...(opts?.aliases ?? []), { type: "platform-auth:auth:GitHubOrg" }] });
        this.oauthApp = { homepageUrl: args.issuerUrl, callbackUrl: args.callbackUrl };
        for (const team of args.teams) {
            const existing = args.existing[team.slug];
            const created = new github.Team(
                `${name}-${team.slug}`,
                // An adopted team keeps its description and privacy: only its membership is the stack's.
                { name: team.slug, description: existing?.description ?? team.description, privacy: existing?.privacy ?? "closed" },
                // Its repository permissions and history are not the stack's to delete.
                { parent: this, ...(existing ? { import: existing.id, retainOnDelete: true } : {}) },
            );
            new github.TeamMembers(
                `${name}-${team.slug}-members`,
                { teamSlug: created.slug, members: team.members.map((m) => ({ username: m.username, role: m.role })) },
                // An adopted team outlives the stack with the members it last had, rather than emptied.
                { parent: this, retainOnDelete: existing !== undefined },
            );
        }
        this.registerOutputs({ oauthApp: this.oauthApp });
    }
}
