// no-plaintext-credentials: a credential may live only in a Secret, and Dex's
// config (even inside a Secret) only names its credentials as $VARs, so the
// values themselves sit in one place, filled in through the pod's environment.
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { type DexConfig, dexConfigs, isDexConfig, parseYaml, textEntries } from "./dex-config";
import { containers, podSpec } from "./pod-template";
import { kindOf, list, message, obj, type Resource, RULES } from "./resource";

/** Env var and ConfigMap key names that carry a credential (keys are often hyphenated: client-secret, api-key). */
const CREDENTIAL_NAME = /SECRET|PASSWORD|TOKEN|API[_-]?KEY|PRIVATE[_-]?KEY|CREDENTIAL/i;
/**
 * A field inside a config document that holds a credential: clientSecret,
 * bindPassword, apiKey... Anchored at the end so Dex's `idTokens: 1h` expiry
 * and `secretEnv: NAME` references are not mistaken for one.
 */
const CREDENTIAL_FIELD = /(secret|password|token|api[_-]?key|private[_-]?key|credentials?)$/i;
/** `$VAR` or `${VAR}`: Dex expands these from its (Secret-backed) environment. */
const ENV_REFERENCE = /^\$(\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*)$/;
const PEM_PRIVATE_KEY = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;
const MOVE_TO_SECRET = "move it to a Secret and reference that instead";

/** Paths of credential fields with a literal value, anywhere in a parsed document. */
function literalCredentialFields(value: unknown, path = ""): string[] {
    if (Array.isArray(value)) return value.flatMap((v, i) => literalCredentialFields(v, `${path}[${i}]`));
    return Object.entries(obj(value)).flatMap(([key, v]) => {
        const at = path ? `${path}.${key}` : key;
        const literal = (typeof v === "string" && v !== "" && !ENV_REFERENCE.test(v)) || typeof v === "number";
        return CREDENTIAL_FIELD.test(key) && literal ? [at] : literalCredentialFields(v, at);
    });
}

interface Problem {
    problem: string;
    fix: string;
}

/** Connector credentials must be $VAR references; static clients are public or use secretEnv. */
function dexCredentialProblems(config: DexConfig): Problem[] {
    const connectors = list(config.connectors).map(obj).flatMap((c) =>
        literalCredentialFields(c.config).map((field) => ({
            problem: `holds Dex connector "${String(c.id)}" with a literal ${field}`,
            fix: `write a $VAR reference (e.g. clientSecret: $GITHUB_CLIENT_SECRET) and fill the variable from a Secret with valueFrom.secretKeyRef`,
        })),
    );
    const clients = list(config.staticClients)
        .map(obj)
        .filter((c) => c.secret !== undefined && c.secret !== "")
        .map((c) => ({
            problem: `holds Dex static client "${String(c.id)}" with a literal secret`,
            fix: "use secretEnv to read it from a Secret-backed variable, or make the client public",
        }));
    return [...connectors, ...clients];
}

/** What a ConfigMap value gives away: a private key, a Dex credential, or any literal credential field. */
function configMapValueProblems(text: string): Problem[] {
    const pem = PEM_PRIVATE_KEY.test(text) ? [{ problem: "holds a PEM private key", fix: MOVE_TO_SECRET }] : [];
    const doc = parseYaml(text);
    // Dex's own sections get Dex-specific advice; the rest of the document the generic check.
    const dex = isDexConfig(doc) ? dexCredentialProblems(doc) : [];
    const rest = isDexConfig(doc) ? { ...doc, connectors: undefined, staticClients: undefined } : doc;
    const fields = literalCredentialFields(rest).map((field) => ({ problem: `holds a literal credential at ${field}`, fix: MOVE_TO_SECRET }));
    return [...pem, ...dex, ...fields];
}

export function checkPlaintextCredentials(r: Resource): string[] {
    const out: string[] = [];
    const report = ({ problem, fix }: Problem) => out.push(message(RULES.credentials, r, problem, fix));
    const inKey = (key: string) => (p: Problem) => report({ ...p, problem: `key "${key}" ${p.problem}` });
    const spec = podSpec(r);
    for (const container of spec ? containers(spec) : []) {
        for (const env of list(container.env).map(obj)) {
            const name = String(env.name);
            if (CREDENTIAL_NAME.test(name) && typeof env.value === "string" && env.value !== "") {
                report({
                    problem: `sets env ${name} of container "${String(container.name)}" to a literal value`,
                    fix: "take it from a Secret with valueFrom.secretKeyRef",
                });
            }
        }
    }
    const kind = kindOf(r);
    if (kind === "ConfigMap") {
        for (const key of [...Object.keys(obj(r.props.data)), ...Object.keys(obj(r.props.binaryData))]) {
            if (CREDENTIAL_NAME.test(key)) report({ problem: `has key "${key}", which names a credential`, fix: MOVE_TO_SECRET });
        }
        for (const [key, text] of textEntries(r)) configMapValueProblems(text).forEach(inKey(key));
    }
    if (kind === "Secret") {
        // A Secret may hold credentials, but Dex's config must still only name them.
        for (const [key, config] of dexConfigs(r)) dexCredentialProblems(config).forEach(inKey(key));
    }
    return out;
}

export const plaintextCredentialsPolicy: ResourceValidationPolicy = {
    name: RULES.credentials,
    description: "No credential as a literal env value or in a ConfigMap; Dex's config only names its secrets as $VARs.",
    enforcementLevel: "mandatory",
    validateResource: (args, reportViolation) => checkPlaintextCredentials(args).forEach((m) => reportViolation(m)),
};
