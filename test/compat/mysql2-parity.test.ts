/**
 * `lifeguard/compat/mysql2` side by side with mysql2's own pool on the real MariaDB: each
 * behaviour runs against both and both must pass the same assertions.
 */
import assert from "node:assert/strict";
import { tracingChannel } from "node:diagnostics_channel";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import mysql from "mysql2";
import * as compat from "../../src/compat/mysql2.ts";
import { requireService, services } from "../support/services.ts";
import { TcpProxy } from "../support/tcp-proxy.ts";
import { waitFor } from "../support/wait.ts";

type AnyPool = compat.Pool;
type MakePool = (options: compat.PoolOptions | string) => AnyPool;

const implementations: [string, MakePool][] = [
	["mysql2", (options) => mysql.createPool(options as mysql.PoolOptions) as unknown as AnyPool],
	["compat", (options) => compat.createPool(options) as unknown as AnyPool],
];

function both(behaviour: string, test: (make: MakePool, label: string) => Promise<void>): void {
	for (const [label, make] of implementations) it(`${behaviour} [${label}]`, () => test(make, label));
}

const { host, port, user, database } = services.mysql;

function options(extra: compat.PoolOptions = {}): compat.PoolOptions {
	return { host, port, user, database, ...extra };
}

function getConnection(pool: AnyPool): Promise<mysql.PoolConnection> {
	return new Promise((resolve, reject) => pool.getConnection((err, conn) => (err ? reject(err) : resolve(conn as mysql.PoolConnection))));
}

function query<T = mysql.RowDataPacket[]>(on: { query: AnyPool["query"] }, sql: string, values?: unknown): Promise<T> {
	return new Promise((resolve, reject) => on.query(sql, values ?? [], (err: unknown, rows: unknown) => (err ? reject(err) : resolve(rows as T))));
}

function end(pool: AnyPool): Promise<void> {
	return new Promise((resolve, reject) => pool.end((err) => (err ? reject(err) : resolve())));
}

/** Thread ids of the idle connections to the test database (tests look for their own ids among them). */
async function idleThreads(): Promise<number[]> {
	const rows = await query<{ id: number }[]>(
		adminPool,
		"SELECT ID AS id FROM information_schema.PROCESSLIST WHERE DB = ? AND INFO IS NULL AND ID <> CONNECTION_ID()",
		[database],
	);
	return rows.map((r) => r.id);
}

let adminPool: AnyPool;

before(async () => {
	await requireService("mysql");
	adminPool = mysql.createPool(options({ connectionLimit: 1 })) as unknown as AnyPool;
	await query(adminPool, "CREATE TABLE IF NOT EXISTS compat_mysql2_items (id INT PRIMARY KEY, label VARCHAR(40), at DATETIME)");
	await query(adminPool, "DELETE FROM compat_mysql2_items");
});

after(async () => {
	await query(adminPool, "DROP TABLE IF EXISTS compat_mysql2_items");
	await end(adminPool);
});

