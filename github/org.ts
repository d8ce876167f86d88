// The org as GitHub spells it, asked before any resource. GitHub's URLs ignore
// case, so the provider would manage the teams of "DevAntler-Tech" all the
// same; but Dex's connector compares the org's login exactly
// (`t.Org.Login == orgName`) and puts the configured spelling in the groups
// claim, so any other capitals would refuse every person and bind RBAC to
// groups no token carries.
import * as github from "@pulumi/github";
import type { ConfigProblem } from "../config/types";

/** The org's login as GitHub holds it. */
export type OrgLookup = (org: string, provider: github.Provider) => Promise<string>;

/** github.getOrganization, summary only: one call, no list of repositories or members. */
export const readOrgLogin: OrgLookup = async (org, provider) => (await github.getOrganization({ name: org, summaryOnly: true }, { provider })).login;

/** What is wrong with `githubOrg` against GitHub's login for it, if anything. */
export function orgLoginProblems(configured: string, login: string): ConfigProblem[] {
    if (login === configured) return [];
    return [
        {
            key: "githubOrg",
            message: `is "${configured}", but GitHub spells the org "${login}", and Dex compares the login exactly (its groups claim too); set githubOrg and github:owner to "${login}" (\`pulumi config set githubOrg ${login}\`, \`pulumi config set github:owner ${login}\`), and write the groups in readOnlyGroups as "${login}:<team>".`,
        },
    ];
}

/** Reads the org's login and checks `githubOrg` against it; a failed read is a problem of its own. */
export async function checkOrg(configured: string, lookup: OrgLookup, provider: github.Provider): Promise<ConfigProblem[]> {
    try {
        return orgLoginProblems(configured, await lookup(configured, provider));
    } catch (error) {
        return [{ key: "githubOrg", message: `org "${configured}" could not be read from GitHub (${String((error as Error).message).split("\n")[0]}); check the name, github:baseUrl and GITHUB_TOKEN.` }];
    }
}
