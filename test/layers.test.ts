// The layering the README's architecture section promises, checked on the
// source itself: config at the bottom, then the contract, then each part's
// renderers, then its component, then program.ts and index.ts. An import may
// only point down; renderers and components of one part never reach into
// another part.
import { expect } from "chai";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { PROGRAM_FOLDERS } from "../e2e/engine";
import { REPO_ROOT } from "./support/stack";

const PARTS = ["dex", "talos", "github", "rbac", "kubeconfig", "preflight"];

/** The layer of a source file (repo-relative path without extension), or undefined outside the program. */
export function layerOf(path: string): number | undefined {
    const [folder, file] = path.split("/");
    if (path === "index") return 5;
    if (path === "program") return 4;
    if (folder === "config") return 0;
    if (folder === "contract") return 1;
    if (PARTS.includes(folder)) return file === "component" ? 3 : 2;
    return undefined;
}

/** Whether `from` may import `to`; both are repo-relative paths without extension. */
export function importAllowed(from: string, to: string): boolean {
    const [fromLayer, toLayer] = [layerOf(from), layerOf(to)];
    if (fromLayer === undefined) return true;
    // The program never imports tests, tooling or the policy pack.
    if (toLayer === undefined) return false;
    const samePart = from.split("/")[0] === to.split("/")[0];
    if (toLayer >= 2 && toLayer <= 3 && fromLayer <= 3 && !samePart) return false;
    return toLayer < fromLayer || (toLayer === fromLayer && samePart);
}

function programSources(): string[] {
    const inFolder = (folder: string) =>
        readdirSync(join(REPO_ROOT, folder), { recursive: true, encoding: "utf8" })
            .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"))
            .map((f) => `${folder}/${f.slice(0, -3)}`);
    return ["index", "program", ...["config", "contract", ...PARTS].flatMap(inFolder)];
}

function relativeImports(source: string): string[] {
    const text = readFileSync(join(REPO_ROOT, `${source}.ts`), "utf8");
    return [...text.matchAll(/from "(\.{1,2}\/[^"]+)"/g)].map((m) => normalize(join(dirname(source), m[1])).split("\\").join("/"));
}

describe("layers", () => {
    it("every import of the program points down, and no part reaches into another", () => {
        const sources = programSources();
        expect(sources).to.include.members(["config/types", "contract/contract", "dex/component", "talos/render"]);
        const upward = sources.flatMap((source) => relativeImports(source).filter((target) => !importAllowed(source, target)).map((target) => `${source} -> ${relative(".", target)}`));
        expect(upward).to.deep.equal([]);
    });

    it("the e2e copies every folder of the program into a user's clone", () => {
        expect([...PROGRAM_FOLDERS].sort()).to.deep.equal(["config", "contract", ...PARTS].sort());
    });

    it("the rule refuses an upward or sideways import", () => {
        expect(importAllowed("config/types", "contract/contract")).to.equal(false);
        expect(importAllowed("contract/contract", "dex/config")).to.equal(false);
        expect(importAllowed("dex/config", "dex/component")).to.equal(false);
        expect(importAllowed("talos/render", "dex/config")).to.equal(false);
        expect(importAllowed("dex/component", "rbac/component")).to.equal(false);
        expect(importAllowed("dex/component", "dex/objects")).to.equal(true);
        expect(importAllowed("dex/component", "test/support/stack")).to.equal(false);
        expect(importAllowed("program", "dex/component")).to.equal(true);
    });
});