describe("options", () => {
	both("pool.config carries mysql2's defaults", async (make) => {
		const pool = make(options());
		assert.equal(pool.config.connectionLimit, 10);
		assert.equal(pool.config.maxIdle, 10);
		assert.equal(pool.config.idleTimeout, 60_000);
		assert.equal(pool.config.queueLimit, 0);
		assert.equal(pool.config.waitForConnections, true);
		assert.equal(pool.config.resetOnRelease, false);
		assert.equal(pool.config.connectionConfig.connectTimeout, 10_000);
		await end(pool);
	});

	both("a URL string is read as mysql2 reads it", async (make) => {
		const pool = make(`mysql://${user}@${host}:${port}/${database}?connectionLimit=3`);
		assert.equal(pool.config.connectionLimit, 3);
		const rows = await query<{ db: string }[]>(pool, "SELECT DATABASE() AS db");
		assert.equal(rows[0].db, database);
		await end(pool);
	});

	both("connection options reach mysql2: dateStrings, namedPlaceholders, rowsAsArray", async (make) => {
		const pool = make(options({ dateStrings: true, namedPlaceholders: true }));
		const rows = await query<{ d: string; n: number }[]>(pool, "SELECT CAST('2024-05-06 07:08:09' AS DATETIME) AS d, :n + 1 AS n", { n: 41 });
		assert.equal(rows[0].d, "2024-05-06 07:08:09");
		assert.equal(rows[0].n, 42);
		await end(pool);
		const arrays = make(options({ rowsAsArray: true }));
		assert.deepEqual(await query(arrays, "SELECT 1 AS a, 2 AS b"), [[1, 2]]);
		await end(arrays);
	});

	both("format, escape and escapeId follow the connection options", async (make) => {
		const pool = make(options());
		assert.equal(pool.format("SELECT ?? FROM t WHERE a = ?", ["col", "x'y"]), "SELECT `col` FROM t WHERE a = 'x\\'y'");
		assert.equal(pool.escape("a'b"), "'a\\'b'");
		assert.equal(pool.escapeId("a.b"), "`a`.`b`");
		await end(pool);
	});
});

describe("getConnection and release", () => {
	both("getConnection hands out a PoolConnection; release() returns it and the next caller gets the same one", async (make) => {
		const pool = make(options());
		const conn = await getConnection(pool);
		const [{ id }] = await query<{ id: number }[]>(conn, "SELECT CONNECTION_ID() AS id");
		conn.release();
		conn.release();
		const again = await getConnection(pool);
		assert.equal(again, conn);
		const [{ id: sameId }] = await query<{ id: number }[]>(again, "SELECT CONNECTION_ID() AS id");
		assert.equal(sameId, id);
		again.release();
		await end(pool);
	});

	both("events: connection and acquire for a new one, release when it goes idle, acquire again on reuse", async (make) => {
		const pool = make(options());
		const seen: string[] = [];
		for (const e of ["connection", "acquire", "release", "enqueue"]) pool.on(e, () => seen.push(e));
		const conn = await getConnection(pool);
		conn.release();
		(await getConnection(pool)).release();
		assert.deepEqual(seen, ["connection", "acquire", "release", "acquire", "release"]);
		await end(pool);
	});

	both("a full pool queues callers (enqueue) and a release hands the connection straight to the first, without acquire or release events", async (make) => {
		const pool = make(options({ connectionLimit: 1 }));
		const seen: string[] = [];
		const holder = await getConnection(pool);
		for (const e of ["connection", "acquire", "release", "enqueue"]) pool.on(e, () => seen.push(e));
		const order: number[] = [];
		const waits = [1, 2].map((n) =>
			getConnection(pool).then((c) => {
				order.push(n);
				c.release();
			}),
		);
		await sleep(20);
		assert.deepEqual(seen, ["enqueue", "enqueue"]);
		holder.release();
		await Promise.all(waits);
		assert.deepEqual(order, [1, 2]);
		assert.deepEqual(seen, ["enqueue", "enqueue", "release"]);
		await end(pool);
	});

	both(
		"getConnection answers after it returns, for an idle connection too; a queued caller gets the released one on the next tick, not inside release()",
		async (make) => {
			const pool = make(options({ connectionLimit: 1 }));
			(await getConnection(pool)).release();
			let returned = false;
			const holder = await new Promise<mysql.PoolConnection>((resolve, reject) => {
				pool.getConnection((error, connection) => {
					if (error || connection === undefined) return reject(error);
					assert.equal(returned, true, "called back before getConnection() returned");
					resolve(connection);
				});
				returned = true;
			});
			let handed = false;
			const waiting = new Promise<void>((resolve) =>
				pool.getConnection((error, connection) => {
					assert.ifError(error);
					handed = true;
					connection?.release();
					resolve();
				}),
			);
			await sleep(10);
			holder.release();
			assert.equal(handed, false, "mysql2 hands over on the next tick");
			await waiting;
			await end(pool);
		},
	);

	both("waitForConnections: false fails at once with 'No connections available.'", async (make) => {
		const pool = make(options({ connectionLimit: 1, waitForConnections: false }));
		const holder = await getConnection(pool);
		await assert.rejects(getConnection(pool), { message: "No connections available." });
		holder.release();
		await end(pool);
	});

	both("queueLimit fails the caller beyond it with 'Queue limit reached.'", async (make) => {
		const pool = make(options({ connectionLimit: 1, queueLimit: 1 }));
		const holder = await getConnection(pool);
		const queued = getConnection(pool);
		await assert.rejects(getConnection(pool), { message: "Queue limit reached." });
		holder.release();
		(await queued).release();
		await end(pool);
	});

	both("connection.destroy() takes it out of the pool; the next caller gets a new connection", async (make) => {
		const pool = make(options({ connectionLimit: 1 }));
		const conn = await getConnection(pool);
		const [{ id }] = await query<{ id: number }[]>(conn, "SELECT CONNECTION_ID() AS id");
		conn.destroy();
		const next = await getConnection(pool);
		assert.notEqual(next, conn);
		const [{ id: other }] = await query<{ id: number }[]>(next, "SELECT CONNECTION_ID() AS id");
		assert.notEqual(other, id);
		next.release();
		await end(pool);
	});

	both("resetOnRelease resets the session before the next caller (user variables are gone)", async (make) => {
		const pool = make(options({ connectionLimit: 1, resetOnRelease: true }));
		const conn = await getConnection(pool);
		await query(conn, "SET @compat_mark = 7");
		conn.release();
		const next = await getConnection(pool);
		const [{ mark }] = await query<{ mark: number | null }[]>(next, "SELECT @compat_mark AS mark");
		assert.equal(mark, null);
		next.release();
		await end(pool);
	});
});

