// The GitHub stand-in's HTTP side, as GitHub answers: its list paging, its
// pages (the sign-in form), and reading and recording a request.
import type { IncomingMessage } from "node:http";

/** A status, a JSON body, and headers. */
export type Answer = [status: number, body: unknown, headers?: Record<string, string>];
/** GitHub's page size when a request names none. */
const PER_PAGE = 30;

/** One page of `items` as GitHub pages a list: `per_page` and `page` in the query, `Link` with next and last while there is more. */
export function paged(items: unknown[], url: URL): Answer {
    const perPage = Math.min(Number(url.searchParams.get("per_page") ?? PER_PAGE), 100);
    const pageNumber = Number(url.searchParams.get("page") ?? 1);
    const last = Math.max(1, Math.ceil(items.length / perPage));
    const at = (n: number) => {
        const link = new URL(url.href);
        link.searchParams.set("per_page", String(perPage));
        link.searchParams.set("page", String(n));
        return link.href;
    };
    const links = pageNumber < last ? [`<${at(pageNumber + 1)}>; rel="next"`, `<${at(last)}>; rel="last"`] : [];
    return [200, items.slice((pageNumber - 1) * perPage, pageNumber * perPage), links.length ? { link: links.join(", ") } : {}];
}

export function page(title: string, message: string, content = ""): string {
    return `<!DOCTYPE html><html><head><title>${title} · GitHub</title></head><body><h1>${title}</h1><p class="flash-error">${message}</p>${content}</body></html>`;
}

/** GitHub's sign-in form, carrying the OAuth request on to the session. */
export function loginForm(oauth: Record<string, string>): string {
    const hidden = Object.entries(oauth).map(([name, value]) => `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`).join("");
    return page("Sign in to GitHub", "to continue to the OAuth app", `<form action="/session" method="post"><input type="text" name="login" value=""><input type="password" name="password" value="">${hidden}<input type="submit" name="commit" value="Sign in"></form>`);
}

export function escapeHtml(text: string): string {
    return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** Passwords and secrets never go into the record. */
export function redact(form: Record<string, string>): Record<string, string> {
    return Object.fromEntries(Object.entries(form).map(([k, v]) => [k, /password|secret|code/.test(k) ? "…" : v]));
}

export function pick(body: Record<string, unknown>, keys: string[]): Record<string, unknown> {
    return Object.fromEntries(keys.filter((k) => body[k] !== undefined).map((k) => [k, body[k]]));
}

export async function readBody(req: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString();
}
