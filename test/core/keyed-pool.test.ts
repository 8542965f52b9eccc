/** Keyed pools: per-key cap, one global budget, one bounded queue, room made across keys. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { type ConfigError, createKeyedPool, ErrorCode, type KeyedPoolOptions } from "../../src/index.ts";

interface Conn {
	key: string;
	id: number;
	open: boolean;
}

function keyed(extra: Partial<KeyedPoolOptions<string, Conn>> = {}) {
	let next = 0;
	const open = new Set<Conn>();
	const pool = createKeyedPool<string, Conn>({
		create: (key) => {
			const c = { key, id: ++next, open: true };
			open.add(c);
			return c;
		},
		destroy: (c) => {
			c.open = false;
			open.delete(c);
		},
		...extra,
	});
	return { pool, open };
}

describe("keyed pool", () => {
	it("keeps one pool per key and never more than maxPerKey for a key", async () => {
		const { pool } = keyed({ maxPerKey: 2, maxTotal: 10 });
		const leases = await Promise.all([pool.acquire("a"), pool.acquire("a"), pool.acquire("b")]);
		const third = pool.acquire("a", { timeoutMs: 30 });
		await assert.rejects(third, { code: ErrorCode.POOL_TIMEOUT });
		assert.equal(pool.pool("a").size, 2);
		assert.equal(pool.size, 3);
		assert.deepEqual(pool.keys().sort(), ["a", "b"]);
		for (const l of leases) l.release();
		await pool.close();
	});

	it("closes an idle connection of one key to make room for a waiter of another", async () => {
		const { pool, open } = keyed({ maxPerKey: 2, maxTotal: 2 });
		const a1 = await pool.acquire("a");
		const a2 = await pool.acquire("a");
		a1.release();
		a2.release();
		assert.equal(pool.size, 2);
		const reasons: string[] = [];
		pool.on("connectionClosed", (e) => reasons.push(`${e.key}:${e.reason}`));
		const b = await pool.acquire("b", { timeoutMs: 200 });
		assert.equal(b.resource.key, "b");
		assert.deepEqual(reasons, ["a:idle"]);
		assert.ok(pool.size <= 2);
		b.release();
		await pool.close();
		assert.equal(open.size, 0);
	});

	it("hands freed budget to blocked keys first come, first served", async () => {
		const { pool } = keyed({ maxPerKey: 2, maxTotal: 2 });
		const held = [await pool.acquire("x"), await pool.acquire("x")];
		const order: string[] = [];
		const waits = ["b", "c", "d"].map(async (key) => {
			const lease = await pool.acquire(key, { timeoutMs: 1_000 });
			order.push(key);
			await sleep(1);
			lease.release();
		});
		await sleep(5);
		held[0].destroy();
		held[1].destroy();
		await Promise.all(waits);
		assert.deepEqual(order.slice(0, 2), ["b", "c"]);
		assert.equal(order.length, 3);
		await pool.close();
	});

	it("bounds the waiters of all keys together with maxWaiters", async () => {
		const { pool } = keyed({ maxPerKey: 1, maxTotal: 1, maxWaiters: 2 });
		const held = await pool.acquire("a");
		const w1 = pool.acquire("a");
		const w2 = pool.acquire("b");
		await assert.rejects(pool.acquire("c"), { code: ErrorCode.POOL_QUEUE_FULL });
		held.release();
		(await w1).release();
		(await w2).release();
		await pool.close();
	});

	it("reports per-key statistics and the budget in use", async () => {
		const { pool } = keyed({ maxTotal: 5 });
		await pool.use("a", async () => {});
		await pool.use("b", async () => {});
		const s = pool.stats();
		assert.equal(s.total, 2);
		assert.equal(s.maxTotal, 5);
		assert.deepEqual(Object.keys(s.keys).sort(), ["a", "b"]);
		assert.equal(s.keys.a.acquires.ok, 1);
		assert.equal(s.keys.a.name, "keyed[a]");
		await pool.remove("a");
		assert.equal(pool.has("a"), false);
		assert.equal(pool.size, 1);
		await pool.close();
		await assert.rejects(pool.acquire("a"), { code: ErrorCode.POOL_CLOSED });
	});

	it("rejects bad options listing every problem, including the per-key pool's", () => {
		assert.throws(
			() => createKeyedPool({ create: () => ({}), maxPerKey: 20, maxTotal: 10, idleTimeoutMs: -1, bogus: 1 } as unknown as KeyedPoolOptions<string, object>),
			(e: ConfigError) => {
				assert.equal(e.code, ErrorCode.CONFIG_INVALID);
				assert.deepEqual(e.problems.map((p) => p.path).sort(), ["bogus", "idleTimeoutMs", "maxPerKey"]);
				return true;
			},
		);
	});
});

describe("keyed events through the shared listener-aware emitter", () => {
	it("forwards a key's events with its key from the first listener on, and a throwing listener only warns", async () => {
		const keyed = createKeyedPool<string, object>({ create: () => ({}) });
		(await keyed.acquire("early")).release();
		const seen: string[] = [];
		keyed.on("acquired", (e) => seen.push(e.key));
		keyed.on("released", () => {
			throw new Error("listener bug");
		});
		const warned = new Promise<Error & { code?: string }>((resolve) => process.once("warning", resolve));
		(await keyed.acquire("early")).release();
		(await keyed.acquire("late")).release();
		assert.deepEqual(seen, ["early", "late"]);
		assert.equal((await warned).code, "LIFEGUARD_LISTENER_ERROR");
		assert.equal(keyed.size, 2, "both connections are back, idle");
		await keyed.close();
	});
});
