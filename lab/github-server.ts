// The GitHub stand-in's server (see github.ts): it runs in a worker thread,
// so that it keeps answering while the suite's main thread waits on a
// synchronous kubectl whose login goes through it.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import { isMainThread, parentPort, workerData, type MessagePort } from "node:worker_threads";
import { makeLeaf } from "./pki";
import { loginForm, page, paged, pick, readBody, redact, type Answer } from "./github-http";
import type { GitHubStandInOptions, MembershipChange, RecordedCall } from "./github-types";
import type { GitHubPerson } from "./github-people";
import { GITHUB_ADDRESS, GITHUB_HOSTS } from "./namespace";

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

const notFound = { message: "Not Found" };

/** What the main thread may ask of the server, by name (github.ts). */
export type Operations = ReturnType<typeof serve> extends Promise<infer T> ? T : never;

async function serve({ org, ca, people, oauthApp, listen = { address: GITHUB_ADDRESS, port: 443, hosts: GITHUB_HOSTS } }: GitHubStandInOptions, onArrived: (slug: string) => void) {
    const tls = makeLeaf(ca, "github", "/CN=github", listen.hosts.map((h) => `DNS:${h}`).join(","));
    const orgId = 4242;
    const teams = new Map<number, Team>();
    const members = new Map<number, Map<string, string>>();
    const calls: RecordedCall[] = [];
    const memberships: MembershipChange[] = [];
    let nextTeamId = 100;
    const byHand = new Set<string>();
    const holds = new Map<string, { arrive(): void; released: Promise<void> }>();
    const releases = new Map<string, () => void>();
    const clientSecrets = new Set([oauthApp.clientSecret]);
    const codes = new Map<string, { login: string; scope: string; redirectUri: string }>();
    const tokens = new Map<string, { login: string; scopes: string[] }>();
    let outage: number | undefined;

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
        memberships.push({ at: Date.now(), slug: team.slug, login, role });
    };
    const person = (login: string) => people.find((p) => p.login.toLowerCase() === login.toLowerCase());
    const withTeam = (id: string, then: (team: Team) => Answer): Answer => {
        const team = teams.get(Number(id));
        return team ? then(team) : [404, notFound];
    };
    const membership = (team: Team, login: string) => ({ url: `/organizations/${orgId}/team/${team.id}/memberships/${login}`, role: members.get(team.id)!.get(login), state: "active" });

    // What the github provider calls, with the org owner's token.
    const providerRoutes: [string, RegExp, (match: string[], body: Record<string, any>) => Answer | Promise<Answer>][] = [
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
            const team = bySlug(slug);
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

    /** The teams `GET /user/teams` lists for a person: other orgs' first, then ours they are a member of. */
    const teamsOf = (who: GitHubPerson) => [
        ...Array.from({ length: who.otherOrgTeams ?? 0 }, (_, i) => ({ name: `Guild ${i + 1}`, slug: `guild-${i + 1}`, organization: { login: "other-org" } })),
        ...[...teams.values()].filter((t) => members.get(t.id)!.has(who.login)).map((t) => ({ id: t.id, name: t.name, slug: t.slug, organization: { login: org } })),
    ];

    // What Dex's connector calls, with a person's token and the scopes they granted.
    const personRoutes: [RegExp, (match: string[], who: GitHubPerson, scopes: string[], page: URL) => Answer][] = [
        [/^\/user$/, (_, who) => [200, { login: who.login, id: who.id, name: who.name, email: who.publicEmail }]],
        [/^\/user\/emails$/, (_, who, scopes) => (scopes.includes("user:email") ? [200, who.emails] : [404, notFound])],
        [/^\/user\/teams$/, (_, who, scopes, url) => (scopes.includes("read:org") ? paged(teamsOf(who), url) : [403, { message: "Resource not accessible by integration" }])],
        // Private membership is visible to a member with read:org; anyone else is sent to the public list.
        [/^\/orgs\/([^/]+)\/members\/([^/]+)$/, ([name, login], who, scopes, url) => {
            if (name.toLowerCase() !== org.toLowerCase()) return [404, notFound];
            if (!who.orgMember || !scopes.includes("read:org")) return [302, undefined, { location: url.href.replace("/members/", "/public_members/") }];
            return person(login)?.orgMember ? [204, undefined] : [404, notFound];
        }],
        [/^\/orgs\/[^/]+\/public_members\/[^/]+$/, () => [404, notFound]],
    ];

    const web = (req: IncomingMessage, url: URL, form: Record<string, string>): Answer | undefined => {
        const path = url.pathname;
        if (req.method === "GET" && path === "/login/oauth/authorize") {
            const params = Object.fromEntries(url.searchParams);
            if (params.client_id !== oauthApp.clientId) return [404, page("Not Found", "No OAuth app has this client ID.")];
            // GitHub accepts the registered callback URL or a path below it.
            if (!(params.redirect_uri ?? oauthApp.callbackUrl).startsWith(oauthApp.callbackUrl)) return [400, page("Redirect URI mismatch", `The redirect_uri is not associated with this application: ${params.redirect_uri}`)];
            return [200, loginForm(pick(params, ["client_id", "redirect_uri", "scope", "state"]) as Record<string, string>)];
        }
        if (req.method === "POST" && path === "/session") {
            const who = person(form.login ?? "");
            if (!who || who.password !== form.password) return [401, page("Sign in to GitHub", "Incorrect username or password.")];
            const code = randomBytes(10).toString("hex");
            const redirectUri = form.redirect_uri || oauthApp.callbackUrl;
            codes.set(code, { login: who.login, scope: form.scope ?? "", redirectUri });
            const back = new URL(redirectUri);
            back.searchParams.set("code", code);
            if (form.state) back.searchParams.set("state", form.state);
            return [302, undefined, { location: back.href }];
        }
        if (req.method === "POST" && path === "/login/oauth/access_token") {
            // The app authenticates by HTTP Basic or in the form, as GitHub allows both.
            const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? "")?.[1];
            const [clientId, clientSecret] = basic ? Buffer.from(basic, "base64").toString().split(":").map(decodeURIComponent) : [form.client_id, form.client_secret];
            if (clientId !== oauthApp.clientId || !clientSecrets.has(clientSecret)) return [200, { error: "incorrect_client_credentials", error_description: "The client_id and/or client_secret passed are incorrect." }];
            const grant = codes.get(form.code ?? "");
            codes.delete(form.code ?? "");
            if (!grant || (form.redirect_uri && form.redirect_uri !== grant.redirectUri)) return [200, { error: "bad_verification_code", error_description: "The code passed is incorrect or expired." }];
            const token = `gho_${randomBytes(18).toString("hex")}`;
            tokens.set(token, { login: grant.login, scopes: grant.scope.split(/[ ,]+/).filter(Boolean) });
            return [200, { access_token: token, token_type: "bearer", scope: grant.scope.replace(/ /g, ",") }];
        }
        return undefined;
    };

    const handle = async (req: IncomingMessage, res: ServerResponse) => {
        const text = await readBody(req);
        const isJson = (req.headers["content-type"] ?? "").includes("json");
        const body = text && isJson ? (JSON.parse(text) as Record<string, any>) : undefined;
        const form = text && !isJson ? Object.fromEntries(new URLSearchParams(text)) : {};
        const host = req.headers.host ?? listen.address;
        const url = new URL(req.url ?? "/", `https://${host}`);
        const bearer = /^(?:Bearer|token) (.+)$/i.exec(req.headers.authorization ?? "")?.[1];
        const session = bearer === undefined ? undefined : tokens.get(bearer);
        // GitHub Enterprise Server's API carries /api/v3; api.github.com's has no prefix.
        const path = url.pathname.replace(/^\/api\/v3/, "").replace(/\/$/, "") || "/";
        let answer: Answer | undefined = web(req, url, form);
        if (answer === undefined && session !== undefined) {
            const who = person(session.login)!;
            const route = personRoutes.find(([pattern]) => req.method === "GET" && pattern.test(path));
            answer = outage !== undefined ? [outage, { message: "Server Error" }] : route ? route[1](route[0].exec(path)!.slice(1).map(decodeURIComponent), who, session.scopes, url) : [404, notFound];
        } else if (answer === undefined) {
            const route = providerRoutes.find(([method, pattern]) => method === req.method && pattern.test(path));
            answer = route ? await route[2](route[1].exec(path)!.slice(1).map(decodeURIComponent), body ?? {}) : [404, notFound];
        }
        const [status, payload, headers] = answer;
        calls.push({ method: req.method ?? "", host, path, query: url.search, who: session?.login, body: body ?? (Object.keys(form).length ? redact(form) : undefined), status });
        const html = typeof payload === "string";
        res.writeHead(status, { "content-type": html ? "text/html; charset=utf-8" : "application/json", etag: `"${calls.length}"`, ...headers });
        res.end(payload === undefined ? undefined : html ? payload : JSON.stringify(payload));
    };
    // A request the stand-in cannot handle is a 500 in the record, not a dead worker.
    const server: Server = createServer({ cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) }, (req, res) =>
        handle(req, res).catch((error) => {
            calls.push({ method: req.method ?? "", host: req.headers.host ?? "", path: req.url ?? "", query: "", status: 500, body: { error: String(error) } });
            if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
            res.end(JSON.stringify({ message: String(error) }));
        }),
    );
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(listen.port, listen.address, resolve);
    });
    return {
        calls: () => calls,
        memberships: () => memberships,
        teams: () => Object.fromEntries([...teams.values()].map((t) => [t.slug, Object.fromEntries(members.get(t.id)!)])),
        makeTeam: (slug: string, people: Record<string, string>) => {
            const team = createTeam(slug, "Made by hand in GitHub", "secret");
            Object.entries(people).forEach(([login, role]) => setMember(team, login, role));
            byHand.add(slug);
        },
        addMember: (slug: string, login: string) => setMember(bySlug(slug)!, login, "member"),
        madeByHand: () => [...byHand],
        addClientSecret: (secret: string) => void clientSecrets.add(secret),
        deleteClientSecret: (secret: string) => void clientSecrets.delete(secret),
        breakApi: (status: number | null) => void (outage = status ?? undefined),
        holdCreate: (slug: string) => {
            let release = () => {};
            holds.set(slug, { arrive: () => onArrived(slug), released: new Promise<void>((resolve) => (release = resolve)) });
            releases.set(slug, () => release());
        },
        release: (slug: string) => releases.get(slug)?.(),
        // Keep-alive connections (a killed engine's orphaned provider) would hold close() open.
        close: () => new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
        }),
    };
}

/**
 * The worker's side of github.ts's synchronous calls: each request on `port`
 * is answered on it, then `signal` wakes the main thread, which may be
 * blocked in Atomics.wait for it.
 */
if (!isMainThread) {
    parentPort!.once("message", async ({ port, signal }: { port: MessagePort; signal: Int32Array }) => {
        try {
            const operations = await serve(workerData as GitHubStandInOptions, (slug) => parentPort!.postMessage({ arrived: slug }));
            port.on("message", async ({ id, op, args }: { id: number; op: keyof Operations; args: unknown[] }) => {
                try {
                    const value = await (operations[op] as (...a: unknown[]) => unknown)(...args);
                    port.postMessage({ id, value });
                } catch (error) {
                    port.postMessage({ id, error: String(error) });
                }
                Atomics.store(signal, 0, 1);
                Atomics.notify(signal, 0);
            });
            parentPort!.postMessage({ listening: true });
        } catch (error) {
            parentPort!.postMessage({ error: String(error) });
        }
    });
}
