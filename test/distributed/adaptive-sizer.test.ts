/** Adaptive sizing: the effective max follows the load (low → high → low), within its bounds and the shared budget. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { adaptPoolSize } from "../../src/distributed/index.ts";
import { type ConfigError, createPool, ErrorCode, type PoolEvents } from "../../src/index.ts";
import { eventually, sleep } from "../support/wait.ts";

function fakePool(max: number) {
	let next = 0;
	let open = 0;
	let peakOpen = 0;
	const pool = createPool<number>({
		max,
		idleTimeoutMs: 200,
		create: () => {
			open++;
			peakOpen = Math.max(peakOpen, open);
			return ++next;
		},
		destroy: () => {
			open--;
		},
	});
	return {
		pool,
		get open() {
			return open;
		},
		get peakOpen() {
			return peakOpen;
		},
	};
}

/** `callers` callers each holding a lease `holdMs`, until stopped. */
function load(pool: ReturnType<typeof fakePool>["pool"], callers: number, holdMs: number) {
	let stop = false;
	const done = Array.from({ length: callers }, async () => {
		while (!stop) {
			const lease = await pool.acquire({ timeoutMs: 5_000 });
			await sleep(holdMs);
			lease.release();
		}
	});
	return async () => {
		stop = true;
		await Promise.all(done);
	};
}

describe("adaptive sizing", () => {
	it("refuses bad options, listing every problem", () => {
		const { pool } = fakePool(10);
		assert.throws(
			() => adaptPoolSize(pool, { floor: 20, intervalMs: 1, targetUtilization: 2 }),
			(e: ConfigError) => e.code === ErrorCode.CONFIG_INVALID && /floor/.test(e.message) && /intervalMs/.test(e.message) && /targetUtilization/.test(e.message),
		);
	});

	it("grows fast under a load step, shrinks slowly after it, and says why each time", async () => {
		const f = fakePool(2);
		const events: PoolEvents["poolResized"][0][] = [];
		f.pool.on("poolResized", (e) => events.push(e));
		const sizer = adaptPoolSize(f.pool, { floor: 2, ceiling: 30, intervalMs: 100, shrinkAfter: 3 });
		try {
			const low = load(f.pool, 2, 20);
			await sleep(500);
			assert.ok(f.pool.options.max <= 4, `low load keeps it small (${f.pool.options.max})`);
			await low();

			const high = load(f.pool, 20, 20);
			const stepped = performance.now();
			assert.ok(await eventually(() => f.pool.options.max >= 20, 2_000), `grows to the load (${f.pool.options.max})`);
			const grewMs = performance.now() - stepped;
			await sleep(500);
			assert.equal(f.pool.pendingCount <= 2, true, "the load is served");
			await high();

			const lowAgain = load(f.pool, 2, 20);
			const calm = performance.now();
			await sleep(400);
			assert.ok(f.pool.options.max >= 10, `does not collapse at once (${f.pool.options.max})`);
			assert.ok(await eventually(() => f.pool.options.max <= 5, 8_000), `shrinks back (${f.pool.options.max})`);
			const shrankMs = performance.now() - calm;
			await lowAgain();
			assert.ok(grewMs < shrankMs, `grew in ${Math.round(grewMs)} ms, shrank in ${Math.round(shrankMs)} ms`);
			assert.ok(f.peakOpen <= 30, "never above the ceiling");
			const grows = events.filter((e) => e.reason.startsWith("adaptive: grow"));
			const shrinks = events.filter((e) => e.reason.startsWith("adaptive: shrink"));
			assert.ok(grows.length >= 1 && shrinks.length >= 2, `${grows.length} grows, ${shrinks.length} shrinks (shrinks come in steps)`);
			for (const e of events) assert.match(e.reason, /λ .* hold .* busy/, "the reason carries the figures");
		} finally {
			sizer.stop();
			await f.pool.close();
		}
	});

	it("never sizes above the shared budget's limit", async () => {
		const f = fakePool(4);
		const sizer = adaptPoolSize(f.pool, { ceiling: 50, intervalMs: 50, budget: { limit: 12 } });
		try {
			assert.equal(sizer.ceiling, 12);
			const high = load(f.pool, 40, 10);
			await sleep(600);
			await high();
			assert.equal(f.pool.options.max, 12);
			assert.ok(f.peakOpen <= 12);
		} finally {
			sizer.stop();
			await f.pool.close();
		}
	});
});
