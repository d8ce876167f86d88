// The person's browser: Debian's Chromium, headless, with a home and profile
// of its own. What the person trusts is imported into the profile's NSS
// database with certutil, as the docs tell a person to; without it, Chromium
// stops at its certificate warning. kubelogin opens it as it opens any
// browser (its --browser-command, or xdg-open first on PATH): the launcher
// runs chromium-person.ts, which drives a new window of this Chromium over
// the DevTools protocol. Screenshots of every page go to `shots`.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readVisits, writeLauncher, type Browser, type Person } from "./browser-standin";
import { start, stop, waitFor } from "./processes";

/** Debian's Chromium; the /usr/bin wrapper only adds flags for desktops. */
export const CHROMIUM = "/usr/lib/chromium/chromium";

export interface Chromium extends Browser {
    close(): Promise<void>;
}

/** Refuses, naming the packages, where Chromium or certutil is missing: called before anything starts. */
export function requireChromium(): void {
    for (const needed of [CHROMIUM, "/usr/bin/certutil"]) {
        if (!existsSync(needed)) throw new Error(`${needed} is missing: a person's browser here is Debian's Chromium, trusting what certutil imports (apt-get install chromium libnss3-tools)`);
    }
}

/** Starts Chromium in `dir` trusting `caPems` (each imported into its NSS database); `shots` receives the screenshots. */
export async function startChromium(dir: string, caPems: string[], shots: string, label = "chromium"): Promise<Chromium> {
    requireChromium();
    const home = join(dir, "home");
    const nssdb = join(home, ".pki", "nssdb");
    mkdirSync(nssdb, { recursive: true });
    mkdirSync(shots, { recursive: true });
    execFileSync("certutil", ["-N", "-d", `sql:${nssdb}`, "--empty-password"]);
    caPems.forEach((pem, i) => {
        const file = join(dir, `ca-${i}.pem`);
        writeFileSync(file, pem);
        execFileSync("certutil", ["-A", "-d", `sql:${nssdb}`, "-n", `imported CA ${i}`, "-t", "C,,", "-i", file]);
    });
    const profile = join(dir, "profile");
    const service = start(label, CHROMIUM, ["--headless=new", "--no-sandbox", "--no-first-run", "--disable-gpu", "--remote-debugging-port=0", `--user-data-dir=${profile}`, "about:blank"], dir, { ...process.env, HOME: home });
    // Chromium names its DevTools port in this file once it listens.
    const port = await waitFor(`${label}'s DevTools port`, () => (existsSync(join(profile, "DevToolsActivePort")) ? readFileSync(join(profile, "DevToolsActivePort"), "utf8").split("\n")[0] : undefined), 30_000, service);
    const record = join(dir, "visits.jsonl");
    const launcher = (file: string, env: Record<string, string>) => writeLauncher(file, join(__dirname, "chromium-person.js"), env);
    const env = (person: Person) => ({ STANDIN_LOGIN: person.login, STANDIN_PASSWORD: person.password, STANDIN_RECORD: record, CHROMIUM_ENDPOINT: `http://127.0.0.1:${port}`, CHROMIUM_SHOTS: shots });
    const command = launcher(join(dir, "xdg-open"), {});
    return {
        command,
        dir,
        env,
        commandFor: (person, away) => {
            if (away) throw new Error("Chromium is for a person at the browser; use the HTTP stand-in for nobody there");
            return launcher(join(dir, person.login), { ...env(person), STANDIN_GIVE_UP: "1" });
        },
        visits: () => readVisits(record),
        close: () => stop(service),
    };
}
