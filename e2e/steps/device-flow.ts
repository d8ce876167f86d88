// Step 4c (deviceFlow on): the device-code phishing Dex's approval screen
// stops. Someone who can reach Dex starts a device request and sends its link
// to a team member; the member, signing in to GitHub, lands on Dex's approval
// page naming the client, and until they grant access the one who started
// the request gets no token.
import { request } from "node:https";
import { KUBECTL_CLIENT_NAME } from "../../dex/config";
import { readKubeloginUser } from "../../kubeconfig/read";
import { jwtClaims } from "../../lab/dex";
import { ned } from "../../lab/github-people";
import { run, sleep } from "../../lab/processes";
import { expectThat } from "../../lab/report";
import { trail } from "./browser";
import type { ModeContext } from "./context";

const DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";

export async function deviceCodeFromAnotherStep({ outputs, report, browser, issuerCaPem }: ModeContext): Promise<void> {
    const post = (path: string, form: Record<string, string>) => postForm(`${outputs.issuerUrl}${path}`, form, issuerCaPem);
    await report.check(`4c. a device code started by someone else, opened by a team member: Dex's approval page names ${KUBECTL_CLIENT_NAME}, and no token is issued until they grant access`, async () => {
        const { scopes, clientId } = readKubeloginUser(outputs.kubeconfigUser);
        const started = await post("/device/code", { client_id: clientId!, scope: scopes.join(" ") });
        expectThat(started.status === 200, `Dex refused the device request: ${started.status} ${JSON.stringify(started.body)}`);
        const { device_code: deviceCode, verification_uri_complete: link, interval } = started.body as Record<string, string>;
        // Dex answers slow_down to a poll sooner than the interval after the last one.
        let polled = 0;
        const poll = async (path = "/token") => {
            await sleep(Math.max(0, polled + Number(interval) * 1000 + 200 - Date.now()));
            polled = Date.now();
            return post(path, { grant_type: DEVICE_GRANT, device_code: deviceCode, ...(path === "/token" ? { client_id: clientId! } : {}) });
        };

        // The member opens the link, signs in to GitHub, and reads what Dex asks.
        const person = { ...process.env, ...browser.env(ned) };
        const before = browser.visits().length;
        run(browser.command, [link], { ...person, STANDIN_STOP_AT_APPROVAL: "1" });
        const looked = browser.visits()[before];
        expectThat(looked?.error === undefined, `the link went wrong: ${looked?.error}`);
        const page = looked.pages[looked.pages.length - 1];
        expectThat(page.form?.includes("approval") === true && page.text?.includes(KUBECTL_CLIENT_NAME) === true, `the link ended without Dex's approval page naming ${KUBECTL_CLIENT_NAME}: ${trail(looked)}`);
        for (const path of ["/token", "/device/token"]) {
            const pending = await poll(path);
            expectThat(pending.status === 400 && (pending.body as { error?: string }).error === "authorization_pending", `${path} before approval: ${pending.status} ${JSON.stringify(pending.body)}`);
        }

        // Only their grant releases the token, to whoever started the request: the screen is the one guard.
        run(browser.command, [page.url], person);
        const granted = browser.visits()[before + 1];
        expectThat(granted?.error === undefined && new URL(granted.pages[granted.pages.length - 1].url).pathname === "/device/callback", `granting went wrong: ${granted?.error} ${granted ? trail(granted) : ""}`);
        const issued = await poll();
        const idToken = (issued.body as { id_token?: string }).id_token;
        expectThat(issued.status === 200 && idToken !== undefined, `no token after the grant: ${issued.status} ${JSON.stringify(issued.body)}`);
        const email = jwtClaims(idToken!).email;
        expectThat(email === ned.tokenEmail, `the token is for ${email}`);
        return `before the grant: authorization_pending at /token and /device/token; the approval page: "${page.text!.slice(0, 90)}…"; after: a token for ${email}`;
    });
}

/** A form POST to Dex, trusting only its CA; the answer's status and JSON body. */
function postForm(url: string, form: Record<string, string>, caPem: string): Promise<{ status: number; body: unknown }> {
    const body = new URLSearchParams(form).toString();
    return new Promise((resolve, reject) => {
        const req = request(url, { method: "POST", ca: caPem, headers: { "content-type": "application/x-www-form-urlencoded", "content-length": Buffer.byteLength(body) } }, (res) => {
            let text = "";
            res.setEncoding("utf8");
            res.on("data", (chunk) => (text += chunk));
            res.on("end", () => {
                let parsed: unknown = text;
                try {
                    parsed = JSON.parse(text);
                } catch {
                    // Not JSON: kept as text for the report.
                }
                resolve({ status: res.statusCode ?? 0, body: parsed });
            });
        });
        req.on("error", reject);
        req.end(body);
    });
}
