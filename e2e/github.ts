// A stand-in for GitHub's API at `github:baseUrl`: only what the github
// provider calls to manage an org's teams and memberships (REST, and the one
// GraphQL query TeamMembers reads a team's direct members with), in memory,
// with every call recorded so the suite can assert what it was asked for. Any
// other call answers 404 and is recorded too, so a new provider call shows up
// as a failed check rather than passing silently. The suite can also act as
// a person in GitHub's web UI: make a team, add a member.
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedCall {
    method: string;
    path: string;
    body?: Record<string, unknown>;
    status: number;
}

interface Team {
    id: number;
    node_id: string;
    slug: string;
    name: string;
    description: string;
    privacy: string;
    notification_setting: string;
    members_count: number;
    parent: null;
}

export interface GitHubStandIn {
    /** The value for `github:baseUrl`. */
    baseUrl: string;
    calls: RecordedCall[];
    /** Team slug to its members' logins and roles, as the stand-in holds them now. */
    teams(): Record<string, Record<string, string>>;
    /** As a person in GitHub's web UI: a team made outside any stack, with its members. */
    makeTeam(slug: string, members: Record<string, string>): void;
    /** As a team maintainer in the web UI: adds someone to a team. */
    addMember(slug: string, login: string): void;
    /** Slugs of the teams made by makeTeam, which no destroy may delete. */
    madeByHand(): string[];
    /**
     * Holds GitHub's answer to the next creation of team `slug` (the team is created):
     * `arrived` resolves when the request is in, and the answer goes out on `release()`.
     */
    holdCreate(slug: string): { arrived: Promise<void>; release(): void };
    close(): Promise<void>;
}

