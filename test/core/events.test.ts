/** The order of the pool's events, after MongoDB's CMAP spec (docs/core.md "Events"). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createPool, type Pool, PoolEvent, type PoolEventName } from "../../src/index.ts";

/** Records every event as "name[:connectionId][:reason]", plus marks the test adds. */
function record(pool: Pool<unknown>): string[] {
	const log: string[] = [];
	for (const name of Object.values(PoolEvent) as PoolEventName[]) {
		(pool as Pool<unknown>).on(name, (e: { connectionId?: number; reason?: string }) =>
			log.push([name, e.connectionId, e.reason].filter((x) => x !== undefined).join(":")),
		);
	}
	return log;
}

describe("poolReady: marked ready before the min connections are created", () => {
	it("start() emits poolCreated, then poolReady, then creates min; its promise resolves once they are open", async () => {
		const pool = createPool<object>({ create: async () => ({}), min: 2 });
		const log = record(pool as Pool<unknown>);
		const started = pool.start().then(() => log.push("start resolved"));
		assert.deepEqual(log.slice(0, 2), ["poolCreated", "poolReady"]);
		await started;
		assert.deepEqual(log, [
			"poolCreated",
			"poolReady",
			"connectionCreated:1",
			"connectionCreated:2",
			"connectionReady:1",
			"connectionReady:2",
			"start resolved",
		]);
		await pool.close();
	});

	it("is emitted once, however often start() is called", async () => {
		const pool = createPool<object>({ create: () => ({}), min: 1 });
		const log = record(pool as Pool<unknown>);
		await pool.start();
		await pool.start();
		assert.equal(log.filter((e) => e === "poolReady").length, 1);
		await pool.close();
	});

	it("is emitted even while the backend is down: ready means accepting work, not connected", async () => {
		const pool = createPool<object>({ create: () => Promise.reject(new Error("ECONNREFUSED")), min: 1, createRetryInitialMs: 5 });
		const log = record(pool as Pool<unknown>);
		const started = pool.start();
		started.catch(() => {});
		assert.deepEqual(log.slice(0, 2), ["poolCreated", "poolReady"]);
		await pool.close();
		await assert.rejects(started, { code: "POOL_CLOSED" });
	});
});

describe("poolClosed: marked closed after the idle connections, before the leased ones", () => {
	it("idle connections close, then poolClosed, then the leased one when it comes back; close() resolves last", async () => {
		const pool = createPool<object>({ create: () => ({}) });
		const log = record(pool as Pool<unknown>);
		await sleep(0);
		const leased = await pool.acquire();
		(await pool.acquire()).release();
		log.length = 0;
		const closing = pool.close().then(() => log.push("close resolved"));
		assert.deepEqual(log, ["connectionClosed:2:poolClosed", "poolClosed"]);
		leased.release();
		await closing;
		assert.deepEqual(log, ["connectionClosed:2:poolClosed", "poolClosed", "released:1", "connectionClosed:1:poolClosed", "close resolved"]);
	});

	it("a lease kept past the close deadline is closed after poolClosed", async () => {
		const pool = createPool<object>({ create: () => ({}) });
		const log = record(pool as Pool<unknown>);
		await pool.acquire();
		assert.deepEqual(
			log,
			["poolCreated", "acquireStarted", "connectionCreated:1", "connectionReady:1", "acquired:1"],
			"poolCreated first even before its tick",
		);
		log.length = 0;
		await pool.close({ timeoutMs: 20 });
		assert.deepEqual(log, ["poolClosed", "connectionClosed:1:poolClosed"]);
	});

	it("is emitted once, and close() called again returns the same promise", async () => {
		const pool = createPool<object>({ create: () => ({}) });
		const log = record(pool as Pool<unknown>);
		const first = pool.close();
		assert.equal(pool.close(), first);
		await first;
		assert.equal(log.filter((e) => e === "poolClosed").length, 1);
	});
});

describe("the life of one acquire", () => {
	it("acquireStarted, connectionCreated, connectionReady, acquired, released; a failure is acquireFailed", async () => {
		const pool = createPool<object>({ create: () => ({}), max: 1 });
		const log = record(pool as Pool<unknown>);
		await sleep(0);
		log.length = 0;
		const lease = await pool.acquire();
		await assert.rejects(pool.acquire({ timeoutMs: 10 }));
		lease.release();
		assert.deepEqual(log, [
			"acquireStarted",
			"connectionCreated:1",
			"connectionReady:1",
			"acquired:1",
			"acquireStarted",
			"acquireFailed:timeout",
			"released:1",
		]);
		await pool.close();
	});
});
