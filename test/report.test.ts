// The e2e's step-time table (lab/report.ts): a row per step label, in step
// order, a column per run, and the totals; a check without a step number goes
// under "other", and a failed check counts its time too.
import { expect } from "chai";
import { Report } from "../lab/report";

describe("the e2e's report", () => {
    it("counts each check once per scope, and tables the steps' times by step and run, failed checks included", async () => {
        const report = new Report();
        const log = console.log;
        console.log = () => undefined;
        try {
            const local = report.scoped("[local] ");
            await local.check("3. up", () => "ok");
            await local.check("4b. a login", () => undefined);
            await local.check("14. refused", () => {
                throw new Error("no");
            });
            const prod = report.scoped("[prod] ");
            await prod.check("4b. a login", () => undefined);
            await prod.check("sandbox: a line", () => undefined);
            expect([local.passed, local.failed, prod.passed, report.passed, report.failed]).to.deep.equal([2, 1, 2, 4, 1]);
        } finally {
            console.log = log;
        }
        const rows = report.stepTimes().split("\n").map((line) => line.trim().split(/\s+/));
        expect(rows[0]).to.deep.equal(["step", "[local]", "[prod]"]);
        expect(rows.slice(1).map((row) => row[0])).to.deep.equal(["3", "4b", "14", "other", "total"]);
        // A step a run did not have is blank: 3 and 14 were local's alone.
        expect(rows.slice(1).map((row) => row.length)).to.deep.equal([2, 3, 2, 2, 3]);
    });
});
