// The GitHub side: what GitHub's API can manage, and the exact values for what
// it cannot. OAuth apps cannot be created through the API, so their client ID
// and secret arrive as stack config; this component only says where to
// register the app. The teams it manages are the ones whose membership Dex
// turns into the `<org>:<team>` groups claim.
import * as github from "@pulumi/github";
import * as pulumi from "@pulumi/pulumi";
import type { GitHubTeam } from "../config/types";

export interface GitHubTeamsArgs {
    teams: GitHubTeam[];
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
            const created = new github.Team(
                `${name}-${team.slug}`,
                { name: team.slug, description: team.description, privacy: "closed" },
                { parent: this },
            );
            for (const member of team.members) {
                new github.TeamMembership(
                    `${name}-${team.slug}-${member.username.toLowerCase()}`,
                    { teamId: created.id, username: member.username, role: member.role },
                    { parent: this },
                );
            }
        }
        this.registerOutputs({ oauthApp: this.oauthApp });
    }
}
