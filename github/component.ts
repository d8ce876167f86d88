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
import { CREATED_PRIVACY, type ExistingTeam } from "./adopt";



export interface GitHubTeamsArgs {
    teams: GitHubTeam[];
    /** By slug, the teams GitHub holds that the stack adopts, looked up before any resource. */
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
    /** Each team's ID by slug. */
    readonly teamIds: pulumi.Output<Record<string, string>>;

    constructor(name: string, args: GitHubTeamsArgs, opts?: pulumi.ComponentResourceOptions) {
        // Formerly GitHubOrg: the alias lets existing stacks keep their teams instead of recreating them.
        super("platform-auth:auth:GitHubTeams", name, {}, { ...opts, aliases: [...(opts?.aliases ?? []), { type: "platform-auth:auth:GitHubOrg" }] });
        this.oauthApp = { homepageUrl: args.issuerUrl, callbackUrl: args.callbackUrl };
        const ids: Record<string, pulumi.Output<string>> = {};
        for (const team of args.teams) {
            const existing = args.existing[team.slug];
            const created = new github.Team(
                `${name}-${team.slug}`,
                // An adopted team keeps its description and privacy (an import must match what is there); only its membership is the stack's.
                { name: team.slug, description: existing?.description ?? team.description, privacy: existing?.privacy ?? CREATED_PRIVACY },
                // Its repository permissions and history are not the stack's to delete.
                { parent: this, ...(existing ? { import: existing.id, retainOnDelete: existing.keep } : {}) },
            );
            ids[team.slug] = created.id;
            new github.TeamMembers(
                `${name}-${team.slug}-members`,
                { teamSlug: created.slug, members: team.members.map((m) => ({ username: m.username, role: m.role })) },
                // An adopted team outlives the stack with the members it last had, rather than emptied.
                { parent: this, retainOnDelete: existing?.keep ?? false },
            );
        }
        this.teamIds = pulumi.output(ids);
        this.registerOutputs({ oauthApp: this.oauthApp, teamIds: this.teamIds });
    }
}
