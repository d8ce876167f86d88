// Reads the running stack's config from the Pulumi engine and validates it.
import * as pulumi from "@pulumi/pulumi";
import { GITHUB_OWNER_KEY, parseConfig } from "./parse";
import { PROJECT, type PlatformAuthConfig, type RawConfig } from "./types";

/** Reads the running stack's config; call before creating any resource. */
export function loadConfig(): PlatformAuthConfig {
    const prefix = `${PROJECT}:`;
    const raw: RawConfig = {};
    const all = pulumi.runtime.allConfig();
    for (const [key, value] of Object.entries(all)) {
        if (key.startsWith(prefix)) raw[key.slice(prefix.length)] = value;
    }
    raw[GITHUB_OWNER_KEY] = all[GITHUB_OWNER_KEY];
    return parseConfig(pulumi.getStack(), raw);
}
