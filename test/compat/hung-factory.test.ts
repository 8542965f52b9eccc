/** generic-pool compatibility: shutdown ends even when the factory hangs (docs/compat-generic-pool.md); both were hangs once. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createPool } from "../../src/compat/generic-pool.ts";

async function settledWithin<T>(p: Promise<T>, ms: number): Promise<"resolved" | "rejected" | "pending"> {
	return Promise.race([
		p.then(
			() => "resolved" as const,
			() => "rejected" as const,
		),
		sleep(ms).then(() => "pending" as const),
	]);
}

describe("generic-pool compat: a hung factory never hangs shutdown", () => {
	it("drain() then clear() ends although factory.destroy never settles and no destroyTimeoutMillis is set (docs: bounded at 5 s)", async () => {
		const pool = createPool<{ id: number }>({ create: async () => ({ id: 1 }), destroy: () => new Promise(() => {}) }, { max: 1 });
		await pool.release(await pool.acquire());
		await pool.drain();
		const started = performance.now();
		const outcome = await settledWithin(pool.clear(), 7_000);
		assert.equal(outcome, "resolved", `clear() still pending after ${Math.round(performance.now() - started)} ms`);
	});

	it("clear() without drain() ends although a factory.create never settles (the core abandoned it at createTimeoutMillis)", async () => {
		let calls = 0;
		const pool = createPool<{ id: number }>(
			{ create: () => (++calls === 1 ? new Promise<{ id: number }>(() => {}) : Promise.resolve({ id: calls })), destroy: () => {} },
			{ max: 2, min: 1, createTimeoutMillis: 50 },
		);
		const outcome = await settledWithin(pool.clear(), 1_000);
		await pool.drain();
		await settledWithin(pool.clear(), 1_000);
		assert.equal(outcome, "resolved", "clear() waits forever for a create the core abandoned long ago");
	});
});