export async function startGitHubStandIn(org: string): Promise<GitHubStandIn> {
    const orgId = 4242;
    const teams = new Map<number, Team>();
    const members = new Map<number, Map<string, string>>();
    const calls: RecordedCall[] = [];
    let nextTeamId = 100;
    const byHand = new Set<string>();
    const holds = new Map<string, { arrive(): void; released: Promise<void> }>();
    const createTeam = (name: string, description: string, privacy: string): Team => {
        const id = nextTeamId++;
        const team: Team = { id, node_id: `T_${id}`, slug: name.toLowerCase(), name, description, privacy, notification_setting: "notifications_enabled", members_count: 0, parent: null };
        teams.set(id, team);
        members.set(id, new Map());
        return team;
    };
    const bySlug = (slug: string) => [...teams.values()].find((t) => t.slug === slug);
    const setMember = (team: Team, login: string, role: string | undefined) => {
        if (role === undefined) members.get(team.id)!.delete(login);
        else members.get(team.id)!.set(login, role);
        team.members_count = members.get(team.id)!.size;
    };

    type Answer = [number, unknown] | Promise<[number, unknown]>;
    const routes: [string, RegExp, (match: string[], body: Record<string, any>) => Answer][] = [
        ["GET", /^\/user$/, () => [200, { login: "platform-auth-e2e", id: 1 }]],
        ["GET", /^\/orgs\/([^/]+)$/, ([login]) => (login.toLowerCase() === org.toLowerCase() ? [200, { login: org, id: orgId, type: "Organization" }] : [404, notFound])],
        ["POST", /^\/orgs\/([^/]+)\/teams$/, async (_, body) => {
            const slug = String(body.name).toLowerCase();
            // As GitHub answers a second team of the same name.
            if (bySlug(slug)) return [422, { message: "Validation Failed", errors: [{ resource: "Team", code: "custom", field: "name", message: "Name must be unique for this org" }] }];
            const team = createTeam(String(body.name), body.description ?? "", body.privacy ?? "secret");
            const hold = holds.get(slug);
            if (hold) {
                holds.delete(slug);
                hold.arrive();
                await hold.released;
            }
            return [201, team];
        }],
        ["GET", /^\/orgs\/[^/]+\/teams\/([^/]+)$/, ([slug]) => {
            const team = bySlug(slug);
            return team ? [200, team] : [404, notFound];
        }],
        ["PUT", /^\/orgs\/[^/]+\/teams\/([^/]+)\/memberships\/([^/]+)$/, ([slug, login], body) => {
            const team = bySlug(slug);
            if (!team) return [404, notFound];
            setMember(team, login, body.role ?? "member");
            return [200, membership(team, login)];
        }],
        ["DELETE", /^\/orgs\/[^/]+\/teams\/([^/]+)\/memberships\/([^/]+)$/, ([slug, login]) => {
            const team = bySlug(slug);
            if (!team) return [404, notFound];
            setMember(team, login, undefined);
            return [204, undefined];
        }],
        // TeamMembers reads a team's direct members with GraphQL (GitHub Enterprise Server serves it at /api/graphql).
        ["POST", /^\/(?:api\/)?graphql$/, (_, body) => {
            const team = bySlug(String(body.variables?.slug ?? ""));
            const edges = team ? [...members.get(team.id)!].map(([login, role]) => ({ node: { login }, role: role.toUpperCase() })) : [];
            const found = team ? { members: { edges, pageInfo: { endCursor: null, hasNextPage: false } } } : null;
            return [200, { data: { organization: { team: found } } }];
        }],
        ["GET", /^\/organizations\/\d+\/team\/(\d+)$/, ([id]) => withTeam(id, (team) => [200, team])],
        ["PATCH", /^\/organizations\/\d+\/team\/(\d+)$/, ([id], body) => withTeam(id, (team) => [200, Object.assign(team, pick(body, ["name", "description", "privacy", "notification_setting"]))])],
        ["DELETE", /^\/organizations\/\d+\/team\/(\d+)$/, ([id]) => withTeam(id, (team) => (teams.delete(team.id), members.delete(team.id), [204, undefined]))],
        ["GET", /^\/orgs\/[^/]+\/teams\/([^/]+)\/members$/, ([slug]) => {
            const team = [...teams.values()].find((t) => t.slug === slug);
            return team ? [200, [...members.get(team.id)!.keys()].map((login) => ({ login }))] : [404, notFound];
        }],
        ["PUT", /^\/organizations\/\d+\/team\/(\d+)\/memberships\/([^/]+)$/, ([id, login], body) => withTeam(id, (team) => {
            setMember(team, login, body.role ?? "member");
            return [200, membership(team, login)];
        })],
        ["GET", /^\/organizations\/\d+\/team\/(\d+)\/memberships\/([^/]+)$/, ([id, login]) => withTeam(id, (team) => (members.get(team.id)!.has(login) ? [200, membership(team, login)] : [404, notFound]))],
        ["DELETE", /^\/organizations\/\d+\/team\/(\d+)\/memberships\/([^/]+)$/, ([id, login]) => withTeam(id, (team) => {
            setMember(team, login, undefined);
            return [204, undefined];
        })],
    ];
    const notFound = { message: "Not Found" };
    const withTeam = (id: string, then: (team: Team) => [number, unknown]): [number, unknown] => {
        const team = teams.get(Number(id));
        return team ? then(team) : [404, notFound];
    };
    const membership = (team: Team, login: string) => ({ url: `/organizations/${orgId}/team/${team.id}/memberships/${login}`, role: members.get(team.id)!.get(login), state: "active" });

    const server: Server = createServer(async (req, res) => {
        const body = await readJson(req);
        // GitHub Enterprise Server paths carry /api/v3; the provider uses that form for any non-github.com base URL.
        const path = new URL(req.url ?? "/", "http://stand-in").pathname.replace(/^\/api\/v3/, "").replace(/\/$/, "");
        const route = routes.find(([method, pattern]) => method === req.method && pattern.test(path));
        const [status, payload] = route ? await route[2](route[1].exec(path)!.slice(1).map(decodeURIComponent), body ?? {}) : [404, notFound];
        calls.push({ method: req.method ?? "", path, body, status });
        res.writeHead(status, { "content-type": "application/json", etag: `"${calls.length}"` });
        res.end(payload === undefined ? undefined : JSON.stringify(payload));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    return {
        baseUrl: `http://127.0.0.1:${port}/`,
        calls,
        teams: () => Object.fromEntries([...teams.values()].map((t) => [t.slug, Object.fromEntries(members.get(t.id)!)])),
        makeTeam: (slug, people) => {
            const team = createTeam(slug, "Made by hand in GitHub", "secret");
            Object.entries(people).forEach(([login, role]) => setMember(team, login, role));
            byHand.add(slug);
        },
        addMember: (slug, login) => setMember(bySlug(slug)!, login, "member"),
        madeByHand: () => [...byHand],
        holdCreate: (slug) => {
            let arrive = () => {};
            let release = () => {};
            const arrived = new Promise<void>((resolve) => (arrive = resolve));
            holds.set(slug, { arrive, released: new Promise<void>((resolve) => (release = resolve)) });
            return { arrived, release: () => release() };
        },
        // Keep-alive connections (a killed engine's orphaned provider) would hold close() open.
        close: () => new Promise((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
        }),
    };
}

function pick(body: Record<string, unknown>, keys: string[]): Record<string, unknown> {
    return Object.fromEntries(keys.filter((k) => body[k] !== undefined).map((k) => [k, body[k]]));
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown> | undefined> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString();
    return text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
}
