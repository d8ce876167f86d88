// The people of the e2e's GitHub: who they are to GitHub (login, password,
// emails as GitHub lists them, org membership) and to Dex. Team memberships
// are not here: the allowed team's come from the stack config through
// `pulumi up`, like everyone's.

export interface GitHubEmail {
    email: string;
    verified: boolean;
    primary: boolean;
}

export interface GitHubPerson {
    login: string;
    password: string;
    id: number;
    name: string;
    /** What `GET /user` shows: the public profile email, which its owner may set to anything they verified. */
    publicEmail: string | null;
    emails: GitHubEmail[];
    orgMember: boolean;
    /** Teams in other orgs, listed before any team of ours by `GET /user/teams` (30 to a page). */
    otherOrgTeams?: number;
    /** The email Dex must put in the token, by the rule in docs/configuration.md "Which email ends up in your user name" (on github.com). */
    tokenEmail: string;
}

const person = (login: string, id: number, rest: Omit<GitHubPerson, "login" | "password" | "id" | "name">): GitHubPerson => ({ login, password: `${login}-password`, id, name: login, ...rest });
const email = (address: string, verified = true, primary = false): GitHubEmail => ({ email: address, verified, primary });

/** In the allowed team. Public and primary email elsewhere; a verified devantler.tech address besides. */
export const ned = person("ned", 1001, {
    publicEmail: "ned@personal.example",
    emails: [email("ned@personal.example", true, true), email("ned@devantler.tech")],
    orgMember: true,
    tokenEmail: "ned@devantler.tech",
});
/** In the allowed team; GitHub keeps the email as typed, the 1.14 mapping makes it lowercase. */
export const nedMixed = person("ned-mixed", 1002, { publicEmail: null, emails: [email("Ned.Mixed@devantler.tech", true, true)], orgMember: true, tokenEmail: "Ned.Mixed@devantler.tech" });
/** In the allowed team, and in 31 teams of another org before it: the team is on the second page. */
export const paige = person("paige", 1003, { publicEmail: null, emails: [email("paige@devantler.tech", true, true)], orgMember: true, otherOrgTeams: 31, tokenEmail: "paige@devantler.tech" });
/** In the allowed team until the stack config drops her. */
export const rita = person("rita", 1004, { publicEmail: null, emails: [email("rita@devantler.tech", true, true)], orgMember: true, tokenEmail: "rita@devantler.tech" });
/**
 * In the allowed team, with no verified devantler.tech email: her only
 * devantler.tech address is unverified. github.com puts her verified primary
 * email in the token; GitHub Enterprise Server, where Dex counts every email
 * as verified, the unverified devantler.tech one.
 */
export const olive = person("olive", 1005, {
    publicEmail: null,
    emails: [email("olive@example.com", true, true), email("olive@devantler.tech", false)],
    orgMember: true,
    tokenEmail: "olive@example.com",
});
/** In the org, in none of the allowed teams (a team of his own instead). */
export const oscar = person("oscar", 1006, { publicEmail: null, emails: [email("oscar@devantler.tech", true, true)], orgMember: true, tokenEmail: "oscar@devantler.tech" });
/** Not in the org. */
export const mallory = person("mallory", 1007, { publicEmail: "mallory@example.com", emails: [email("mallory@example.com", true, true)], orgMember: false, tokenEmail: "mallory@example.com" });

/** The allowed team as Dex names it in the groups claim, and both stack files bind (readOnlyGroups). */
export const ALLOWED_GROUP = "devantler-tech:platform";

export const PEOPLE = [ned, nedMixed, paige, rita, olive, oscar, mallory];
/** Who the e2e's stack config puts in the allowed team, besides the stack file's members. */
export const ALLOWED_TEAM_MEMBERS = [ned, nedMixed, paige, rita, olive];

/**
 * Names that YAML 1.1, or go-yaml under Dex, reads as booleans, nulls or
 * numbers when unquoted: GitHub allows each as a team slug or an org login,
 * but for `~` and `.inf`, which the writer must keep all the same.
 */
export const YAML_TRAPS = ["on", "yes", "no", "y", "n", "off", "null", "~", "true", "1_000", "0b1", "0x1f", "1e3", "012", ".inf", "0o12"];
