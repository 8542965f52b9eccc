/** Run-time resize (`pool.resize`) and an external connection budget (`budget` option). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { BudgetedPool, ConnectionBudget } from "../../src/core/connection-budget.ts";
import { type ConfigError, createPool, ErrorCode, type Lease, type PoolEvents } from "../../src/index.ts";

function counted(extra: Record<string, unknown> = {}) {
	let next = 0;
	const open = new Set<number>();
	const pool = createPool<number>({
		create: () => {
			const id = ++next;
			open.add(id);
			return id;
		},
		destroy: (id) => {
			open.delete(id);
		},
		...extra,
	});
	return { pool, open };
}

/** A plain in-process budget of `slots`, waking blocked pools when a slot comes back. */
class LocalBudget implements ConnectionBudget {
	used = 0;
	reserveCalls = 0;
	owe = 0;
	readonly pools: BudgetedPool[] = [];
	readonly #blocked = new Set<BudgetedPool>();
	slots: number;
	constructor(slots: number) {
		this.slots = slots;
	}
	attach(pool: BudgetedPool): void {
		this.pools.push(pool);
	}
	tryReserve(): boolean {
		this.reserveCalls++;
		if (this.used >= this.slots) return false;
		this.used++;
		return true;
	}
	release(): void {
		this.used--;
		if (this.owe > 0) this.owe--;
		for (const p of [...this.#blocked]) {
			this.#blocked.delete(p);
			p.wake();
		}
	}
	blocked(): void {
		for (const p of this.pools) this.#blocked.add(p);
	}
	overdrawn(): boolean {
		return this.owe > 0;
	}
}

describe("pool.resize", () => {
	it("refuses bad sizes with CONFIG_INVALID naming every problem", () => {
		const { pool } = counted({ max: 4 });
		assert.throws(
			() => pool.resize({ min: -1, max: 2.5 }),
			(e: ConfigError) => e.code === ErrorCode.CONFIG_INVALID && /min/.test(e.message) && /max/.test(e.message),
		);
		assert.throws(() => pool.resize({ min: 5 }), /min \(5\) is greater than max \(4\)/);
		assert.equal(pool.stats().max, 4, "a refused resize changes nothing");
	});

	it("growing serves waiters at once and reports poolResized with the old and new sizes", async () => {
		const { pool } = counted({ max: 1 });
		const events: PoolEvents["poolResized"][0][] = [];
		pool.on("poolResized", (e) => events.push(e));
		const first = await pool.acquire();
		const second = pool.acquire({ timeoutMs: 2_000 });
		await sleep(20);
		assert.equal(pool.pendingCount, 1);
		pool.resize({ max: 2, reason: "test: more room" });
		const lease = await second;
		assert.deepEqual(events, [{ pool: pool.name, from: { min: 0, max: 1 }, to: { min: 0, max: 2 }, reason: "test: more room" }]);
		first.release();
		lease.release();
		await pool.close();
	});

	it("shrinking closes idle connections above the new max now and leased ones when they come back", async () => {
		const { pool, open } = counted({ max: 6 });
		const leases = await Promise.all(Array.from({ length: 6 }, () => pool.acquire()));
		for (const l of leases.slice(0, 3)) l.release();
		assert.equal(open.size, 6);
		pool.resize({ max: 2 });
		assert.equal(pool.idleCount, 0, "the idle ones above max are gone");
		assert.equal(pool.size, 3);
		leases[3]?.release();
		assert.equal(pool.size, 2, "a leased one above max goes on return");
		leases[4]?.release();
		assert.equal(pool.idleCount, 1, "at max again, returns are kept");
		leases[5]?.release();
		await pool.close();
		assert.equal(open.size, 0);
	});

	it("under load with random resizes never lends or creates beyond the current max", async () => {
		const { pool } = counted({ max: 8, acquireTimeoutMs: 5_000 });
		let violations = 0;
		pool.on("connectionCreated", () => {
			if (pool.size > pool.options.max) violations++;
		});
		pool.on("acquired", () => {
			if (pool.activeCount > pool.options.max) violations++;
		});
		let stop = false;
		const workers = Array.from({ length: 30 }, async () => {
			while (!stop) {
				const lease: Lease<number> = await pool.acquire();
				await sleep(Math.random() * 4);
				lease.release();
			}
		});
		for (let i = 0; i < 40; i++) {
			pool.resize({ max: 1 + Math.floor(Math.random() * 10) });
			await sleep(10);
		}
		stop = true;
		pool.resize({ max: 10 });
		await Promise.all(workers);
		assert.equal(violations, 0);
		assert.ok(pool.stats().acquires.ok > 100, "the load did run");
		await pool.close();
	});
});

describe("budget option", () => {
	it("refuses a budget without tryReserve/release", () => {
		assert.throws(
			() => counted({ budget: { tryReserve: () => true } }),
			(e: ConfigError) => e.code === ErrorCode.CONFIG_INVALID && /budget/.test(e.message),
		);
	});

	it("a refused slot makes the create wait (no retry loop) until the budget wakes the pool", async () => {
		const budget = new LocalBudget(2);
		const { pool: a } = counted({ max: 5, budget });
		const { pool: b } = counted({ max: 5, budget });
		const held = [await a.acquire(), await b.acquire()];
		const waiting = a.acquire({ timeoutMs: 3_000 });
		const callsAtRefusal = budget.reserveCalls;
		await sleep(200);
		assert.equal(a.pendingCount, 1, "still waiting for a slot");
		assert.ok(budget.reserveCalls - callsAtRefusal <= 1, `asked the budget ${budget.reserveCalls - callsAtRefusal} times while blocked: it must not spin`);
		held[1]?.destroy();
		const lease = await waiting;
		assert.equal(budget.used, 2);
		lease.release();
		held[0]?.release();
		await Promise.all([a.close(), b.close()]);
		assert.equal(budget.used, 0, "every slot is given back when the connections close");
	});

	it("a waiter still times out at its deadline when no slot comes", async () => {
		const budget = new LocalBudget(0);
		const { pool } = counted({ max: 5, budget });
		const started = performance.now();
		await assert.rejects(pool.acquire({ timeoutMs: 100 }), { code: ErrorCode.POOL_TIMEOUT });
		assert.ok(performance.now() - started < 400);
		await pool.close();
	});

	it("an overdrawn budget gets its slot back: the returning connection is closed, not reused", async () => {
		const budget = new LocalBudget(3);
		const { pool, open } = counted({ max: 5, budget });
		const leases = await Promise.all([pool.acquire(), pool.acquire()]);
		budget.owe = 1;
		leases[0]?.release();
		assert.equal(open.size, 1, "closed to pay the debt");
		leases[1]?.release();
		assert.equal(open.size, 1, "debt paid, the next one is kept");
		await pool.close();
	});
});
