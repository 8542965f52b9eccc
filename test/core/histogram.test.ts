/** The duration histogram: percentiles within its stated precision, zeros exact, reset. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { Histogram } from "../../src/index.ts";

function exactQuantile(values: number[], q: number): number {
	const sorted = [...values].sort((a, b) => a - b);
	return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)];
}

describe("Histogram", () => {
	it("reports every quantile within 1 µs or 3.2 % of the exact value (fast-check)", () => {
		fc.assert(
			fc.property(
				fc.array(fc.oneof(fc.constant(0), fc.double({ min: 0, max: 600_000, noNaN: true })), { minLength: 1, maxLength: 300 }),
				fc.constantFrom(0.5, 0.9, 0.99, 1),
				(values, q) => {
					const h = new Histogram();
					for (const v of values) {
						if (v === 0) h.recordZero();
						else h.record(v);
					}
					const exact = exactQuantile(values, q);
					const got = h.quantile(q);
					assert.ok(got >= exact - 1e-9 || got === h.summary().max, `q${q}: ${got} < exact ${exact}`);
					assert.ok(got - exact <= Math.max(0.001, exact * 0.032), `q${q}: ${got} vs exact ${exact}`);
				},
			),
			{ numRuns: 300 },
		);
	});

	it("counts zeros exactly and keeps mean and max", () => {
		const h = new Histogram();
		for (let i = 0; i < 98; i++) h.recordZero();
		h.record(10);
		h.record(30);
		const s = h.summary();
		assert.equal(s.count, 100);
		assert.equal(s.p50, 0);
		assert.equal(s.p90, 0);
		assert.ok(Math.abs(s.p99 - 10) <= 10 * 0.032);
		assert.equal(s.max, 30);
		assert.equal(s.mean, 0.4);
	});

	it("reset() empties it", () => {
		const h = new Histogram();
		h.record(5);
		h.recordZero();
		h.reset();
		assert.deepEqual(h.summary(), { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, max: 0 });
	});
});
