// How the suite reports: each check is printed as it runs and counted, per
// mode and in total, so one failing check never hides the ones after it. The
// time since the previous check is put on the step a check belongs to (its
// number, "4b."), so the work before a check counts for its step, and
// `stepTimes()` prints them as a table, a column per run.

export class Report {
    passed = 0;
    failed = 0;
    /** Seconds by step, then by run (the scoped prefix); kept on the root report. */
    private readonly seconds = new Map<string, Map<string, number>>();
    private last = Date.now();

    constructor(
        private readonly prefix = "",
        private readonly parent?: Report,
    ) {}

    scoped(prefix: string): Report {
        this.root().last = Date.now();
        return new Report(prefix, this);
    }

    private root(): Report {
        return this.parent ? this.parent.root() : this;
    }

    private count(ok: boolean, name: string): void {
        for (let r: Report | undefined = this; r; r = r.parent) ok ? r.passed++ : r.failed++;
        const root = this.root();
        const step = /^(\d+[a-z]?)\./.exec(name)?.[1] ?? "other";
        const runs = root.seconds.get(step) ?? new Map<string, number>();
        const run = this.prefix.trim() || "all";
        runs.set(run, (runs.get(run) ?? 0) + (Date.now() - root.last) / 1000);
        root.seconds.set(step, runs);
        root.last = Date.now();
    }

    /** Records one check; `check` returns a detail line or throws. */
    async check(name: string, check: () => Promise<string | void> | string | void): Promise<void> {
        try {
            const detail = await check();
            this.count(true, name);
            console.log(`  ✔ ${this.prefix}${name}${detail ? `: ${detail}` : ""}`);
        } catch (error) {
            this.count(false, name);
            console.log(`  ✘ ${this.prefix}${name}: ${(error as Error).message}`);
        }
    }

    note(text: string): void {
        console.log(`  · ${this.prefix}${text}`);
    }

    /** The steps' times as a text table: a row per step (in step order), a column per run, and the totals. */
    stepTimes(): string {
        const runs = [...new Set([...this.seconds.values()].flatMap((byRun) => [...byRun.keys()]))];
        const steps = [...this.seconds.keys()].sort((a, b) => parseFloat(a) - parseFloat(b) || a.localeCompare(b));
        const width = Math.max(8, ...runs.map((run) => run.length + 2));
        const cell = (value: number | undefined) => (value === undefined ? "" : `${Math.round(value)}s`).padStart(width);
        const total = (run: string) => steps.reduce((sum, step) => sum + (this.seconds.get(step)!.get(run) ?? 0), 0);
        const row = (label: string, values: (number | undefined)[]) => `${label.padEnd(6)}${values.map(cell).join("")}`;
        return [
            `${"step".padEnd(6)}${runs.map((run) => run.padStart(width)).join("")}`,
            ...steps.map((step) => row(step, runs.map((run) => this.seconds.get(step)!.get(run)))),
            row("total", runs.map(total)),
        ].join("\n");
    }
}

export function expectThat(condition: boolean, message: string): void {
    if (!condition) throw new Error(message);
}

/** The first line of a command's output, enough for a detail line. */
export function firstLine(text: string): string {
    return text.trim().split("\n")[0];
}

/** The median of measurements (the upper one of an even count). */
export function median(values: number[]): number {
    return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
}
