// The layering the architecture page promises, checked on the source itself.
// The program: config at the bottom, then the contract, then each part's
// renderers, then its component, then program.ts and index.ts; an import only
// points down, and a part's renderers and component never reach into another
// part. Around it, the floors: lab/ (the world a stack meets on one machine)
// stands on the program alone; e2e/, sandbox/ and bench/ stand on lab/; only
// e2e/ runs the steps, and test/support/ serves unit tests alone. No file
// imports itself through others, and none is over 300 lines.
import { expect } from "chai";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { PROGRAM_FOLDERS } from "../lab/engine";
import { REPO_ROOT } from "../lab/stack-file";

const PARTS = ["dex", "talos", "github", "rbac", "kubeconfig", "preflight"];
const MAX_LINES = 300;

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

/** A unit test or its helpers: the only importers of test/. */
const isTest = (path: string) => path.endsWith(".test") || path.startsWith("test/") || path.startsWith("policy/test/");

/** Whether `from` may import `to`; both are repo-relative paths without extension. */
export function importAllowed(from: string, to: string): boolean {
    const [fromLayer, toLayer] = [layerOf(from), layerOf(to)];
    if (fromLayer === undefined || isTest(from)) return floorAllowed(from, to);
    // The program never imports tests, tooling or the policy pack.
    if (toLayer === undefined) return false;
    const samePart = from.split("/")[0] === to.split("/")[0];
    if (toLayer >= 2 && toLayer <= 3 && fromLayer <= 3 && !samePart) return false;
    return toLayer < fromLayer || (toLayer === fromLayer && samePart);
}


/** The floors outside the program: who may stand on whom. */
function floorAllowed(from: string, to: string): boolean {
    const [fromFloor, toFloor] = [from.split("/")[0], to.split("/")[0]];
    if (toFloor === "test" && !isTest(from)) return false;
    if (toFloor === "e2e" && fromFloor !== "e2e") return false;
    if (fromFloor === "lab") return toFloor === "lab" || layerOf(to) !== undefined;
    if (fromFloor === "sandbox" || fromFloor === "bench") return toFloor !== "test";
    return true;
}

/** Every TypeScript source of the repo (repo-relative, without extension), tests and fixtures included. */
function allSources(): string[] {
    const skip = /(^|\/)(node_modules|dist|\.tools|\.git|\.sandbox)(\/|$)/;
    return readdirSync(REPO_ROOT, { recursive: true, encoding: "utf8" })
        .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts") && !skip.test(f))
        .map((f) => f.split("\\").join("/").slice(0, -3));
}

function relativeImports(source: string): string[] {
    const text = readFileSync(join(REPO_ROOT, `${source}.ts`), "utf8");
    return [...text.matchAll(/(?:from |import\(|require\()"(\.{1,2}\/[^"]+)"/g)].map((m) => normalize(join(dirname(source), m[1].replace(/\.ts$/, ""))).split("\\").join("/"));
}

/** The import cycles of a graph, each as the path that closes it (a -> b -> a). */
export function cycles(graph: Map<string, string[]>): string[][] {
    const found: string[][] = [];
    const state = new Map<string, "open" | "done">();
    const stack: string[] = [];
    const visit = (node: string) => {
        state.set(node, "open");
        stack.push(node);
        for (const next of graph.get(node) ?? []) {
            if (state.get(next) === "open") found.push([...stack.slice(stack.indexOf(next)), next]);
            else if (!state.has(next)) visit(next);
        }
        stack.pop();
        state.set(node, "done");
    };
    [...graph.keys()].sort().forEach((node) => state.has(node) || visit(node));
    return found;
}

describe("layers", () => {
    const sources = allSources();
    const graph = new Map(sources.map((source) => [source, relativeImports(source)]));

    it("every import points down: within the program, and from lab/ to the program, from e2e/, sandbox/ and bench/ to lab/", () => {
        expect(sources).to.include.members(["config/types", "contract/contract", "dex/component", "talos/render", "lab/world", "e2e/run", "sandbox/main"]);
        const upward = sources.flatMap((source) => graph.get(source)!.filter((target) => !importAllowed(source, target)).map((target) => `${source} -> ${relative(".", target)}`));
        expect(upward).to.deep.equal([]);
    });

    it("no source file imports itself through others", () => {
        expect(cycles(graph).map((cycle) => cycle.join(" -> "))).to.deep.equal([]);
    });

    it(`no source file is over ${MAX_LINES} lines`, () => {
        const long = sources
            .map((source) => [source, readFileSync(join(REPO_ROOT, `${source}.ts`), "utf8").split("\n").length - 1] as const)
            .filter(([, lines]) => lines > MAX_LINES)
            .map(([source, lines]) => `${source}.ts: ${lines} lines`);
        expect(long).to.deep.equal([]);
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
        expect(importAllowed("dex/component", "lab/stack")).to.equal(false);
        expect(importAllowed("program", "dex/component")).to.equal(true);
    });

    it("the floors refuse lab/ on e2e/ or test/, sandbox/ and bench/ on e2e/, and anything but a test on test/", () => {
        expect(importAllowed("lab/world", "e2e/steps/deploy")).to.equal(false);
        expect(importAllowed("lab/world", "test/support/resources")).to.equal(false);
        expect(importAllowed("lab/world", "doctor/checks")).to.equal(false);
        expect(importAllowed("lab/world", "talos/render")).to.equal(true);
        expect(importAllowed("sandbox/main", "e2e/steps/context")).to.equal(false);
        expect(importAllowed("bench/engine", "test/support/stack")).to.equal(false);
        expect(importAllowed("bench/engine", "lab/world")).to.equal(true);
        expect(importAllowed("doctor/main", "test/support/pki")).to.equal(false);
        expect(importAllowed("doctor/checks.test", "test/support/pki")).to.equal(true);
        expect(importAllowed("e2e/steps/deploy", "lab/deployment")).to.equal(true);
    });

    it("the cycle finder finds a cycle through three files, and none in a chain", () => {
        expect(cycles(new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]]]))).to.deep.equal([["a", "b", "c", "a"]]);
        expect(cycles(new Map([["a", ["b"]], ["b", ["c"]], ["c", []]]))).to.deep.equal([]);
    });
});
