// The read-only reference material beside the repo (../shared): Talos schemas
// and the upstream bootstrap RBAC roles. Tests fail loudly when it is absent.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "./stack";

export const SHARED_DIR = process.env.PLATFORM_AUTH_SHARED ?? join(REPO_ROOT, "..", "shared");

export function readShared(relativePath: string): string {
    const path = join(SHARED_DIR, relativePath);
    if (!existsSync(path)) {
        throw new Error(`${path} is missing: the tests need the reference folder beside the repo (or set PLATFORM_AUTH_SHARED).`);
    }
    return readFileSync(path, "utf8");
}
