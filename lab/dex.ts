// Dex as the program configures it, with exactly two substitutions: storage
// points at the test apiserver through a kubeconfig, and Dex listens on
// loopback (serving the issuer's TLS itself, where the cluster's gateway would
// terminate it, and its telemetry on a free port). The rest of the config file
// is the deployed text as written, scalar by scalar (Dex reads YAML 1.1, so
// how a name is written matters); the pod's environment and the files its
// Secret volumes mount come from the cluster too.
import { request } from "node:https";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseDocument } from "yaml";
import { readDexConfig, type DexConfigFile } from "../dex/read";
import { freePort, start, stop, waitFor, type Service } from "./processes";

export interface DexRuntime {
    kubeconfig: string;
    tlsCert: string;
    tlsKey: string;
    /** The variables the Deployment's pod gets ($VARs and secretEnv in the config, and its plain values). */
    env: Record<string, string>;
    /** Files the pod's Secret volumes mount, by path (the private /etc overlay holds them). */
    files: Record<string, string>;
    /** The image's system roots: on prod, the test CA that stands in for public trust. */
    trust: Record<string, string>;
}

/** The deployed config text with storage, web and telemetry replaced, every other scalar as written. */
function e2eDexConfig(configYaml: string, produced: DexConfigFile, runtime: DexRuntime, telemetryPort: number): string {
    const [connector, ...others] = produced.connectors;
    if (connector?.type !== "github" || others.length > 0) throw new Error("expected exactly one GitHub connector in the program's Dex config");
    if (produced.storage?.type !== "kubernetes" || produced.storage.config?.inCluster !== true) throw new Error("expected in-cluster Kubernetes storage in the program's Dex config");
    const issuerPort = new URL(produced.issuer).port || "443";
    const document = parseDocument(configYaml, { version: "1.1" });
    document.set("storage", { type: "kubernetes", config: { ...produced.storage.config, inCluster: false, kubeConfigFile: runtime.kubeconfig } });
    document.set("web", { https: `127.0.0.1:${issuerPort}`, tlsCert: runtime.tlsCert, tlsKey: runtime.tlsKey });
    document.set("telemetry", { http: `127.0.0.1:${telemetryPort}` });
    return document.toString({ lineWidth: 0 });
}

/** The one Dex of a mode; the day-two and fault steps stop and restart it. */
export interface DexHandle {
    /** Stops Dex and starts it again as deployed; logs go to `<label>.log`. */
    restart(label: string): Promise<void>;
    stop(): Promise<void>;
    /** What Dex has logged since it last started. */
    log(): string;
    /** Dex's config as deployed (before the e2e's two substitutions). */
    config: DexConfigFile;
}

/** Runs Dex with `configYaml`, the config file's text as the program wrote it; `label` names its log and config files. */
export async function runDex(dexBinary: string, configYaml: string, runtime: DexRuntime, runDir: string, caPem: string, label = "dex"): Promise<DexHandle> {
    for (const [path, content] of Object.entries(runtime.files)) {
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, content);
    }
    const config = readDexConfig(configYaml);
    const begin = (name: string) => startDex(dexBinary, configYaml, config, runtime, runDir, caPem, name);
    let current = await begin(label);
    return {
        async restart(again) {
            await stop(current);
            current = await begin(again);
        },
        stop: () => stop(current),
        log: () => readFileSync(current.logFile, "utf8"),
        config,
    };
}

/** Starts Dex and waits for its discovery document (its CRDs are the program's: Dex only checks for them). */
async function startDex(dexBinary: string, configYaml: string, produced: DexConfigFile, runtime: DexRuntime, runDir: string, caPem: string, label: string): Promise<Service> {
    const configFile = join(runDir, `${label}.yaml`);
    writeFileSync(configFile, e2eDexConfig(configYaml, produced, runtime, await freePort()));
    const discovery = `${produced.issuer}/.well-known/openid-configuration`;
    const dex = start(label, dexBinary, ["serve", configFile], runDir, { ...process.env, ...runtime.trust, ...runtime.env });
    await waitFor(`${label} discovery at ${discovery}`, async () => ((await httpsStatus(discovery, caPem)) === 200 ? true : undefined), 60_000, dex);
    return dex;
}

/** The HTTP status of a GET, trusting only `caPem`. */
function httpsStatus(url: string, caPem: string): Promise<number> {
    return new Promise((resolve, reject) => {
        request(url, { ca: caPem }, (res) => {
            res.resume();
            res.on("end", () => resolve(res.statusCode ?? 0));
        })
            .on("error", reject)
            .end();
    });
}

/** The claims of a JWT, unverified, for reporting. */
export function jwtClaims(token: string): Record<string, any> {
    return JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString());
}
