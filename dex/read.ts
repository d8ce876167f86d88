// The inverse of config.ts: Dex's config file read back into the parts the
// other parties depend on. Tests and the e2e read Dex's config only through it.
import { parse } from "yaml";

export interface DexStaticClient {
    id: string;
    name?: string;
    public?: boolean;
    secretEnv?: string;
    redirectURIs?: string[];
    trustedPeers?: string[];
}

export interface DexConfigFile {
    issuer: string;
    staticClients: DexStaticClient[];
    connectors: { type: string; id: string; config: Record<string, any> }[];
    expiry: { idTokens: string; refreshTokens: Record<string, string> };
    [setting: string]: any;
}

export function readDexConfig(configYaml: string): DexConfigFile {
    // As Dex reads it: YAML 1.1 (config.ts, dexConfigYaml).
    const config = parse(configYaml, { version: "1.1" }) as DexConfigFile;
    if (typeof config?.issuer !== "string" || !Array.isArray(config.staticClients)) throw new Error("not a Dex config: it needs issuer and staticClients");
    return config;
}
