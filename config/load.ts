// Reads the running stack's config from the Pulumi engine and validates it.
import * as pulumi from "@pulumi/pulumi";
import { parseConfig, PROVIDER_KEYS } from "./parse";
import { PROJECT, type PlatformAuthConfig, type RawConfig } from "./types";

/** Reads the running stack's config; call before creating any resource. */
export function loadConfig(): PlatformAuthConfig {
    const prefix = `${PROJECT}:`;
    const raw: RawConfig = {};
    const all = pulumi.runtime.allConfig();
    for (const [key, value] of Object.entries(all)) {
        if (key.startsWith(prefix)) raw[key.slice(prefix.length)] = value;
    }
    for (const key of PROVIDER_KEYS) raw[key] = all[key];
    return parseConfig(pulumi.getStack(), raw);
}
