// Dex's config as the rules find it: a YAML document inside a Secret or a
// ConfigMap. Both the credentials rule and the issuer rule read it.
import { parse } from "yaml";
import { isObj, kindOf, obj, str, type Obj, type Resource } from "./resource";

export function parseYaml(text: string): unknown {
    try {
        return parse(text, { logLevel: "error" });
    } catch {
        return undefined; // Not YAML (or JSON): nothing structured to inspect.
    }
}

/** Text values of a Secret (stringData, and data decoded from base64) or a ConfigMap (data). */
export function textEntries(r: Resource): [string, string][] {
    const kind = kindOf(r);
    const entries = (v: unknown) => Object.entries(obj(v)).filter((e): e is [string, string] => str(e[1]) !== undefined);
    if (kind === "ConfigMap") return entries(r.props.data);
    if (kind !== "Secret") return [];
    const decoded = entries(r.props.data).map(([k, v]): [string, string] => [k, Buffer.from(v, "base64").toString("utf8")]);
    return [...entries(r.props.stringData), ...decoded];
}

export type DexConfig = Obj & { issuer: unknown; connectors: unknown };
export const isDexConfig = (v: unknown): v is DexConfig => isObj(v) && "issuer" in v && "connectors" in v;

/** Dex configs held by a Secret or ConfigMap, with the key that holds each. */
export function dexConfigs(r: Resource): [string, DexConfig][] {
    return textEntries(r)
        .map(([key, text]): [string, unknown] => [key, parseYaml(text)])
        .filter((e): e is [string, DexConfig] => isDexConfig(e[1]));
}