describe("query and execute", () => {
	both("query with values, a callback without values, and a Query that streams", async (make) => {
		const pool = make(options());
		assert.deepEqual(await query(pool, "SELECT ? + 1 AS n", [1]), [{ n: 2 }]);
		const rows = await new Promise<unknown>((resolve, reject) => pool.query("SELECT 3 AS n", (err: unknown, r: unknown) => (err ? reject(err) : resolve(r))));
		assert.deepEqual(rows, [{ n: 3 }]);
		const streamed: number[] = [];
		for await (const row of pool.query("SELECT 1 AS n UNION ALL SELECT 2").stream()) streamed.push((row as { n: number }).n);
		assert.deepEqual(streamed, [1, 2]);
		await end(pool);
	});

	both("execute runs a prepared statement", async (make, label) => {
		const pool = make(options());
		const id = label === "compat" ? 2 : 1;
		await new Promise<void>((resolve, reject) =>
			pool.execute("INSERT INTO compat_mysql2_items (id, label) VALUES (?, ?) ON DUPLICATE KEY UPDATE label = VALUES(label)", [id, label], (err: unknown) =>
				err ? reject(err) : resolve(),
			),
		);
		const rows = await new Promise<unknown>((resolve, reject) =>
			pool.execute("SELECT label FROM compat_mysql2_items WHERE id = ?", [id], (err: unknown, r: unknown) => (err ? reject(err) : resolve(r))),
		);
		assert.deepEqual(rows, [{ label }]);
		await end(pool);
	});

	both("a SQL error reaches the callback with mysql2's error and the connection stays in the pool", async (make) => {
		const pool = make(options({ connectionLimit: 1 }));
		const [{ id }] = await query<{ id: number }[]>(pool, "SELECT CONNECTION_ID() AS id");
		await assert.rejects(query(pool, "SELECT * FROM compat_mysql2_missing"), (e: { code?: string }) => e.code === "ER_NO_SUCH_TABLE");
		const [{ id: after }] = await query<{ id: number }[]>(pool, "SELECT CONNECTION_ID() AS id");
		assert.equal(after, id);
		await end(pool);
	});

	both("a read-only error destroys the connection (a failover made the server read-only)", async (make) => {
		const pool = make(options({ connectionLimit: 1 }));
		const [{ id }] = await query<{ id: number }[]>(pool, "SELECT CONNECTION_ID() AS id");
		await query(pool, "SET SESSION TRANSACTION READ ONLY");
		await assert.rejects(query(pool, "INSERT INTO compat_mysql2_items (id, label) VALUES (99, 'ro')"), (e: { errno?: number }) => e.errno === 1792);
		const [{ id: next }] = await query<{ id: number }[]>(pool, "SELECT CONNECTION_ID() AS id");
		assert.notEqual(next, id);
		await end(pool);
	});
});

