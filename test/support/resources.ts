// Reading what the mock engine recorded (lab/stack.ts): find resources by
// kind and name, and Dex's config among them.
import { readDexConfig, type DexConfigFile } from "../../dex/read";
import { reveal, type RecordedResource } from "../../lab/stack";

export function byKind(resources: RecordedResource[], kind: string): RecordedResource[] {
    return resources.filter((r) => r.type.endsWith(`:${kind}`));
}

export function one(resources: RecordedResource[], kind: string, name?: string): RecordedResource {
    const matches = byKind(resources, kind).filter((r) => name === undefined || r.inputs.metadata?.name === name || r.name === name);
    if (matches.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ""}, found ${matches.length}`);
    return matches[0];
}

/** Dex's config.yaml as the program stores it. */
export function dexConfigOf(resources: RecordedResource[]): DexConfigFile {
    return readDexConfig(reveal(one(resources, "Secret", "dex-config").inputs.stringData)["config.yaml"]);
}

/** Model of Dex's rule for `aud`: the requester, plus each peer named by a cross-client scope that trusts it. */
export function dexTokenAudience(dexConfig: any, clientId: string, scopes: string[]): string[] {
    const audience = [clientId];
    for (const scope of scopes) {
        const peer = /^audience:server:client_id:(.+)$/.exec(scope)?.[1];
        if (!peer) continue;
        const peerClient = dexConfig.staticClients.find((c: any) => c.id === peer);
        if (!peerClient?.trustedPeers?.includes(clientId)) throw new Error(`Dex refuses: peer ${peer} does not trust ${clientId}`);
        audience.push(peer);
    }
    return audience;
}
