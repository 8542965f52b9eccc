/** PoolManager: named pools, statistics and health together, events, close. */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { ErrorCode, type LifeguardError } from "../../src/core/errors.ts";
import type { PoolOptions } from "../../src/core/options.ts";
import { createPool, type Pool } from "../../src/core/pool.ts";
import { HEALTH_THRESHOLDS, HealthStatus } from "../../src/manager/health.ts";
import { defaultManager, PoolManager } from "../../src/manager/manager.ts";

interface Res {
	id: number;
	open: boolean;
}

function backend() {
	let next = 0;
	const state = { open: new Set<Res>(), failing: false };
	const options = {
		create: () => {
			if (state.failing) throw new Error("ECONNREFUSED 127.0.0.1:1");
			const r = { id: ++next, open: true };
			state.open.add(r);
			return r;
		},
		destroy: (r: Res) => {
			r.open = false;
			state.open.delete(r);
		},
	} satisfies Omit<PoolOptions<Res>, "name">;
	return { options, state };
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

describe("naming pools", () => {
	it("create() registers a pool under its name, and get/has/list find it", () => {
		const m = manager();
		const orders = m.create("orders", backend().options);
		const cache = m.create("cache", backend().options);
		assert.equal(orders.name, "orders");
		assert.equal(m.get("orders"), orders);
		assert.equal(m.get<Res>("cache"), cache);
		assert.equal(m.has("orders"), true);
		assert.equal(m.has("users"), false);
		assert.deepEqual(m.list(), ["orders", "cache"]);
		assert.deepEqual(m.pools(), [orders, cache]);
	});

	it("add() manages an existing pool under its own name", () => {
		const m = manager();
		const pool = createPool({ ...backend().options, name: "reports" });
		assert.equal(m.add(pool), pool);
		assert.equal(m.get("reports"), pool);
	});

	it("a duplicate name is POOL_EXISTS, from create() and from add()", () => {
		const m = manager();
		m.create("orders", backend().options);
		assert.throws(
			() => m.create("orders", backend().options),
			(err: LifeguardError) => {
				assert.equal(err.code, ErrorCode.POOL_EXISTS);
				assert.match(err.message, /"orders" is already managed/);
				return true;
			},
		);
		const twin = createPool({ ...backend().options, name: "orders" });
		assert.throws(() => m.add(twin), { code: ErrorCode.POOL_EXISTS });
		assert.deepEqual(m.list(), ["orders"]);
	});

	it("get() of an unknown name is POOL_NOT_FOUND listing the known names", () => {
		const m = manager();
		assert.throws(
			() => m.get("orders"),
			(err: LifeguardError & { known: string[] }) => {
				assert.equal(err.code, ErrorCode.POOL_NOT_FOUND);
				assert.match(err.message, /known pools: none yet/);
				return true;
			},
		);
		m.create("cache", backend().options);
		m.create("users", backend().options);
		assert.throws(
			() => m.get("orders"),
			(err: LifeguardError & { known: string[] }) => {
				assert.equal(err.code, ErrorCode.POOL_NOT_FOUND);
				assert.match(err.message, /no pool named "orders".*known pools: "cache", "users"/);
				assert.deepEqual(err.known, ["cache", "users"]);
				return true;
			},
		);
	});

	it("remove() closes the pool, forgets it and frees the name", async () => {
		const m = manager();
		const { options, state } = backend();
		const pool = m.create("orders", options);
		(await pool.acquire()).release();
		assert.equal(state.open.size, 1);
		await m.remove("orders");
		assert.equal(pool.closed, true);
		assert.equal(state.open.size, 0);
		assert.equal(m.has("orders"), false);
		const again = m.create("orders", options);
		assert.notEqual(again, pool);
	});

	it("remove() and close() refuse an unknown option before closing anything (a client's own refusal was lost, and close() resolved with every pool open)", async () => {
		const m = manager();
		const pool = m.create("orders", backend().options);
		await assert.rejects(m.remove("orders", { timoutMs: 0 } as never), (error: LifeguardError) => {
			assert.equal(error.code, ErrorCode.CONFIG_INVALID);
			assert.match(error.message, /timoutMs: unknown close\(\) option \(did you mean "timeoutMs"\?\)/);
			return true;
		});
		assert.equal(m.has("orders"), true);
		await assert.rejects(m.close({ timoutMs: 0 } as never), { code: ErrorCode.CONFIG_INVALID });
		assert.equal(pool.closed, false);
		assert.equal(m.has("orders"), true);
		await m.close({ timeoutMs: 0 });
		assert.equal(pool.closed, true);
	});

	it("remove() of an unknown name rejects with POOL_NOT_FOUND", async () => {
		await assert.rejects(manager().remove("ghost"), { code: ErrorCode.POOL_NOT_FOUND });
	});
});

describe("statistics", () => {
	it("stats() reports every pool keyed by name", async () => {
		const m = manager();
		const orders = m.create("orders", { ...backend().options, max: 3 });
		m.create("cache", { ...backend().options, max: 5 });
		const lease = await orders.acquire();
		const stats = m.stats();
		assert.deepEqual(Object.keys(stats), ["orders", "cache"]);
		assert.equal(stats.orders.active, 1);
		assert.equal(stats.orders.max, 3);
		assert.equal(stats.cache.max, 5);
		assert.equal(stats.cache.total, 0);
		lease.release();
	});

	it("resetStats() starts a new window in every pool", async () => {
		const m = manager();
		const pools = [m.create("a", backend().options), m.create("b", backend().options)];
		for (const pool of pools) {
			const leases = await Promise.all([pool.acquire(), pool.acquire()]);
			for (const lease of leases) lease.release();
		}
		assert.deepEqual(
			Object.values(m.stats()).map((s) => s.peak.active),
			[2, 2],
		);
		m.resetStats();
		assert.deepEqual(
			Object.values(m.stats()).map((s) => [s.peak.active, s.acquires.ok]),
			[
				[0, 2],
				[0, 2],
			],
		);
	});

	it("start() warms min in every pool", async () => {
		const m = manager();
		m.create("a", { ...backend().options, min: 2 });
		m.create("b", { ...backend().options, min: 1 });
		await m.start();
		assert.deepEqual(
			Object.values(m.stats()).map((s) => s.idle),
			[2, 1],
		);
	});
});

describe("events", () => {
	it("poolAdded and poolRemoved name the pool", async () => {
		const m = manager();
		const seen: string[] = [];
		m.on("poolAdded", ({ pool }) => seen.push(`added ${pool}`));
		m.on("poolRemoved", ({ pool }) => seen.push(`removed ${pool}`));
		m.create("orders", backend().options);
		m.add(createPool({ ...backend().options, name: "cache" }));
		await m.remove("orders");
		assert.deepEqual(seen, ["added orders", "added cache", "removed orders"]);
	});

	it("pool events are re-emitted with the pool's name, also from pools added later", async () => {
		const m = manager();
		const orders = m.create("orders", backend().options);
		const acquired: string[] = [];
		m.on("acquired", ({ pool, connectionId }) => acquired.push(`${pool}#${connectionId}`));
		const cache = m.create("cache", backend().options);
		(await orders.acquire()).release();
		(await cache.acquire()).release();
		(await cache.acquire()).release();
		assert.deepEqual(acquired, ["orders#1", "cache#1", "cache#1"]);
	});

	it("forwards only while someone listens, so pools build no payloads for nobody", () => {
		const m = manager();
		const pool = m.create("orders", backend().options);
		assert.equal(pool.listenerCount("released"), 0);
		const listener = () => {};
		m.on("released", listener);
		m.on("released", listener);
		assert.equal(pool.listenerCount("released"), 1);
		m.off("released", listener);
		assert.equal(pool.listenerCount("released"), 1);
		m.off("released", listener);
		assert.equal(pool.listenerCount("released"), 0);
	});

	it("a removed pool's poolClosed still reaches the manager, then it is detached", async () => {
		const m = manager();
		const pool = m.create("orders", backend().options);
		const closed: string[] = [];
		m.on("poolClosed", ({ pool }) => closed.push(pool));
		await m.remove("orders");
		assert.deepEqual(closed, ["orders"]);
		assert.equal(pool.listenerCount("poolClosed"), 0);
	});
});

describe("health", () => {
	it("an empty manager is healthy", () => {
		const report = manager().health();
		assert.equal(report.status, HealthStatus.healthy);
		assert.deepEqual(report.pools, {});
		assert.deepEqual(report.clients, {});
		assert.deepEqual(report.reasons, []);
		assert.equal(report.errorRate, 0);
	});

	it("a working pool is healthy with its score and stats", async () => {
		const m = manager();
		const pool = m.create("orders", backend().options);
		(await pool.acquire()).release();
		const report = m.health();
		assert.equal(report.status, HealthStatus.healthy);
		assert.equal(report.pools.orders.status, HealthStatus.healthy);
		assert.equal(report.pools.orders.score, 100);
		assert.deepEqual(report.pools.orders.reasons, []);
		assert.equal(report.pools.orders.stats.acquires.ok, 1);
	});

	it("a pool below min is degraded, and the manager with it", () => {
		const m = manager();
		m.create("ok", backend().options);
		m.create("cold", { ...backend().options, min: 2 });
		const report = m.health();
		assert.equal(report.pools.ok.status, HealthStatus.healthy);
		assert.equal(report.pools.cold.status, HealthStatus.degraded);
		assert.match(report.pools.cold.reasons.join(), /0 of min 2 connections open/);
		assert.equal(report.status, HealthStatus.degraded);
	});

	it("a saturated pool (callers waiting, every connection in use) is degraded", async () => {
		const m = manager();
		const pool = m.create("busy", { ...backend().options, max: 1 });
		const held = await pool.acquire();
		const waiting = pool.acquire();
		const report = m.health();
		assert.equal(report.pools.busy.status, HealthStatus.degraded);
		assert.match(report.pools.busy.reasons.join(), /saturated: 1 callers waiting/);
		held.release();
		(await waiting).release();
		assert.equal(m.health().status, HealthStatus.healthy);
	});

	it(`a pool whose creates fail scores below ${HEALTH_THRESHOLDS.degradedScore} and is unhealthy, which makes the manager unhealthy`, async () => {
		const m = manager();
		m.create("ok", backend().options);
		const { options, state } = backend();
		state.failing = true;
		const down = m.create("down", { ...options, acquireTimeoutMs: 50 });
		await assert.rejects(down.acquire(), { code: ErrorCode.POOL_TIMEOUT });
		const report = m.health();
		assert.equal(report.pools.down.status, HealthStatus.unhealthy);
		assert.ok(report.pools.down.score < HEALTH_THRESHOLDS.degradedScore);
		assert.match(report.pools.down.reasons.join("\n"), /last create error: ECONNREFUSED/);
		assert.equal(report.status, HealthStatus.unhealthy);
	});

	it(`a pool whose connection reports faults scores below ${HEALTH_THRESHOLDS.healthyScore} and is degraded`, async () => {
		const m = manager();
		const pool = m.create("flaky", { ...backend().options, classifyError: () => "connection" });
		for (let i = 0; i < 3; i++) (await pool.acquire()).release();
		const lease = await pool.acquire();
		lease.reportError(new Error("ECONNRESET"));
		lease.release();
		const report = m.health().pools.flaky;
		assert.ok(report.score >= HEALTH_THRESHOLDS.degradedScore && report.score < HEALTH_THRESHOLDS.healthyScore, `score ${report.score}`);
		assert.equal(report.status, HealthStatus.degraded);
		assert.match(report.reasons.join(), /health score \d+ is below 80/);
	});

	it("a closed pool is unhealthy", async () => {
		const m = manager();
		const pool = m.create("gone", backend().options);
		await pool.close();
		const report = m.health();
		assert.equal(report.pools.gone.status, HealthStatus.unhealthy);
		assert.match(report.pools.gone.reasons.join(), /pool is closed/);
	});
});

describe("close", () => {
	it("closes every pool in parallel under one deadline", async () => {
		const m = manager();
		const backends = [backend(), backend(), backend()];
		const pools = backends.map((b, i) => m.create(`p${i}`, b.options));
		for (const pool of pools) await pool.acquire();
		const started = performance.now();
		// One deadline for all three: in parallel about 1 s, one after another at least 3 s. The bound leaves 1.5 s for a loaded machine.
		await m.close({ timeoutMs: 1_000 });
		const took = performance.now() - started;
		assert.ok(took >= 950 && took < 2_500, `close took ${took} ms`);
		assert.ok(pools.every((p) => p.closed));
		assert.ok(backends.every((b) => b.state.open.size === 0));
	});

	it("resolves as soon as every lease is back", async () => {
		const m = manager();
		const pool = m.create("orders", backend().options);
		const lease = await pool.acquire();
		setTimeout(() => lease.release(), 30);
		const started = performance.now();
		await m.close({ timeoutMs: 5_000 });
		assert.ok(performance.now() - started < 1_000);
	});

	it("takes no new pools afterwards and is idempotent", async () => {
		const m = manager();
		m.create("orders", backend().options);
		const first = m.close();
		assert.equal(m.close(), first);
		await first;
		assert.equal(m.closed, true);
		assert.throws(() => m.create("late", backend().options), { code: ErrorCode.POOL_CLOSED });
		assert.throws(() => m.add(createPool({ ...backend().options, name: "late" })), { code: ErrorCode.POOL_CLOSED });
	});

	it("await using closes the manager's pools at scope exit", async () => {
		let pool: Pool<Res>;
		{
			await using m = new PoolManager();
			pool = m.create("scoped", backend().options);
		}
		assert.equal(pool.closed, true);
	});

	it("closeOnSignals() handlers are removed by close()", async () => {
		const before = process.listenerCount("SIGTERM");
		const m = new PoolManager({ closeOnSignals: true });
		assert.equal(process.listenerCount("SIGTERM"), before + 1);
		assert.equal(process.listenerCount("SIGINT") >= 1, true);
		await m.close();
		assert.equal(process.listenerCount("SIGTERM"), before);
	});
});

describe("defaultManager", () => {
	it("is one process-wide instance", async () => {
		const m = defaultManager();
		assert.equal(defaultManager(), m);
		const pool = m.create("default-test", backend().options);
		assert.equal(defaultManager().get("default-test"), pool);
		await m.remove("default-test");
		await sleep(0);
	});
});
