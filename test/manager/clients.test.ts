/** PoolManager holds every kind of client: core pools, keyed pools and any ManagedClient. */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { ErrorCode } from "../../src/core/errors.ts";
import { createKeyedPool } from "../../src/core/keyed-pool.ts";
import { createPool, type Pool } from "../../src/core/pool.ts";
import type { BreakerView, ManagedClient } from "../../src/manager/client.ts";
import { HealthStatus } from "../../src/manager/health.ts";
import { PoolManager } from "../../src/manager/manager.ts";

interface Res {
	id: number;
}

function counter() {
	let next = 0;
	return { create: () => ({ id: ++next }) as Res, destroy: () => {} };
}

/** A user's own client with a primary and a replica pool, breakers it reports, and a record of its lifecycle calls. */
function twoPoolClient(name: string, breakers: BreakerView[] = []) {
	const primary = createPool<Res>({ ...counter(), name: `${name}-primary`, min: 1 });
	const replica = createPool<Res>({ ...counter(), name: `${name}-replica`, min: 1 });
	const calls: string[] = [];
	const client: ManagedClient & { primary: Pool<Res>; replica: Pool<Res> } = {
		name,
		kind: "postgres",
		primary,
		replica,
		pools: () => [
			{ label: "primary", pool: primary },
			{ label: "replica[0]", pool: replica },
		],
		breakers: () => breakers,
		details: () => ({ dialect: "postgres" }),
		start: async () => {
			calls.push("start");
			await Promise.all([primary.start(), replica.start()]);
		},
		close: async (options) => {
			calls.push(`close ${options?.timeoutMs}`);
			await Promise.all([primary.close(options), replica.close(options)]);
		},
		[Symbol.asyncDispose]: () => client.close(),
	};
	return { client, calls };
}

const managers: PoolManager[] = [];
function manager(): PoolManager {
	const m = new PoolManager();
	managers.push(m);
	return m;
}
after(async () => {
	for (const m of managers) await m.close({ timeoutMs: 100 });
});

describe("a client with several pools", () => {
	it("add() returns the client, client() finds it as added, and get() says it is not a core pool", () => {
		const m = manager();
		const { client } = twoPoolClient("db");
		assert.equal(m.add(client), client);
		assert.equal(m.client("db"), client);
		assert.deepEqual(m.list(), ["db"]);
		assert.throws(
			() => m.get("db"),
			(err: Error & { code: string }) => err.code === ErrorCode.POOL_NOT_FOUND && /"db" is a postgres client.*client\("db"\)/.test(err.message),
		);
	});

	it("stats() shows the primary and each replica under <client>/<label>", async () => {
		const m = manager();
		const { client } = twoPoolClient("db");
		m.add(client);
		m.create("cache", counter());
		(await client.primary.acquire()).release();
		const stats = m.stats();
		assert.deepEqual(Object.keys(stats), ["db/primary", "db/replica[0]", "cache"]);
		assert.equal(stats["db/primary"].acquires.ok, 1);
		assert.equal(stats["db/replica[0]"].acquires.ok, 0);
		assert.deepEqual(
			m.managedPools().map((p) => [p.id, p.label, p.client.kind]),
			[
				["db/primary", "primary", "postgres"],
				["db/replica[0]", "replica[0]", "postgres"],
				["cache", "cache", "pool"],
			],
		);
	});

	it("start() and close() reach the client, with the close deadline", async () => {
		const m = manager();
		const { client, calls } = twoPoolClient("db");
		m.add(client);
		await m.start();
		assert.equal(client.primary.stats().idle, 1);
		await m.close({ timeoutMs: 250 });
		assert.deepEqual(calls, ["start", "close 250"]);
		assert.equal(client.primary.closed && client.replica.closed, true);
	});

	it("the health report has one entry per client with its pools by label", async () => {
		const m = manager();
		const { client } = twoPoolClient("db");
		m.add(client);
		await m.start();
		const report = m.health();
		assert.equal(report.status, HealthStatus.healthy);
		assert.equal(report.clients.db.kind, "postgres");
		assert.deepEqual(Object.keys(report.clients.db.pools), ["primary", "replica[0]"]);
		assert.equal(report.clients.db.pools.primary.id, "db/primary");
		assert.deepEqual(report.clients.db.pools.primary.size, { total: 1, active: 0, idle: 1, creating: 0, pending: 0, min: 1, max: 10 });
		assert.equal(report.pools["db/replica[0]"].status, HealthStatus.healthy);
	});

	it("a replica below min degrades the client and the report, naming the replica", () => {
		const m = manager();
		m.add(twoPoolClient("db").client);
		const report = m.health();
		assert.equal(report.status, HealthStatus.degraded);
		assert.equal(report.clients.db.status, HealthStatus.degraded);
		assert.ok(report.reasons.includes("db: replica[0]: 0 of min 1 connections open"), report.reasons.join("; "));
	});

	it("an open circuit breaker degrades its client; all breakers open make it unhealthy", async () => {
		const m = manager();
		const one: BreakerView[] = [
			{ label: "https://a.example", state: "open", failures: 5, lastError: "ECONNREFUSED" },
			{ label: "https://b.example", state: "closed", failures: 0 },
		];
		const { client } = twoPoolClient("api", one);
		m.add(client);
		await m.start();
		let report = m.health();
		assert.equal(report.clients.api.status, HealthStatus.degraded);
		assert.match(report.reasons.join(), /circuit breaker for https:\/\/a.example is open \(last error: ECONNREFUSED\)/);
		assert.deepEqual(report.clients.api.breakers, one);
		one[1] = { ...one[1], state: "open" };
		report = m.health();
		assert.equal(report.status, HealthStatus.unhealthy);
	});
});

