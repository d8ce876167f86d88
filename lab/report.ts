// How the suite reports: each check is printed as it runs and counted, per
// mode and in total, so one failing check never hides the ones after it.

export class Report {
    passed = 0;
    failed = 0;
    constructor(
        private readonly prefix = "",
        private readonly parent?: Report,
    ) {}

    scoped(prefix: string): Report {
        return new Report(prefix, this);
    }

    private count(ok: boolean): void {
        for (let r: Report | undefined = this; r; r = r.parent) ok ? r.passed++ : r.failed++;
    }

    /** Records one check; `check` returns a detail line or throws. */
    async check(name: string, check: () => Promise<string | void> | string | void): Promise<void> {
        try {
            const detail = await check();
            this.count(true);
            console.log(`  ✔ ${this.prefix}${name}${detail ? `: ${detail}` : ""}`);
        } catch (error) {
            this.count(false);
            console.log(`  ✘ ${this.prefix}${name}: ${(error as Error).message}`);
        }
    }

    note(text: string): void {
        console.log(`  · ${this.prefix}${text}`);
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
