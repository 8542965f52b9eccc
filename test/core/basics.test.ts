import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createPool, ErrorCode, type PoolOptions } from "../../src/index.ts";

interface Res {
	id: number;
	closed: boolean;
}

function factory(extra: Partial<PoolOptions<Res>> = {}) {
	let next = 0;
	const live = new Set<Res>();
	const options: PoolOptions<Res> = {
		create: () => {
			const r = { id: ++next, closed: false };
			live.add(r);
			return r;
		},
		destroy: (r) => {
			r.closed = true;
			live.delete(r);
		},
		...extra,
	};
	return { options, live };
}

describe("acquire and release", () => {
	it("creates on demand, reuses released connections and counts them", async () => {
		const { options, live } = factory();
		const pool = createPool({ ...options, max: 2 });
		const a = await pool.acquire();
		assert.equal(a.resource.id, 1);
		assert.equal(a.connectionId, 1);
		a.release();
		const b = await pool.acquire();
		assert.equal(b.resource, a.resource);
		b.release();
		const s = pool.stats();
		assert.equal(s.created, 1);
		assert.equal(s.acquires.ok, 2);
		assert.equal(s.idle, 1);
		assert.equal(s.reuseRatio, 0.5);
		await pool.close();
		assert.equal(live.size, 0);
	});

	it("queues callers first in, first out when all connections are leased", async () => {
		const { options } = factory();
		const pool = createPool({ ...options, max: 1 });
		const first = await pool.acquire();
		const order: number[] = [];
		const waiting = [1, 2, 3].map((n) => pool.acquire().then((l) => (order.push(n), l.release())));
		first.release();
		await Promise.all(waiting);
		assert.deepEqual(order, [1, 2, 3]);
		await pool.close();
	});

	it("rejects with POOL_TIMEOUT naming the pool and its state", async () => {
		const { options } = factory();
		const pool = createPool({ ...options, name: "orders", max: 1 });
		const held = await pool.acquire();
		const t = performance.now();
		await assert.rejects(pool.acquire({ timeoutMs: 50 }), (err: Error & { code: string }) => {
			assert.equal(err.code, ErrorCode.POOL_TIMEOUT);
			assert.match(err.message, /pool "orders"/);
			assert.match(err.message, /in use 1/);
			return true;
		});
		assert.ok(performance.now() - t < 200);
		held.release();
		await pool.close();
	});
});
