// A stack as its Pulumi.<stack>.yaml and an operator's hand-set keys give it,
// read without running the program: the parsed config, and what the program's
// own renderers make of it. The world (world.ts) starts its control plane from
// this, so no mock-engine run stands between a stack file and its apiserver.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { parseConfig } from "../config/parse";
import { PROJECT, type PlatformAuthConfig } from "../config/types";
import { oidcContract } from "../contract/contract";
import { dexCallbackUrl } from "../dex/config";
import { talosPatchYaml } from "../talos/plan";
import { talosPatchMode, type TalosPatchMode } from "../talos/render";

export const REPO_ROOT = join(__dirname, "..", "..");

/** The keys a user sets by hand; the GitHub stand-ins have the OAuth app registered with these. */
export const USER_KEYS = {
    githubClientId: "Ov23liTestClientId01",
    githubClientSecret: "test-github-client-secret-0123456789abcdef",
};

/** Stack config as Pulumi hands it to the program: structured values as JSON text. */
export function stackFileConfig(stack: string, file = join(REPO_ROOT, `Pulumi.${stack}.yaml`)): Record<string, string> {
    const { config } = parse(readFileSync(file, "utf8")) as { config: Record<string, unknown> };
    return Object.fromEntries(Object.entries(config).map(([key, value]) => [key, typeof value === "string" ? value : JSON.stringify(value)]));
}

/** The stack file's config with `keys` set over it (without the project prefix), parsed as the program parses it; githubClientSecret counts as set with --secret. */
export function parsedStackConfig(stack: string, keys: Record<string, string>, file?: string): PlatformAuthConfig {
    const raw: Record<string, string> = {};
    for (const [key, value] of Object.entries({ ...stackFileConfig(stack, file), ...keys })) {
        raw[key.startsWith(`${PROJECT}:`) ? key.slice(PROJECT.length + 1) : key] = value;
    }
    return parseConfig(stack, raw, new Set(["githubClientSecret"]));
}

/** What a Talos node gets from this config (the `talosPatch` output and its mode), and where GitHub sends people back to. */
export function renderedStack(config: PlatformAuthConfig): { talosPatch: string; talosPatchMode: TalosPatchMode; callbackUrl: string } {
    const contract = oidcContract(config);
    return {
        talosPatch: talosPatchYaml(contract, config.talosVersion, config.issuerAddress),
        talosPatchMode: talosPatchMode(config.talosVersion),
        callbackUrl: dexCallbackUrl(contract),
    };
}
