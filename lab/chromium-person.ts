// The person at a real browser: what kubelogin's browser command runs (see
// chromium.ts). It opens the URL in a new window of the running Chromium,
// over the DevTools protocol, and acts as the person would: types their
// GitHub login and password into the sign-in form and clicks, confirms Dex's
// device code, grants access on Dex's approval page (unless told to stop
// there and look), and reads the last page. Each page it shows is recorded,
// like the HTTP stand-in's (browser-standin.ts), with a screenshot.
import { appendFileSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Page as Tab } from "playwright-core";
import type { Page, Visit } from "./browser-standin";

const MAX_STEPS = 12;

/** Where the person is, by the form the page shows: what they do there, and the screenshot's name. */
function whereAmI(fields: string[] | undefined): "sign-in" | "device-code" | "approval" | "done" {
    if (fields?.includes("password")) return "sign-in";
    if (fields?.includes("approval")) return "approval";
    if (fields?.includes("user_code")) return "device-code";
    return "done";
}

async function act(tab: Tab, opened: string, pages: Page[], shoot: (name: string) => Promise<void>): Promise<void> {
    const submit = async () => {
        await Promise.all([tab.waitForNavigation({ waitUntil: "load" }), tab.locator("form").first().locator("[type=submit]").first().click()]);
    };
    await tab.goto(opened, { waitUntil: "load" });
    for (let step = 0; step < MAX_STEPS; step++) {
        const page = pages[pages.length - 1];
        // Read in the page (the program's types know no DOM).
        page.form = await tab.evaluate<string[] | undefined>("document.forms[0] ? [...document.forms[0].elements].map((e) => e.name).filter(Boolean) : undefined");
        page.text = (await tab.evaluate<string>("document.body ? document.body.innerText : ''")).replace(/\s+/g, " ").trim().slice(0, 300);
        if (page.status >= 400) {
            await shoot("refused");
            throw new Error(`${page.method} ${page.url} answered ${page.status}: ${page.text}`);
        }
        const where = whereAmI(page.form);
        await shoot(where === "done" ? "last-page" : where);
        if (where === "done") return;
        if (where === "sign-in") {
            await tab.fill("input[name=login]", process.env.STANDIN_LOGIN!);
            await tab.fill("input[name=password]", process.env.STANDIN_PASSWORD!);
        }
        if (where === "approval" && process.env.STANDIN_STOP_AT_APPROVAL === "1") return;
        await submit();
    }
    throw new Error(`still going after ${MAX_STEPS} pages`);
}

async function main(): Promise<void> {
    const [opened] = process.argv.slice(2);
    const { CHROMIUM_ENDPOINT: endpoint, STANDIN_RECORD: record, CHROMIUM_SHOTS: shots, STANDIN_LOGIN: login } = process.env;
    if (!opened || !endpoint || !record || !shots || !login) throw new Error("usage: CHROMIUM_ENDPOINT=… STANDIN_LOGIN=… STANDIN_RECORD=… CHROMIUM_SHOTS=… chromium-person <url>");
    const visit: Visit = { opened, pages: [] };
    const browser = await chromium.connectOverCDP(endpoint);
    // A window of its own: nothing kept from another person's login.
    const context = await browser.newContext();
    const tab = await context.newPage();
    tab.on("response", (response) => {
        if (response.request().isNavigationRequest() && response.frame() === tab.mainFrame()) visit.pages.push({ method: response.request().method(), url: response.url(), status: response.status() });
    });
    let shot = 0;
    const stamp = `${Date.now()}-${login}`;
    const shoot = async (name: string) => void (await tab.screenshot({ path: join(shots, `${stamp}-${++shot}-${name}.png`) }));
    try {
        await act(tab, opened, visit.pages, shoot);
    } catch (error) {
        // Chromium's own error page (a certificate it does not trust) is what the person sees: keep it.
        visit.error = (error as Error).message.split("\n")[0];
        await shoot("error").catch(() => undefined);
        process.exitCode = 1;
    } finally {
        appendFileSync(record, `${JSON.stringify(visit)}\n`);
        await context.close();
        await browser.close();
    }
    if (visit.error !== undefined && process.env.STANDIN_GIVE_UP === "1") process.kill(process.ppid, "SIGTERM");
}

if (require.main === module) {
    main().catch((error) => {
        console.error(error);
        process.exitCode = 1;
    });
}