describe("promise()", () => {
	both("query, execute, getConnection with release, and end", async (make) => {
		const pool = make(options()).promise();
		const [rows] = await pool.query("SELECT ? AS v", ["x"]);
		assert.deepEqual(rows, [{ v: "x" }]);
		const [executed] = await pool.execute("SELECT ? + 1 AS n", [1]);
		assert.deepEqual(executed, [{ n: 2 }]);
		const conn = await pool.getConnection();
		await conn.beginTransaction();
		await conn.query("SELECT 1");
		await conn.commit();
		conn.release();
		await pool.end();
	});

	both("the promise pool re-emits the pool's events", async (make) => {
		const pool = make(options()).promise();
		const seen: string[] = [];
		pool.on("connection", () => seen.push("connection"));
		pool.on("acquire", () => seen.push("acquire"));
		pool.on("release", () => seen.push("release"));
		(await pool.getConnection()).release();
		assert.deepEqual(seen, ["connection", "acquire", "release"]);
		await pool.end();
	});
});

describe("failures and shutdown", () => {
	both("a refused connection reaches the caller with the driver's error", async (make) => {
		const closed = net.createServer();
		await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
		const freePort = (closed.address() as net.AddressInfo).port;
		await new Promise<void>((resolve) => closed.close(() => resolve()));
		const pool = make(options({ host: "127.0.0.1", port: freePort }));
		await assert.rejects(getConnection(pool), (e: NodeJS.ErrnoException) => e.code === "ECONNREFUSED");
		await assert.rejects(query(pool, "SELECT 1"), (e: NodeJS.ErrnoException) => e.code === "ECONNREFUSED");
		await end(pool);
	});

	both("with connectionLimit 1 and a refusing server, every one of three concurrent callers fails", async (make) => {
		const proxy = await TcpProxy.start(port, host);
		proxy.setMode("refuse");
		const pool = make(options({ host: "127.0.0.1", port: proxy.port, connectionLimit: 1 }));
		try {
			const results = await Promise.allSettled([getConnection(pool), getConnection(pool), getConnection(pool)]);
			assert.deepEqual(
				results.map((r) => r.status),
				["rejected", "rejected", "rejected"],
			);
		} finally {
			await end(pool);
			await proxy.close();
		}
	});

	both("a queued caller fails when the connection it waits for is destroyed and its replacement cannot connect", async (make) => {
		const proxy = await TcpProxy.start(port, host);
		const pool = make(options({ host: "127.0.0.1", port: proxy.port, connectionLimit: 1 }));
		try {
			const holder = await getConnection(pool);
			const queued = getConnection(pool);
			await sleep(20);
			proxy.setMode("refuse");
			holder.destroy();
			await assert.rejects(queued);
			proxy.setMode("pass");
			const next = await getConnection(pool);
			next.release();
		} finally {
			await end(pool);
			await proxy.close();
		}
	});

	both("a wrong password reaches the caller with the server's error", async (make) => {
		const pool = make(options({ user: "compat_no_such_user", password: "nope" }));
		await assert.rejects(getConnection(pool), /Access denied for user 'compat_no_such_user'/);
		await end(pool);
	});

	both("an idle connection killed on the server leaves the pool; the next query gets a new one", async (make) => {
		const pool = make(options({ connectionLimit: 1 }));
		const [{ id }] = await query<{ id: number }[]>(pool, "SELECT CONNECTION_ID() AS id");
		await query(adminPool, `KILL ${id}`);
		await sleep(100);
		const [{ id: next }] = await query<{ id: number }[]>(pool, "SELECT CONNECTION_ID() AS id");
		assert.notEqual(next, id);
		await end(pool);
	});

	both("end() fails queued callers with 'Pool is closed.', ends every connection, and refuses later calls", async (make) => {
		const pool = make(options({ connectionLimit: 1 }));
		const holder = await getConnection(pool);
		const [{ id }] = await query<{ id: number }[]>(holder, "SELECT CONNECTION_ID() AS id");
		const queued = assert.rejects(getConnection(pool), { message: "Pool is closed." });
		await sleep(10);
		await end(pool);
		await queued;
		await assert.rejects(getConnection(pool), { message: "Pool is closed." });
		await waitFor("the held connection to be closed on the server", async () => !(await idleThreads()).includes(id));
		holder.release();
	});
});

