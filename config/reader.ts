// Typed access to raw stack config, and the refusal of unknown keys. Pulumi
// hands structured values over as JSON text.
import type { Fail, RawConfig } from "./types";

/** Fails every field of `value` that is not in `known`, suggesting the nearest known name. */
export function refuseUnknownFields(value: Record<string, unknown>, known: readonly string[], at: string, fail: Fail): void {
    for (const field of Object.keys(value).filter((f) => !known.includes(f))) {
        const nearest = [...known].sort((a, b) => editDistance(field, a) - editDistance(field, b))[0];
        const hint = editDistance(field, nearest) <= 3 ? `did you mean ${nearest}?` : `known: ${known.join(", ")}`;
        fail(at ? `${at}.${field}` : field, `is not a setting of this program; ${hint}`);
    }
}

function editDistance(a: string, b: string): number {
    const row = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
        let diagonal = row[0];
        row[0] = i;
        for (let j = 1; j <= b.length; j++) {
            const above = row[j];
            row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1));
            diagonal = above;
        }
    }
    return row[b.length];
}

export function isObject(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Typed access to raw values; structured values arrive as JSON text from Pulumi. */
export class Reader {
    constructor(
        private readonly raw: RawConfig,
        private readonly fail: Fail,
    ) {}

    string(key: string, what: string): string | undefined {
        const value = this.raw[key];
        if (value === undefined || value.trim() === "") {
            this.fail(key, `is missing; set ${what}.`);
            return undefined;
        }
        return value.trim();
    }

    optionalString(key: string): string | undefined {
        const value = this.raw[key]?.trim();
        return value ? value : undefined;
    }

    optionalBoolean(key: string): boolean | undefined {
        const value = this.raw[key];
        if (value === undefined) return undefined;
        if (value === "true" || value === "false") return value === "true";
        this.fail(key, `${JSON.stringify(value)} is not true or false.`);
        return undefined;
    }

    optionalNumber(key: string): number | undefined {
        const value = this.raw[key];
        if (value === undefined) return undefined;
        const number = Number(value);
        if (value.trim() === "" || Number.isNaN(number)) {
            this.fail(key, `${JSON.stringify(value)} is not a number.`);
            return undefined;
        }
        return number;
    }

    optionalObject(key: string): Record<string, unknown> | undefined {
        const value = this.json(key);
        if (value === undefined || isObject(value)) return value;
        this.fail(key, "must be a map (YAML object) in the stack file.");
        return undefined;
    }

    list<T>(key: string, item: (value: unknown, at: string) => T | undefined): T[] | undefined {
        if (this.raw[key] === undefined) {
            this.fail(key, "is missing; add it as a YAML list in Pulumi.<stack>.yaml.");
            return undefined;
        }
        return this.optionalList(key, item);
    }

    optionalList<T>(key: string, item: (value: unknown, at: string) => T | undefined): T[] {
        const value = this.json(key);
        if (value === undefined) return [];
        if (!Array.isArray(value)) {
            this.fail(key, "must be a YAML list in the stack file.");
            return [];
        }
        return value.map((v, i) => item(v, `${key}[${i}]`)).filter((v): v is T => v !== undefined);
    }

    private json(key: string): unknown {
        const text = this.raw[key];
        if (text === undefined) return undefined;
        try {
            return JSON.parse(text);
        } catch {
            this.fail(key, "is not structured data; write it as a YAML list or map in Pulumi.<stack>.yaml.");
            return undefined;
        }
    }
}
