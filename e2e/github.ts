// A stand-in for GitHub's REST API at `github:baseUrl`: only what the github
// provider calls to manage an org's teams and memberships, in memory, with
// every call recorded so the suite can assert what it was asked for. Any other
// call answers 404 and is recorded too, so a new provider call shows up as a
// failed check rather than passing silently.
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
    close(): Promise<void>;
}

export async function startGitHubStandIn(org: string): Promise<GitHubStandIn> {
    const orgId = 4242;
    const teams = new Map<number, Team>();
    const members = new Map<number, Map<string, string>>();
    const calls: RecordedCall[] = [];
    let nextTeamId = 100;

    const routes: [string, RegExp, (match: string[], body: Record<string, any>) => [number, unknown]][] = [
        ["GET", /^\/user$/, () => [200, { login: "platform-auth-e2e", id: 1 }]],
        ["GET", /^\/orgs\/([^/]+)$/, ([login]) => (login.toLowerCase() === org.toLowerCase() ? [200, { login: org, id: orgId, type: "Organization" }] : [404, notFound])],
        ["POST", /^\/orgs\/([^/]+)\/teams$/, (_, body) => {
            const id = nextTeamId++;
            const team: Team = { id, node_id: `T_${id}`, slug: String(body.name).toLowerCase(), name: body.name, description: body.description ?? "", privacy: body.privacy ?? "secret", notification_setting: body.notification_setting ?? "notifications_enabled", members_count: 0, parent: null };
            teams.set(id, team);
            members.set(id, new Map());
            return [201, team];
        }],
        ["GET", /^\/organizations\/\d+\/team\/(\d+)$/, ([id]) => withTeam(id, (team) => [200, team])],
        ["PATCH", /^\/organizations\/\d+\/team\/(\d+)$/, ([id], body) => withTeam(id, (team) => [200, Object.assign(team, pick(body, ["name", "description", "privacy", "notification_setting"]))])],
        ["DELETE", /^\/organizations\/\d+\/team\/(\d+)$/, ([id]) => withTeam(id, (team) => (teams.delete(team.id), members.delete(team.id), [204, undefined]))],
        ["GET", /^\/orgs\/[^/]+\/teams\/([^/]+)\/members$/, ([slug]) => {
            const team = [...teams.values()].find((t) => t.slug === slug);
            return team ? [200, [...members.get(team.id)!.keys()].map((login) => ({ login }))] : [404, notFound];
        }],
        ["PUT", /^\/organizations\/\d+\/team\/(\d+)\/memberships\/([^/]+)$/, ([id, login], body) => withTeam(id, (team) => {
            members.get(team.id)!.set(login, body.role ?? "member");
            team.members_count = members.get(team.id)!.size;
            return [200, membership(team, login)];
        })],
        ["GET", /^\/organizations\/\d+\/team\/(\d+)\/memberships\/([^/]+)$/, ([id, login]) => withTeam(id, (team) => (members.get(team.id)!.has(login) ? [200, membership(team, login)] : [404, notFound]))],
        ["DELETE", /^\/organizations\/\d+\/team\/(\d+)\/memberships\/([^/]+)$/, ([id, login]) => withTeam(id, (team) => {
            members.get(team.id)!.delete(login);
            team.members_count = members.get(team.id)!.size;
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
        const [status, payload] = route ? route[2](route[1].exec(path)!.slice(1).map(decodeURIComponent), body ?? {}) : [404, notFound];
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
        close: () => new Promise((resolve) => server.close(() => resolve())),
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
