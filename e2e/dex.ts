// Dex as the program configures it, with exactly two substitutions: the GitHub
// connector becomes Dex's local password DB (static users with emails and
// groups), and storage points at the test apiserver through a kubeconfig.
// Dex must also listen somewhere: here it serves the issuer's TLS itself on
// loopback, where the cluster's gateway would terminate it.
import { request } from "node:https";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { hashSync } from "bcryptjs";
import { stringify } from "yaml";
import { freePort, sleep, start, stop, waitFor, type Service } from "./processes";

export interface StaticUser {
    email: string;
    username: string;
    password: string;
    groups: string[];
}

/** In the group the program binds read-only. */
export const ned: StaticUser = { email: "ned@devantler.tech", username: "ned", password: "ned-password", groups: ["devantler-tech:platform"] };
/** Ned's colleague, whose email GitHub keeps as they typed it: the 1.14 mapping makes it lowercase. */
export const nedMixed: StaticUser = { email: "Ned.Mixed@devantler.tech", username: "ned-mixed", password: "ned-mixed-password", groups: ["devantler-tech:platform"] };
/** Outside every user and group the program binds. */
export const mallory: StaticUser = { email: "mallory@example.com", username: "mallory", password: "mallory-password", groups: ["devantler-tech:outsiders"] };

export interface DexRuntime {
    kubeconfig: string;
    tlsCert: string;
    tlsKey: string;
    users: StaticUser[];
    /** The variables the Deployment's pod gets from its Secrets ($VARs and secretEnv in the config). */
    env: Record<string, string>;
    /** Only for the refresh step: shorter lifetimes, everything else as produced. */
    expiry?: Record<string, unknown>;
}

function e2eDexConfig(produced: any, runtime: DexRuntime, telemetryPort: number): Record<string, unknown> {
    const [connector, ...others] = produced.connectors;
    if (connector?.type !== "github" || others.length > 0) throw new Error("expected exactly one GitHub connector in the program's Dex config");
    if (produced.storage?.type !== "kubernetes" || produced.storage.config?.inCluster !== true) throw new Error("expected in-cluster Kubernetes storage in the program's Dex config");
    const issuerPort = new URL(produced.issuer).port || "443";
    return {
        ...produced,
        storage: { type: "kubernetes", config: { kubeConfigFile: runtime.kubeconfig } },
        connectors: [],
        enablePasswordDB: true,
        // The login steps' password grant (kubelogin --grant-type=password) is the e2e's, not the program's.
        oauth2: { ...produced.oauth2, passwordConnector: "local", grantTypes: [...produced.oauth2.grantTypes, "password"] },
        staticPasswords: runtime.users.map((u, i) => ({
            email: u.email,
            hash: hashSync(u.password, 10),
            username: u.username,
            userID: `00000000-0000-4000-8000-00000000000${i}`,
            groups: u.groups,
        })),
        web: { https: `127.0.0.1:${issuerPort}`, tlsCert: runtime.tlsCert, tlsKey: runtime.tlsKey },
        telemetry: { http: `127.0.0.1:${telemetryPort}` },
        ...(runtime.expiry ? { expiry: { ...produced.expiry, ...runtime.expiry } } : {}),
    };
}

/** The one Dex of a mode; the refresh and fault steps restart or stop it. */
export interface DexHandle {
    /** Stops Dex and starts it again as produced, or with shorter `expiry`; logs go to `<label>.log`. */
    restart(label: string, expiry?: DexRuntime["expiry"]): Promise<void>;
    stop(): Promise<void>;
}

export async function runDex(dexBinary: string, produced: any, runtime: DexRuntime, runDir: string, caPem: string): Promise<DexHandle> {
    let current = await startDex(dexBinary, produced, runtime, runDir, caPem, "dex");
    return {
        async restart(label, expiry) {
            await stop(current);
            current = await startDex(dexBinary, produced, { ...runtime, expiry }, runDir, caPem, label);
        },
        stop: () => stop(current),
    };
}

/**
 * Starts Dex and waits for its discovery document. On a fresh apiserver Dex
 * creates its CRDs and may exit before they are served; like the Deployment's
 * restart policy, start it again (a few times) when that happens.
 */
async function startDex(dexBinary: string, produced: any, runtime: DexRuntime, runDir: string, caPem: string, label: string): Promise<Service> {
    const configFile = join(runDir, `${label}.yaml`);
    writeFileSync(configFile, stringify(e2eDexConfig(produced, runtime, await freePort())));
    const discovery = `${produced.issuer}/.well-known/openid-configuration`;
    for (let attempt = 1; ; attempt++) {
        const dex = start(label, dexBinary, ["serve", configFile], runDir, { ...process.env, ...runtime.env });
        try {
            await waitFor(`${label} discovery at ${discovery}`, async () => ((await httpsJson("GET", discovery, caPem)).status === 200 ? true : undefined), 60_000, dex);
            return dex;
        } catch (error) {
            if (dex.process.exitCode === null || attempt === 5) throw error;
            await sleep(1000);
        }
    }
}

interface HttpResult {
    status: number;
    body: any;
}

/** A small HTTPS client that trusts only `caPem`. */
function httpsJson(method: string, url: string, caPem: string, form?: Record<string, string>): Promise<HttpResult> {
    const body = form ? new URLSearchParams(form).toString() : undefined;
    return new Promise((resolve, reject) => {
        const req = request(url, { method, ca: caPem, headers: body ? { "content-type": "application/x-www-form-urlencoded" } : {} }, (res) => {
            let text = "";
            res.setEncoding("utf8");
            res.on("data", (chunk) => (text += chunk));
            res.on("end", () => {
                let parsed: unknown = text;
                try {
                    parsed = JSON.parse(text);
                } catch {
                    // not JSON; keep the text
                }
                resolve({ status: res.statusCode ?? 0, body: parsed });
            });
        });
        req.on("error", reject);
        req.end(body);
    });
}

/** An ID token straight from Dex's password grant, for tokens kubelogin would never ask for. */
export async function passwordGrantToken(issuer: string, caPem: string, clientId: string, user: StaticUser, scopes: string[]): Promise<string> {
    const res = await httpsJson("POST", `${issuer}/token`, caPem, {
        grant_type: "password",
        client_id: clientId,
        username: user.email,
        password: user.password,
        scope: scopes.join(" "),
    });
    if (res.status !== 200 || typeof res.body.id_token !== "string") throw new Error(`password grant failed: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.id_token;
}

/** The claims of a JWT, unverified, for reporting. */
export function jwtClaims(token: string): Record<string, any> {
    return JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString());
}
