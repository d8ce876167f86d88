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
    const secretKeys = new Set(Object.keys(raw).filter((key) => isConfigSecret(key.includes(":") ? key : `${prefix}${key}`)));
    return parseConfig(pulumi.getStack(), raw, secretKeys);
}

/**
 * Whether the stack file holds the key encrypted. The SDK answers this for its
 * own "use getSecret" warning but leaves it out of its typings, so fail loudly
 * should a new SDK drop it, rather than let a plain-text secret through.
 */
function isConfigSecret(key: string): boolean {
    const runtime = pulumi.runtime as unknown as { isConfigSecret?: (key: string) => boolean };
    if (typeof runtime.isConfigSecret !== "function") throw new Error("@pulumi/pulumi no longer tells which config keys are secret; platform-auth cannot check githubClientSecret");
    return runtime.isConfigSecret(key);
}
