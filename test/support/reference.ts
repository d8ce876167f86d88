// Reference material the tests check against, kept in test/reference so a
// clone tests the same way everywhere (CI runners included): the Talos
// machine-config schemas (siderolabs/talos v1.13.9 and v1.14.0-rc.1) and the
// upstream bootstrap RBAC roles an OIDC user meets.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../../lab/stack-file";

export function readReference(relativePath: string): string {
    return readFileSync(join(REPO_ROOT, "test", "reference", relativePath), "utf8");
}
