/**
 * Where `lifeguard/compat/mysql2` differs from mysql2's pool on purpose (docs/migrating.md), and
 * what the lifeguard core adds underneath: each on the real MariaDB.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type mysql from "mysql2";
import { createPool } from "../../src/compat/mysql2.ts";
import { ErrorCode } from "../../src/core/errors.ts";
import { PoolManager } from "../../src/manager/manager.ts";
import { requireService, services } from "../support/services.ts";
import { TcpProxy } from "../support/tcp-proxy.ts";

const { host, port, user, database } = services.mysql;

function getConnection(pool: mysql.Pool): Promise<mysql.PoolConnection> {
	return new Promise((resolve, reject) => pool.getConnection((err, conn) => (err ? reject(err) : resolve(conn))));
}

function end(pool: mysql.Pool): Promise<void> {
	return new Promise((resolve) => pool.end(() => resolve()));
}

before(async () => {
	await requireService("mysql");
});

describe("acquireTimeout (a lifeguard option)", () => {
	it("bounds the wait for a connection with POOL_TIMEOUT, which says the pool's state", async () => {
		const pool = createPool({ host, port, user, database, connectionLimit: 1, acquireTimeout: 100 });
		// The one connection is opened first with a deadline of its own: on a loaded machine the connect alone took over
		// 100 ms, and the holder's own acquire failed with the POOL_TIMEOUT meant for the second one.
		(await pool.core.acquire({ timeoutMs: 10_000 })).release();
		const holder = await getConnection(pool);
		const started = performance.now();
		await assert.rejects(getConnection(pool), (error: Error & { code?: string }) => {
			assert.equal(error.code, ErrorCode.POOL_TIMEOUT);
			assert.match(error.message, /size 1\/1, idle 0, in use 1/);
			return true;
		});
		assert.ok(performance.now() - started >= 95);
		holder.release();
		await end(pool);
	});

	it("is not passed to mysql2 as a connection option (mysql2 would warn about an invalid option)", async () => {
		const pool = createPool({ host, port, user, database, acquireTimeout: 1_000, name: "compat-mysql2-named" });
		assert.equal("acquireTimeout" in (pool.config as unknown as { connectionConfig: object }).connectionConfig, false);
		assert.equal(pool.core.name, "compat-mysql2-named");
		await end(pool);
	});
});

/**
 * Three concurrent callers against a server that refuses every connection: each must be rejected;
 * `check` then reads the pool, and once the server accepts again the pool must serve a caller.
 */
async function againstRefusingServer(options: { connectionLimit?: number }, check: (pool: ReturnType<typeof createPool>) => void): Promise<void> {
	const proxy = await TcpProxy.start(port, host);
	proxy.setMode("refuse");
	const pool = createPool({ host: "127.0.0.1", port: proxy.port, user, database, ...options });
	try {
		const results = await Promise.allSettled([getConnection(pool), getConnection(pool), getConnection(pool)]);
		for (const r of results) assert.equal(r.status, "rejected");
		await sleep(100);
		check(pool);
		proxy.setMode("pass");
		const conn = await getConnection(pool);
		conn.release();
	} finally {
		await end(pool);
		await proxy.close();
	}
}

describe("connection failures", () => {
	it("each of several concurrent callers against a refusing server gets its own error, one attempt each", async () => {
		await againstRefusingServer({}, (pool) => assert.equal(pool.core.stats().createFailures, 3));
	});

	it("callers queued behind a one-connection pool are failed in turn as each attempt fails, and leave nothing in the core's queue", async () => {
		await againstRefusingServer({ connectionLimit: 1 }, (pool) => {
			const stats = pool.core.stats();
			assert.equal(stats.pending, 0, "no caller's place is kept in the core's queue");
			assert.equal(stats.createFailures, 3, "one attempt per caller, as mysql2 makes");
		});
	});
});

describe("the lifeguard core underneath (pool.core)", () => {
	it("a connection is never lent to two callers: 40 concurrent queries on 3 connections each hold a distinct thread", async () => {
		const pool = createPool({ host, port, user, database, connectionLimit: 3 }).promise();
		const held = new Set<number>();
		let overlaps = 0;
		await Promise.all(
			Array.from({ length: 40 }, async () => {
				const conn = await pool.getConnection();
				const [rows] = await conn.query("SELECT CONNECTION_ID() AS id");
				const id = (rows as { id: number }[])[0].id;
				if (held.has(id)) overlaps++;
				held.add(id);
				await sleep(1);
				held.delete(id);
				conn.release();
			}),
		);
		assert.equal(overlaps, 0);
		await pool.end();
	});

	it("is a ManagedClient: name, kind mysql, its pool labelled primary, close({ timeoutMs }) and await using", async () => {
		const pool = createPool({ host, port, user, database, name: "compat-mysql2-client" });
		assert.equal(pool.name, "compat-mysql2-client");
		assert.equal(pool.kind, "mysql");
		assert.deepEqual(
			pool.pools().map((p) => p.label),
			["primary"],
		);
		await pool.start();
		const conn = await getConnection(pool);
		// A misspelt option is refused before anything closes (it used to close with the 30 s default).
		await assert.rejects(pool.close({ timoutMs: 100 } as never), /timoutMs: unknown close\(\) option \(did you mean "timeoutMs"\?\)/);
		assert.equal(pool.core.closed, false);
		await pool.close({ timeoutMs: 100 });
		assert.equal(pool.core.closed, true);
		conn.release();
		let outer: typeof pool | undefined;
		{
			await using scoped = createPool({ host, port, user, database });
			outer = scoped;
			await scoped.promise().query("SELECT 1");
		}
		assert.equal(outer?.core.closed, true);
		await assert.rejects(getConnection(outer), { message: "Pool is closed." });
	});

	it("joins a PoolManager with its statistics", async () => {
		const manager = new PoolManager();
		const pool = createPool({ host, port, user, database, name: "compat-mysql2-managed" });
		manager.add(pool.core);
		await pool.promise().query("SELECT 1");
		const stats = manager.stats()["compat-mysql2-managed"];
		assert.equal(stats.acquires.ok, 1);
		assert.equal(stats.created, 1);
		await end(pool);
		await manager.close();
	});
});
