import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { durationProblem, MAX_DURATION_MS } from "../../src/index.ts";

describe("durationProblem", () => {
	it("accepts positive finite durations up to the timer maximum", () => {
		for (const ms of [1, 0.5, 500, MAX_DURATION_MS]) assert.equal(durationProblem(ms), undefined, String(ms));
	});

	it("quotes the value as it was given", () => {
		assert.match(durationProblem("500")!, /got "500" \(a string/);
		assert.match(durationProblem(Number.NaN)!, /got NaN$/);
		assert.match(durationProblem(Number.POSITIVE_INFINITY)!, /got Infinity$/);
		assert.match(durationProblem(-1)!, /not be negative, got -1$/);
		assert.match(durationProblem(Number.NEGATIVE_INFINITY)!, /not be negative, got -Infinity$/);
		assert.match(durationProblem(null)!, /got null$/);
		assert.match(durationProblem(undefined)!, /got undefined$/);
		assert.match(durationProblem(10n)!, /got 10n$/);
	});

	it("refuses 0 unless allowZero, Infinity unless allowInfinity", () => {
		assert.match(durationProblem(0)!, /greater than 0/);
		assert.equal(durationProblem(0, { allowZero: true }), undefined);
		assert.equal(durationProblem(Number.POSITIVE_INFINITY, { allowInfinity: true }), undefined);
	});

	it("refuses values Node would clamp to 1 ms, even with allowInfinity", () => {
		assert.match(durationProblem(MAX_DURATION_MS + 1)!, /at most 2147483647 ms/);
		assert.match(durationProblem(2 ** 40, { allowInfinity: true })!, /use Infinity for no limit/);
	});

	it("never accepts a value outside (0, 2^31-1]", () => {
		const bad = fc.oneof(
			fc.double({ max: -Number.MIN_VALUE }),
			fc.double({ min: MAX_DURATION_MS + 1, noNaN: true }),
			fc.constant(Number.NaN),
			fc.constant(0),
			fc.string(),
			fc.boolean(),
			fc.constant(null),
			fc.object(),
		);
		fc.assert(
			fc.property(bad, (v) => {
				const problem = durationProblem(v);
				assert.equal(typeof problem, "string");
				// JSON.stringify would have called NaN and Infinity "null"
				if (v !== null) assert.doesNotMatch(problem!, /got null$/);
			}),
			{ numRuns: 300 },
		);
	});
});
