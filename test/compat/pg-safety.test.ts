/**
 * Where `lifeguard/compat/pg` differs from pg.Pool on purpose (docs/migrating.md), and what the
 * lifeguard core adds underneath: each on the real PostgreSQL.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type pg from "pg";
import * as compat from "../../src/compat/pg.ts";
import { PoolManager } from "../../src/manager/manager.ts";
import { admin, appName, server } from "../postgres/helpers.ts";
import { requireService } from "../support/services.ts";
import { TcpProxy } from "../support/tcp-proxy.ts";
import { waitFor } from "../support/wait.ts";

function config(extra: compat.PoolConfig = {}): compat.PoolConfig {
	return { host: server.host, port: server.port, user: server.user, database: server.database, application_name: appName("compat-pg-safe"), ...extra };
}

let adminClient: pg.Client;

before(async () => {
	await requireService("postgres");
	adminClient = await admin();
});

after(async () => {
	await adminClient.end();
});

describe("an idle client's error never crashes the process", () => {
	it("without an 'error' listener on the pool, the failed idle client is removed and a process warning is emitted instead of a throw", async () => {
		const cfg = config();
		const pool = new compat.Pool(cfg);
		const warnings: Error[] = [];
		const onWarning = (w: Error) => warnings.push(w);
		process.on("warning", onWarning);
		try {
			(await pool.connect()).release();
			await adminClient.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", [cfg.application_name]);
			await waitFor("pool.totalCount === 0", () => pool.totalCount === 0);
			await waitFor("the LIFEGUARD_IDLE_CLIENT_ERROR warning", () =>
				warnings.some((w) => (w as Error & { code?: string }).code === "LIFEGUARD_IDLE_CLIENT_ERROR"),
			);
			assert.equal((await pool.query("SELECT 1 AS one")).rows[0].one, 1);
			assert.equal(pool.core.stats().destroyedByReason.error, 1);
		} finally {
			process.off("warning", onWarning);
			await pool.end();
		}
	});
});

describe("a client that fails while onConnect runs", () => {
	it("does not crash the process: the failed client never reaches a caller, the next one does", async () => {
		const cfg = config();
		let calls = 0;
		const pool = new compat.Pool({
			...cfg,
			onConnect: async () => {
				if (++calls > 1) return;
				await adminClient.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", [cfg.application_name]);
				await sleep(100);
			},
		});
		pool.on("error", () => {});
		try {
			const client = await pool.connect();
			assert.equal((await client.query("SELECT 1 AS one")).rows[0].one, 1);
			client.release();
			assert.equal(calls, 2, "a second client was made for the caller");
		} finally {
			await pool.end();
		}
	});
});

describe("end() with callers waiting", () => {
	it("callers queued behind a full pool are failed with pg-pool's 'Cannot use a pool after calling end on the pool' instead of waiting forever", async () => {
		const pool = new compat.Pool(config({ max: 1 }));
		const holder = await pool.connect();
		const waiting = pool.connect();
		await sleep(10);
		const ending = pool.end();
		await assert.rejects(waiting, { message: "Cannot use a pool after calling end on the pool" });
		holder.release();
		await ending;
		assert.equal(pool.ended, true);
	});
});

describe("connection failures", () => {
	it("each of several concurrent connects to a refusing server fails with the driver's error, one attempt each: no retry loop", async () => {
		const proxy = await TcpProxy.start(server.port, server.host);
		proxy.setMode("refuse");
		const pool = new compat.Pool(config({ host: "127.0.0.1", port: proxy.port }));
		try {
			const results = await Promise.allSettled([pool.connect(), pool.connect(), pool.connect()]);
			for (const r of results) assert.equal(r.status, "rejected");
			await sleep(100);
			const stats = pool.core.stats();
			assert.equal(stats.createFailures, 3, "one attempt per caller, no retries behind their backs");
			assert.equal(pool.totalCount, 0);
			proxy.setMode("pass");
			assert.equal((await pool.query("SELECT 1 AS one")).rows[0].one, 1, "the pool recovers once the server answers");
		} finally {
			await pool.end();
			await proxy.close();
		}
	});

	it("callers failed while queued behind a full pool leave no trace: waitingCount is 0, and the pool serves again once the server answers", async () => {
		const proxy = await TcpProxy.start(server.port, server.host);
		proxy.setMode("refuse");
		const pool = new compat.Pool(config({ host: "127.0.0.1", port: proxy.port, max: 1 }));
		try {
			const results = await Promise.allSettled([pool.connect(), pool.connect(), pool.connect()]);
			assert.deepEqual(
				results.map((r) => r.status),
				["rejected", "rejected", "rejected"],
			);
			assert.equal(pool.waitingCount, 0);
			assert.equal(pool.core.stats().pending, 0, "nor in the core's queue");
			proxy.setMode("pass");
			const client = await pool.connect();
			assert.equal((await client.query("SELECT 1 AS one")).rows[0].one, 1);
			client.release();
			await sleep(50);
			assert.equal(pool.totalCount, 1);
			assert.equal(pool.waitingCount, 0);
		} finally {
			await pool.end();
			await proxy.close();
		}
	});

	it("without connectionTimeoutMillis a connection attempt is still bounded: 10 s, with pg's timeout message", async () => {
		const proxy = await TcpProxy.start(server.port, server.host);
		proxy.setMode("stall");
		const pool = new compat.Pool(config({ host: "127.0.0.1", port: proxy.port }));
		try {
			const started = performance.now();
			await assert.rejects(pool.connect(), { message: "Connection terminated due to connection timeout" });
			const waited = performance.now() - started;
			assert.ok(waited >= 9_900 && waited < 12_000, `waited ${Math.round(waited)} ms`);
		} finally {
			await pool.end();
			await proxy.close();
		}
	});

	it("a client cut mid-query fails that query and leaves the pool; the next query gets a new client", async () => {
		const proxy = await TcpProxy.start(server.port, server.host);
		const pool = new compat.Pool(config({ host: "127.0.0.1", port: proxy.port }));
		try {
			await pool.query("SELECT 1");
			const running = pool.query("SELECT pg_sleep(5)");
			await sleep(50);
			proxy.cutAll();
			await assert.rejects(running);
			await waitFor("pool.totalCount === 0", () => pool.totalCount === 0);
			assert.equal((await pool.query("SELECT 2 AS two")).rows[0].two, 2);
		} finally {
			await pool.end();
			await proxy.close();
		}
	});
});

describe("the lifeguard core underneath (pool.core)", () => {
	it("a client is never lent to two callers: 40 concurrent queries on 3 clients each hold a distinct backend", async () => {
		const pool = new compat.Pool(config({ max: 3 }));
		const held = new Set<number>();
		let overlaps = 0;
		await Promise.all(
			Array.from({ length: 40 }, async () => {
				const client = await pool.connect();
				const pid = (await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0].pid;
				if (held.has(pid)) overlaps++;
				held.add(pid);
				await sleep(1);
				held.delete(pid);
				client.release();
			}),
		);
		assert.equal(overlaps, 0);
		assert.ok(pool.core.stats().peak.total <= 3);
		await pool.end();
	});

	it("exposes the core's statistics, health and CMAP events, and joins a PoolManager", async () => {
		const manager = new PoolManager();
		const pool = new compat.Pool(config({ name: "compat-pg-managed" }));
		const closed: string[] = [];
		pool.core.on("connectionClosed", (e) => closed.push(e.reason));
		manager.add(pool.core);
		await pool.query("SELECT 1");
		const client = await pool.connect();
		client.release(true);
		const stats = manager.stats()["compat-pg-managed"];
		assert.equal(stats.acquires.ok, 2);
		assert.equal(stats.created, 1);
		assert.deepEqual(closed, ["destroyed"]);
		assert.ok(pool.core.health().score > 0);
		await manager.close();
		await assert.rejects(pool.connect(), { message: "Cannot use a pool after calling end on the pool" });
	});

	it("is a ManagedClient: name, kind postgres, its pool labelled primary, close({ timeoutMs }) closes a client still checked out at the deadline", async () => {
		const pool = new compat.Pool(config({ name: "compat-pg-client" }));
		assert.equal(pool.name, "compat-pg-client");
		assert.equal(pool.kind, "postgres");
		assert.deepEqual(
			pool.pools().map((p) => p.label),
			["primary"],
		);
		assert.equal(pool.pools()[0].pool, pool.core);
		await pool.start();
		const client = await pool.connect();
		// A misspelt option is refused before anything closes (it used to close with the 30 s default).
		await assert.rejects(pool.close({ timoutMs: 100 } as never), /timoutMs: unknown close\(\) option \(did you mean "timeoutMs"\?\)/);
		assert.equal(pool.core.closed, false);
		const started = performance.now();
		await pool.close({ timeoutMs: 100 });
		assert.ok(performance.now() - started < 2_000);
		assert.equal(pool.ended, true);
		assert.equal(pool.totalCount, 0);
		client.release();
	});

	it("await using ends the pool at scope exit", async () => {
		let outer: compat.Pool | undefined;
		{
			await using pool = new compat.Pool(config());
			outer = pool;
			await pool.query("SELECT 1");
		}
		assert.equal(outer?.ended, true);
	});

	it("pool.core.name is the name option", async () => {
		const pool = new compat.Pool(config({ name: "compat-pg-named" }));
		assert.equal(pool.core.name, "compat-pg-named");
		await pool.end();
	});
});

describe("hand-offs inside release()", () => {
	it("callers that release inside their callback hand on down a long queue without overflowing the stack", async () => {
		const pool = new compat.Pool(config({ max: 1 }));
		const holder = await pool.connect();
		const n = 5000;
		let served = 0;
		const all = Array.from(
			{ length: n },
			() =>
				new Promise<void>((resolve, reject) =>
					pool.connect((error, client) => {
						if (error || client === undefined) return reject(error);
						served++;
						client.release();
						resolve();
					}),
				),
		);
		const uncaught: unknown[] = [];
		const onUncaught = (error: unknown) => uncaught.push(error);
		process.on("uncaughtException", onUncaught);
		holder.release();
		await Promise.race([Promise.all(all), sleep(2000)]);
		process.off("uncaughtException", onUncaught);
		assert.deepEqual(uncaught, []);
		assert.equal(served, n);
		assert.deepEqual({ idle: pool.idleCount, total: pool.totalCount, waiting: pool.waitingCount }, { idle: 1, total: 1, waiting: 0 });
		await pool.end();
	});

	it("connect(callback) never answers inside its own call, even when a core listener re-enters connect()", async () => {
		const pool = new compat.Pool(config({ max: 3, maxLifetimeSeconds: 60 }));
		const a = await pool.connect();
		const b = await pool.connect();
		a.release();
		b.release();
		let inner: Promise<void> | undefined;
		let entered = false;
		const listener = () => {
			if (entered) return;
			entered = true;
			inner = new Promise<void>((resolve) =>
				pool.connect((error, client) => {
					assert.ifError(error);
					client?.release();
					resolve();
				}),
			);
		};
		pool.core.on("acquireStarted", listener);
		let returned = false;
		let answeredEarly = false;
		const outer = new Promise<void>((resolve) =>
			pool.connect((error, client) => {
				if (!returned) answeredEarly = true;
				assert.ifError(error);
				client?.release();
				resolve();
			}),
		);
		returned = true;
		pool.core.off("acquireStarted", listener);
		await Promise.all([outer, inner]);
		await pool.end();
		assert.equal(answeredEarly, false, "called back inside connect()");
	});
});
