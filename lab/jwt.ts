// Tokens no issuer of ours signed: for refusals, and to ask an apiserver
// whether it has loaded an issuer's keys yet.
import { createSign, generateKeyPairSync } from "node:crypto";

/** A well-formed RS256 ID token signed by a key Dex never had. */
export function forgeJwt(claims: Record<string, unknown>): string {
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const now = Math.floor(Date.now() / 1000);
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
    const unsigned = `${encode({ alg: "RS256", typ: "JWT", kid: "forged" })}.${encode({ iat: now, exp: now + 600, ...claims })}`;
    return `${unsigned}.${createSign("RSA-SHA256").update(unsigned).sign(privateKey).toString("base64url")}`;
}
