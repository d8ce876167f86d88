// What the doctor's tests share: the real program's outputs, as
// `pulumi stack output --json` prints them, and canned command results.
import { makeCa } from "../lab/pki";
import { runStack } from "../lab/stack";
import { USER_KEYS } from "../lab/stack-file";
import type { CommandResult } from "./checks";

export const issuerCa = makeCa("mkcert development CA (doctor tests)");

/** `pulumi stack output --json` of a deployed stack (local carries the issuer CA). */
export async function outputsJson(stack: "local" | "prod", overrides: Record<string, string> = {}): Promise<string> {
    const run = await runStack(stack, { ...USER_KEYS, ...(stack === "local" ? { issuerCaPem: issuerCa.certPem } : {}) }, overrides);
    const entries = await Promise.all(Object.entries(run.outputs).map(async ([key, value]) => [key, await run.value(value as never)]));
    return JSON.stringify(Object.fromEntries(entries));
}

export const ok = (stdout: string): CommandResult => ({ status: 0, stdout, stderr: "" });
export const failed = (stderr: string): CommandResult => ({ status: 1, stdout: "", stderr });