describe("idle removal: maxIdle and idleTimeout", () => {
	both("idle connections beyond maxIdle are closed within seconds", async (make) => {
		const pool = make(options({ connectionLimit: 3, maxIdle: 1, idleTimeout: 60_000 }));
		const conns = await Promise.all([getConnection(pool), getConnection(pool), getConnection(pool)]);
		const ids: number[] = [];
		for (const c of conns) ids.push((await query<{ id: number }[]>(c, "SELECT CONNECTION_ID() AS id"))[0].id);
		for (const c of conns) c.release();
		await waitFor("all but one of the idle connections to be closed", async () => (await idleThreads()).filter((t) => ids.includes(t)).length === 1);
		const [{ id }] = await query<{ id: number }[]>(pool, "SELECT CONNECTION_ID() AS id");
		assert.equal(id, ids[2], "the most recently released one stays");
		await end(pool);
	});

	both("with maxIdle below connectionLimit, connections idle longer than idleTimeout are closed", async (make) => {
		const pool = make(options({ connectionLimit: 3, maxIdle: 2, idleTimeout: 300 }));
		const conns = await Promise.all([getConnection(pool), getConnection(pool)]);
		const ids: number[] = [];
		for (const c of conns) ids.push((await query<{ id: number }[]>(c, "SELECT CONNECTION_ID() AS id"))[0].id);
		for (const c of conns) c.release();
		await waitFor("every idle connection to be closed", async () => (await idleThreads()).filter((t) => ids.includes(t)).length === 0);
		await end(pool);
	});
});

describe("diagnostics channel mysql2:pool:connect", () => {
	both("each checkout, getConnection's and query's, is traced with the server in its context", async (make) => {
		const channel = tracingChannel<unknown, { database: string; serverAddress: string; serverPort?: number }>("mysql2:pool:connect");
		const seen: string[] = [];
		const contexts: object[] = [];
		const handlers = {
			start: (ctx: { database: string; serverAddress: string; serverPort?: number }) => {
				seen.push("start");
				contexts.push({ database: ctx.database, serverAddress: ctx.serverAddress, serverPort: ctx.serverPort });
			},
			end: () => seen.push("end"),
			asyncStart: () => seen.push("asyncStart"),
			asyncEnd: () => seen.push("asyncEnd"),
			error: () => seen.push("error"),
		};
		channel.subscribe(handlers);
		try {
			const pool = make(options({ connectionLimit: 1 }));
			(await getConnection(pool)).release();
			await new Promise<void>((resolve, reject) => pool.query("SELECT 1", (err: Error | null) => (err ? reject(err) : resolve())));
			const context = { database, serverAddress: host, serverPort: port };
			assert.deepEqual(contexts, [context, context]);
			assert.deepEqual(seen, ["start", "end", "asyncStart", "asyncEnd", "start", "end", "asyncStart", "asyncEnd"]);
			await end(pool);
		} finally {
			channel.unsubscribe(handlers);
		}
	});
});
