// The README is the front page and docs/ holds the rest, one topic per page,
// so the pages lean on links between them. A page that moves or a heading that
// is renamed breaks those links without a sound; this test makes it loud.
// Every relative link in the README and docs/ must reach a file that exists,
// and a link into a page (#fragment) a heading of that page. The README stays
// a front page: under 250 lines.
import { expect } from "chai";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, posix } from "node:path";
import { REPO_ROOT } from "../lab/stack-file";
const README_MAX_LINES = 250;

/** What the checker may ask of the repository: repo-relative, "/"-separated paths. */
export interface Tree {
    exists(path: string): boolean;
    /** A file's text, or undefined if it is not a readable file. */
    read(path: string): string | undefined;
}

/** The lines of a markdown text outside fenced code blocks, where a link or heading means one. */
function proseLines(markdown: string): string[] {
    let fence: string | undefined;
    return markdown.split("\n").filter((line) => {
        const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
        if (marker && (fence === undefined || marker.startsWith(fence))) {
            fence = fence === undefined ? marker : undefined;
            return false;
        }
        return fence === undefined;
    });
}

/** A heading's anchor as GitHub makes it: lowercase, punctuation dropped but hyphens, spaces as hyphens. */
export function slug(heading: string): string {
    return heading
        .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
        .toLowerCase()
        .replace(/[^\p{L}\p{N}\s_-]/gu, "")
        .replace(/\s/g, "-");
}

/** Every anchor a markdown text's headings make; a repeated heading gets -1, -2, … as on GitHub. */
export function anchors(markdown: string): Set<string> {
    const seen = new Map<string, number>();
    const found = new Set<string>();
    for (const line of proseLines(markdown)) {
        const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
        if (heading === undefined) continue;
        const base = slug(heading);
        const count = seen.get(base) ?? 0;
        seen.set(base, count + 1);
        found.add(count === 0 ? base : `${base}-${count}`);
    }
    return found;
}

/** The targets of a markdown text's links and images: [text](target) and <img src="target">. */
export function linkTargets(markdown: string): string[] {
    const prose = proseLines(markdown).join("\n").replace(/`[^`\n]*`/g, "");
    const links = [...prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]);
    const images = [...prose.matchAll(/<img\s[^>]*\bsrc\s*=\s*["']([^"']+)["']/gi)].map((m) => m[1]);
    return [...links, ...images];
}

/** Each relative link of the file `from` that misses: a file that does not exist, or a heading its page lacks. */
export function brokenLinks(from: string, markdown: string, tree: Tree): string[] {
    const broken: string[] = [];
    for (const target of linkTargets(markdown)) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto: and other schemes
        // A bare #anchor names a heading of this page; anything else, a file first.
        const [pathPart, fragment] = target.split("#", 2) as [string, string | undefined];
        const path = decodeURI(pathPart);
        const file = path === "" ? from : posix.normalize(path.startsWith("/") ? path.slice(1) : posix.join(posix.dirname(from), path));
        if (path !== "" && (file.startsWith("../") || !tree.exists(file))) {
            broken.push(`${from}: ${target} (no file ${file})`);
            continue;
        }
        if (fragment === undefined || fragment === "" || !file.endsWith(".md")) continue;
        const text = path === "" ? markdown : tree.read(file);
        if (text !== undefined && !anchors(text).has(decodeURIComponent(fragment).toLowerCase())) {
            broken.push(`${from}: ${target} (no heading #${fragment} in ${file})`);
        }
    }
    return broken;
}

/** The README and every page under docs/, repo-relative. */
function pages(): string[] {
    const docs = existsSync(join(REPO_ROOT, "docs"))
        ? readdirSync(join(REPO_ROOT, "docs"), { recursive: true, encoding: "utf8" })
              .filter((f) => f.endsWith(".md"))
              .map((f) => posix.join("docs", f.split("\\").join("/")))
        : [];
    return ["README.md", ...docs.sort()];
}

const repository: Tree = {
    exists: (path) => existsSync(join(REPO_ROOT, path)),
    read: (path) => {
        try {
            return readFileSync(join(REPO_ROOT, path), "utf8");
        } catch {
            return undefined;
        }
    },
};

describe("links", () => {
    it("every relative link in the README and docs/ points at a file that exists", () => {
        const files = pages();
        expect(files.length, "docs/ has pages").to.be.greaterThan(1);
        const broken = files.flatMap((file) => brokenLinks(file, repository.read(file)!, repository));
        expect(broken).to.deep.equal([]);
    });

    it(`the README is a front page: under ${README_MAX_LINES} lines`, () => {
        const lines = readFileSync(join(REPO_ROOT, "README.md"), "utf8").split("\n").length - 1;
        expect(lines).to.be.lessThan(README_MAX_LINES);
    });

    it("the checker reports a missing file, a missing heading and a link out of the repository, and passes good links", () => {
        const tree: Tree = {
            exists: (path) => ["README.md", "docs/talos.md", "docs/img/login.png"].includes(path),
            read: (path) => (path === "docs/talos.md" ? "# Talos\n\n## Node by node, gated on a working login path\n\n```sh\n# not a heading\n```\n" : undefined),
        };
        const page = [
            "See [talos](talos.md#node-by-node-gated-on-a-working-login-path), [top](#top), [GitHub](https://github.com/x).",
            "Gone: [ops](operations.md#troubleshooting) and [a heading](talos.md#not-a-heading).",
            "Out: [shared](../../shared/x.md). Home: [README](../README.md). <img src=\"img/login.png\"> <img src='img/gone.png'>",
            "`[not a link](nowhere.md)`",
            "```",
            "[also not a link](nowhere.md)",
            "```",
            "## Top",
        ].join("\n");
        expect(brokenLinks("docs/page.md", page, tree)).to.deep.equal([
            "docs/page.md: operations.md#troubleshooting (no file docs/operations.md)",
            "docs/page.md: talos.md#not-a-heading (no heading #not-a-heading in docs/talos.md)",
            "docs/page.md: ../../shared/x.md (no file ../shared/x.md)",
            "docs/page.md: img/gone.png (no file docs/img/gone.png)",
        ]);
    });

    it("slugs follow GitHub: punctuation dropped, spaces to hyphens, repeats numbered", () => {
        expect(slug("Try it first: the sandbox")).to.equal("try-it-first-the-sandbox");
        expect(slug("What it touches on a node, and what it never touches")).to.equal("what-it-touches-on-a-node-and-what-it-never-touches");
        expect(slug("`npm test` and the e2e")).to.equal("npm-test-and-the-e2e");
        expect([...anchors("# A\n## B\n## B\n")]).to.deep.equal(["a", "b", "b-1"]);
    });
});