describe("a keyed pool", () => {
	it("shows one pool per live key, keys opened later included, and closes with the manager", async () => {
		const m = manager();
		const keyed = createKeyedPool<string, Res>({ name: "origins", create: counter().create, maxPerKey: 2 });
		assert.equal(m.add(keyed), keyed);
		assert.deepEqual(Object.keys(m.stats()), []);
		(await keyed.acquire("https://a.example")).release();
		(await keyed.acquire("https://b.example")).release();
		assert.deepEqual(Object.keys(m.stats()), ["origins/https://a.example", "origins/https://b.example"]);
		assert.equal(m.health().clients.origins.kind, "keyed");
		await m.close();
		assert.equal(keyed.pool("https://a.example").closed, true);
	});

	it("its events reach the manager with the key, also for keys opened after add()", async () => {
		const m = manager();
		const keyed = createKeyedPool<string, Res>({ name: "origins", create: counter().create });
		m.add(keyed);
		const seen: string[] = [];
		m.on("acquired", (e) => seen.push(`${e.pool}#${e.connectionId}`));
		(await keyed.acquire("a")).release();
		(await keyed.acquire("b")).release();
		assert.deepEqual(seen, ["origins[a]#1", "origins[b]#1"]);
	});
});

describe("events from a client's pools", () => {
	it("are forwarded from every pool a client lists", async () => {
		const m = manager();
		const { client } = twoPoolClient("db");
		m.add(client);
		const seen: string[] = [];
		m.on("acquired", (e) => seen.push(e.pool));
		(await client.primary.acquire()).release();
		(await client.replica.acquire()).release();
		assert.deepEqual(seen, ["db-primary", "db-replica"]);
	});

	it("stop when the client is removed", async () => {
		const m = manager();
		const { client } = twoPoolClient("db");
		m.add(client);
		m.on("acquired", () => {});
		assert.equal(client.primary.listenerCount("acquired"), 1);
		await m.remove("db");
		assert.equal(client.primary.listenerCount("acquired"), 0);
	});
});

describe("readiness", () => {
	it("is not ready while a pool is below min, ready once started, not ready once shutdown begins", async () => {
		const m = manager();
		m.create("orders", { ...counter(), min: 2 });
		assert.deepEqual(m.readiness(), { ready: false, reasons: ["orders: 0 of min 2 connections open"] });
		await m.start();
		assert.deepEqual(m.readiness(), { ready: true, reasons: [] });
		const events: string[] = [];
		m.on("shuttingDown", () => events.push("shuttingDown"));
		m.beginShutdown();
		m.beginShutdown();
		assert.deepEqual(events, ["shuttingDown"]);
		assert.deepEqual(m.readiness(), { ready: false, reasons: ["shutting down"] });
		assert.equal(m.health().shuttingDown, true);
	});
});

describe("error rate", () => {
	it("counts failed creates and timed-out acquires against everything attempted, per pool and overall", async () => {
		const m = manager();
		const ok = m.create("ok", counter());
		for (let i = 0; i < 3; i++) (await ok.acquire()).release();
		const down = m.create("down", {
			create: () => {
				throw new Error("ECONNREFUSED");
			},
			acquireTimeoutMs: 30,
			createRetryInitialMs: 5,
		});
		await assert.rejects(down.acquire(), { code: ErrorCode.POOL_TIMEOUT });
		const report = m.health();
		assert.equal(report.pools.ok.errorRate, 0);
		assert.equal(report.pools.down.errorRate, 1);
		assert.equal(report.pools.down.status, HealthStatus.unhealthy);
		assert.ok(report.errorRate > 0 && report.errorRate < 1, `overall ${report.errorRate}`);
		assert.match(report.pools.down.lastError ?? "", /ECONNREFUSED/);
	});
});
