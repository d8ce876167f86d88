// A stand-in for the person at the browser. kubelogin runs it with the URL to
// open (as its --browser-command, or as xdg-open, the default browser), and
// for the device flow the e2e runs it with the URL kubelogin printed. It does
// what the person does: follows redirects, types their GitHub login and
// password into GitHub's sign-in form, and submits the other forms it is shown
// as filled in (Dex's device-flow user code; Dex's approval, where it asks:
// the person grants access, unless told to stop there and look).
// Each run appends one JSON line to a record, so the e2e can count logins and
// see every page. A small HTTP client, not a browser: the pages need no
// JavaScript and no cookies. Run by kubelogin through a person's own command
// (`commandFor`), a person who got nowhere gives up: kubelogin, which would
// wait minutes for a redirect that never comes, is stopped.
import { appendFileSync, chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { shellQuote } from "../config/shell";

/** One page the person saw: what was asked for, the answer, the names of the form's fields if it showed one, and the page's text. */
export interface Page {
    method: string;
    url: string;
    status: number;
    form?: string[];
    text?: string;
}

/** One run of the browser: the URL it was given, every page in order, and why it stopped early, if it did. */
export interface Visit {
    opened: string;
    pages: Page[];
    error?: string;
}

export interface Person {
    login: string;
    password: string;
}

export interface Browser {
    /** The executable: for --browser-command, and named xdg-open so that putting its directory first on PATH makes it the default browser. */
    command: string;
    dir: string;
    /** The environment a run needs: who the person is, where to record, and the CAs a browser of theirs trusts (the issuer's, as mkcert installs it; GitHub's). */
    env(person: Person): Record<string, string>;
    /**
     * A --browser-command that is `person` at the browser, giving up (stopping kubelogin) when they get nowhere;
     * with `away`, nobody is there: any login kubelogin asks for fails at once, which proves it asked.
     */
    commandFor(person: Person, away?: "away"): string;
    visits(): Visit[];
}

/** Installs the stand-in in `dir`: an executable that runs this file with Node. */
export function installBrowser(dir: string, caPems: string[]): Browser {
    mkdirSync(dir, { recursive: true });
    const command = join(dir, "xdg-open");
    const record = join(dir, "visits.jsonl");
    const ca = join(dir, "trusted-cas.pem");
    writeFileSync(ca, caPems.join("\n"));
    const launcher = (file: string, env: Record<string, string>) => writeLauncher(file, __filename, env);
    const env = (person: Person) => ({ STANDIN_LOGIN: person.login, STANDIN_PASSWORD: person.password, STANDIN_RECORD: record, NODE_EXTRA_CA_CERTS: ca });
    launcher(command, {});
    return {
        command,
        dir,
        env,
        commandFor: (person, away) => launcher(join(dir, `${person.login}${away ? "-away" : ""}`), { ...env(person), STANDIN_GIVE_UP: "1", ...(away ? { STANDIN_AWAY: "1" } : {}) }),
        visits: () => readVisits(record),
    };
}

/** An executable that runs `script` with this Node and `env`: what kubelogin opens as the person's browser. */
export function writeLauncher(file: string, script: string, env: Record<string, string>): string {
    const assignments = Object.entries(env).map(([name, value]) => `${name}=${shellQuote(value)} `).join("");
    writeFileSync(file, `#!/bin/sh\n${assignments}exec ${shellQuote(process.execPath)} ${shellQuote(script)} "$@"\n`);
    // The person's password is in it: theirs alone to run.
    chmodSync(file, 0o700);
    return file;
}

/** The browser runs recorded so far, one JSON line each. */
export function readVisits(record: string): Visit[] {
    return existsSync(record) ? readFileSync(record, "utf8").trim().split("\n").filter(Boolean).map((line) => JSON.parse(line) as Visit) : [];
}

const MAX_PAGES = 20;

interface Request {
    method: string;
    url: string;
    body?: string;
}

async function browse(opened: string, person: Person, pages: Page[]): Promise<void> {
    let next: Request | undefined = { method: "GET", url: opened };
    while (next !== undefined) {
        if (pages.length === MAX_PAGES) throw new Error(`still going after ${MAX_PAGES} pages`);
        const { method, url, body }: Request = next;
        const response = await send(method, url, body);
        const page: Page = { method, url, status: response.status };
        pages.push(page);
        const location = response.headers.location;
        if (response.status >= 300 && response.status < 400 && typeof location === "string") {
            next = { method: "GET", url: new URL(location, url).toString() };
            continue;
        }
        if (response.status >= 400) throw new Error(`${method} ${url} answered ${response.status}: ${textOf(response.body).slice(0, 300)}`);
        page.text = textOf(response.body).slice(0, 300);
        const form = firstForm(response.body);
        if (form === undefined) return;
        page.form = Object.keys(form.fields);
        // A person asked to grant access reads the page first; STANDIN_STOP_AT_APPROVAL: and leaves it there.
        if ("approval" in form.fields && process.env.STANDIN_STOP_AT_APPROVAL === "1") return;
        next = { method: form.method, url: new URL(form.action ?? url, url).toString(), body: new URLSearchParams(fill(form.fields, person)).toString() };
    }
}

/** The person types their GitHub login and password where asked, and leaves what the page filled in as it is. */
function fill(fields: Record<string, string>, person: Person): Record<string, string> {
    const filled: Record<string, string> = { ...fields };
    if ("login" in filled) filled.login = person.login;
    if ("password" in filled) filled.password = person.password;
    const empty = Object.keys(filled).filter((name) => filled[name] === "");
    if (empty.length > 0) throw new Error(`the form asks for ${empty.join(", ")}, which this person does not know`);
    return filled;
}

interface Form {
    action?: string;
    method: string;
    fields: Record<string, string>;
}

function firstForm(html: string): Form | undefined {
    const form = /<form\b([^>]*)>([\s\S]*?)<\/form>/i.exec(html);
    if (form === null) return undefined;
    const fields: Record<string, string> = {};
    for (const [input] of form[2].matchAll(/<input\b[^>]*>/gi)) {
        const name = attribute(input, "name");
        if (name !== undefined) fields[name] = attribute(input, "value") ?? "";
    }
    return { action: attribute(form[1], "action"), method: (attribute(form[1], "method") ?? "get").toUpperCase(), fields };
}

function attribute(tag: string, name: string): string | undefined {
    const value = new RegExp(`\\s${name}="([^"]*)"`, "i").exec(tag)?.[1];
    // Go's html/template escapes attribute values; a browser reads them back.
    return value?.replace(/&(amp|lt|gt|quot|#39|#43);/g, (_, entity: string) => ({ amp: "&", lt: "<", gt: ">", quot: '"', "#39": "'", "#43": "+" })[entity]!);
}

function textOf(html: string): string {
    return html.replace(/<(script|style)[\s\S]*?<\/\1>/gi, "").replace(/<[^>]+>/g, " ").replace(/\s+/g, " ").trim();
}

function send(method: string, url: string, body?: string): Promise<{ status: number; headers: IncomingMessage["headers"]; body: string }> {
    const request = url.startsWith("https:") ? httpsRequest : httpRequest;
    const headers = body === undefined ? {} : { "content-type": "application/x-www-form-urlencoded", "content-length": Buffer.byteLength(body) };
    return new Promise((resolve, reject) => {
        const req = request(url, { method, headers }, (res) => {
            let text = "";
            res.setEncoding("utf8");
            res.on("data", (chunk) => (text += chunk));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
        });
        req.on("error", reject);
        req.end(body);
    });
}

async function main(): Promise<void> {
    const [opened] = process.argv.slice(2);
    const { STANDIN_LOGIN: login, STANDIN_PASSWORD: password, STANDIN_RECORD: record } = process.env;
    if (!opened || !login || !password || !record) throw new Error("usage: STANDIN_LOGIN=… STANDIN_PASSWORD=… STANDIN_RECORD=… browser-standin <url>");
    const visit: Visit = { opened, pages: [] };
    try {
        if (process.env.STANDIN_AWAY === "1") throw new Error("nobody is at the browser: a login was asked for");
        await browse(opened, { login, password }, visit.pages);
    } catch (error) {
        visit.error = (error as Error).message;
        process.exitCode = 1;
    } finally {
        appendFileSync(record, `${JSON.stringify(visit)}\n`);
    }
    // The person closes the terminal: kubelogin (who opened this) stops waiting for a redirect that will never come.
    if (visit.error !== undefined && process.env.STANDIN_GIVE_UP === "1") process.kill(process.ppid, "SIGTERM");
}

if (require.main === module) {
    main().catch((error) => {
        console.error(error);
        process.exitCode = 1;
    });
}
