// Which managed teams GitHub already holds, asked before any resource. A team
// marked `existing` must be there, and is kept on `destroy`. Any other team
// that is there but that the stack's last deployment did not record is
// adopted rather than created again (GitHub would refuse: "Name must be
// unique") only when it is exactly what this stack asks GitHub to create, as
// an interrupted `up` leaves it; a team made by hand differs, and is refused
// until the stack marks it `existing`, so its members and its life stay safe.
import * as github from "@pulumi/github";
import type { ConfigProblem, GitHubTeam } from "../config/types";

export interface LiveTeam {
    id: string;
    description: string;
    privacy: string;
}

/** A team GitHub holds that the stack adopts as it is; `keep` (marked existing) outlives `destroy`. */
export interface ExistingTeam extends LiveTeam {
    keep: boolean;
}

/** The privacy every team this stack creates has. */
export const CREATED_PRIVACY = "closed";

/** The output naming each team's ID by slug, which the next deployment reads back. */
export const TEAM_IDS_OUTPUT = "githubTeamIds";

/** A team as GitHub holds it, or undefined when GitHub has none by that slug. */
export type TeamLookup = (slug: string, provider: github.Provider) => Promise<LiveTeam | undefined>;

/** github.getTeam, with GitHub's 404 meaning "no such team" (any other failure is one). */
export const readTeam: TeamLookup = async (slug, provider) => {
    try {
        const team = await github.getTeam({ slug, summaryOnly: true }, { provider });
        return { id: team.id, description: team.description, privacy: team.privacy };
    } catch (error) {
        // The team's own 404 (the org's would name the org, and fail every other call too).
        if (/\/teams\/[^/\s]+: 404\b/.test(String((error as Error).message))) return undefined;
        throw error;
    }
};

/** `recorded`: the team IDs by slug of the stack's last deployment (its githubTeamIds output). */
/** `recorded`: the team IDs of the stack's last deployment, asked for only when a team is found in GitHub that is not marked `existing`. */
export async function teamsToAdopt(teams: GitHubTeam[], lookup: TeamLookup, provider: github.Provider, recorded: () => Promise<Record<string, string>>) {
    const found: Record<string, ExistingTeam> = {};
    const problems: ConfigProblem[] = [];
    const warnings: string[] = [];
    // Every team at once: each lookup is a round trip to GitHub.
    const lookups = await Promise.allSettled(teams.map((team) => lookup(team.slug, provider)));
    for (const [i, team] of teams.entries()) {
        const answer = lookups[i];
        if (answer.status === "rejected") {
            problems.push({ key: `githubTeams[${i}]`, message: `team "${team.slug}" could not be read from GitHub (${String((answer.reason as Error).message).split("\n")[0]}); check github:baseUrl and GITHUB_TOKEN.` });
            continue;
        }
        const live = answer.value;
        if (team.existing && !live) {
            problems.push({ key: `githubTeams[${i}].existing`, message: `team "${team.slug}" is not in GitHub; create it, or remove \`existing\` to let this stack create it.` });
        } else if (live && team.existing) {
            found[team.slug] = { ...live, keep: true };
        } else if (live && (await recorded())[team.slug] === undefined) {
            if (live.description === team.description && live.privacy === CREATED_PRIVACY) {
                found[team.slug] = { ...live, keep: false };
                warnings.push(`githubTeams[${i}]: team "${team.slug}" exists in GitHub as this stack creates it, but its last deployment did not record it (an interrupted \`pulumi up\`); adopting it rather than creating it again.`);
            } else {
                problems.push({
                    key: `githubTeams[${i}].existing`,
                    message: `team "${team.slug}" already exists in GitHub and was not made by this stack (its description or privacy differ); set \`existing: true\` to adopt it (its members become the configured ones; \`destroy\` keeps it), or pick another slug.`,
                });
            }
        }
    }
    return { found, problems, warnings };
}
