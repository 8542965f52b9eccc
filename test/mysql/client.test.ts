import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
	ConnectionLostError,
	createMysqlClient,
	type MysqlClientOptions,
	type MysqlConnection,
	QueryFailedError,
	QueryTimeoutError,
	type SqlClient,
} from "../../src/adapters/mysql/index.ts";
import { ConfigError, ErrorCode, LifeguardError } from "../../src/index.ts";
import { requireService } from "../support/services.ts";
import { TcpProxy } from "../support/tcp-proxy.ts";
import { type Admin, admin, eventually, server, statementRunning, url } from "./helpers.ts";

const TABLE = "lifeguard_mysql_client";
const clients: SqlClient[] = [];
let a: Admin;

function client(options: Partial<MysqlClientOptions> = {}): SqlClient {
	const db = createMysqlClient({ primary: url, ...options, pool: { max: 4, ...options.pool } });
	clients.push(db);
	return db;
}

function code(expected: string) {
	return (error: unknown) => error instanceof LifeguardError && error.code === expected;
}

before(async () => {
	await requireService("mysql");
	a = await admin();
	await a.query(`DROP TABLE IF EXISTS ${TABLE}`);
	await a.query(`CREATE TABLE ${TABLE} (id INT PRIMARY KEY, name VARCHAR(100)) ENGINE=InnoDB`);
});

after(async () => {
	await Promise.all(clients.map((db) => db.close({ timeoutMs: 1_000 })));
	await a.query(`DROP TABLE IF EXISTS ${TABLE}`);
	await a.end();
});

describe("MySQL client: queries", () => {
	it("returns rows, one row, at most limit rows, or the affected count, by fetch mode", async () => {
		const db = client();
		assert.equal(await db.query(`INSERT INTO ${TABLE} VALUES (?, ?), (?, ?), (?, ?)`, [1, "a", 2, "b", 3, "c"], { fetch: "none" }), 3);
		assert.deepEqual(await db.query(`SELECT id FROM ${TABLE} ORDER BY id`), [{ id: 1 }, { id: 2 }, { id: 3 }]);
		assert.deepEqual(await db.query(`SELECT id, name FROM ${TABLE} WHERE id = ?`, [2], { fetch: "one" }), { id: 2, name: "b" });
		assert.equal(await db.query(`SELECT id FROM ${TABLE} WHERE id = ?`, [99], { fetch: "one" }), undefined);
		assert.deepEqual(await db.query(`SELECT id FROM ${TABLE} ORDER BY id`, [], { fetch: "many", limit: 2 }), [{ id: 1 }, { id: 2 }]);
		assert.equal(
			await db.batch(`UPDATE ${TABLE} SET name = ? WHERE id = ?`, [
				["A", 1],
				["B", 2],
			]),
			2,
		);
		assert.equal(await db.query(`DELETE FROM ${TABLE}`, [], { fetch: "none" }), 3);
	});

	it("runs concurrent queries each on its own connection", async () => {
		const db = client({ pool: { min: 6, max: 6 } });
		await db.start();
		const started = performance.now();
		const ids = await Promise.all(
			Array.from({ length: 6 }, () => db.query<{ id: number }>("SELECT CONNECTION_ID() AS id, SLEEP(1) AS s", [], { fetch: "one" })),
		);
		const took = performance.now() - started;
		assert.equal(new Set(ids.map((r) => r?.id)).size, 6);
		// One after another takes at least 6 s; together about 1 s, and the bound leaves 3.5 s for a loaded machine.
		assert.ok(took < 4_500, `took ${took} ms: the queries ran one after another`);
	});

	it("a syntax error is QUERY_FAILED and its connection is reused", async () => {
		const db = client({ pool: { max: 1 } });
		const before = await db.query<{ id: number }>("SELECT CONNECTION_ID() AS id", [], { fetch: "one" });
		await assert.rejects(db.query("SELEC 1"), (error: unknown) => error instanceof QueryFailedError && error.sqlState === "42000");
		const afterwards = await db.query<{ id: number }>("SELECT CONNECTION_ID() AS id", [], { fetch: "one" });
		assert.equal(afterwards?.id, before?.id);
		assert.equal(db.stats().primary.destroyed, 0);
	});

	it("a connection killed under a query is CONNECTION_LOST, destroyed, and replaced for the next query", async () => {
		const db = client({ pool: { max: 1 } });
		const first = await db.query<{ id: number }>("SELECT CONNECTION_ID() AS id", [], { fetch: "one" });
		const running = db.query("SELECT SLEEP(5) AS lifeguard_client_killed").catch((error: unknown) => error);
		await eventually(() => statementRunning(a, "lifeguard_client_killed"));
		await a.query(`KILL CONNECTION ${first?.id}`);
		assert.ok((await running) instanceof ConnectionLostError);
		const next = await db.query<{ id: number }>("SELECT CONNECTION_ID() AS id", [], { fetch: "one" });
		assert.notEqual(next?.id, first?.id);
		const stats = db.stats().primary;
		assert.equal(stats.destroyed, 1);
		assert.equal(stats.destroyedByReason.error, 1);
	});

	it("applies afterCreate session setup (time_zone, sql_mode) to every new connection", async () => {
		const db = client({
			afterCreate: async (session) => {
				await session.query("SET time_zone = ?, sql_mode = ?", ["+04:00", "STRICT_ALL_TABLES"], { fetch: "none" });
			},
		});
		const rows = await Promise.all(
			[1, 2].map(() => db.query("SELECT @@session.time_zone AS tz, @@session.sql_mode AS mode, SLEEP(0.05) AS s", [], { fetch: "one" })),
		);
		for (const row of rows) assert.deepEqual(row, { tz: "+04:00", mode: "STRICT_ALL_TABLES", s: 0 });
		assert.equal(db.stats().primary.created, 2);
	});

	it("with resetSession, the session set up by afterCreate (and pool.afterCreate) survives every reset", async () => {
		let setups = 0;
		const db = client({
			primary: { url, resetSession: true },
			pool: {
				max: 1,
				afterCreate: async (conn) => {
					await (conn as MysqlConnection).query("SET @raw = 'raw'");
				},
			},
			afterCreate: async (session) => {
				setups++;
				await session.query("SET @tenant = ?, SESSION lock_wait_timeout = ?", ["t1", 17], { fetch: "none" });
			},
		});
		const session = "SELECT CONNECTION_ID() AS id, @tenant AS tenant, @raw AS raw, @@session.lock_wait_timeout AS wait";
		const first = await db.query(session, [], { fetch: "one" });
		assert.deepEqual({ ...first, id: 0 }, { id: 0, tenant: "t1", raw: "raw", wait: 17 });
		{
			await using conn = await db.acquire();
			await conn.query("SET @tenant = 'changed', @raw = NULL, SESSION lock_wait_timeout = 99", [], { fetch: "none" });
			await conn.query("CREATE TEMPORARY TABLE lifeguard_mysql_reset_tmp (a INT)", [], { fetch: "none" });
		}
		// The same connection, reset (its temporary table is gone), and set up again.
		assert.deepEqual(await db.query(session, [], { fetch: "one" }), first);
		await assert.rejects(db.query("SELECT * FROM lifeguard_mysql_reset_tmp"), code(ErrorCode.QUERY_FAILED));
		assert.equal(db.stats().primary.created, 1);
		assert.ok(setups >= 3, `afterCreate ran ${setups} times: once at connect, again after each release`);
	});

	it("with resetSession, a connection whose setup fails after a reset is closed, never lent without its setup", async () => {
		let setups = 0;
		const db = client({
			primary: { url, resetSession: true },
			pool: { max: 1 },
			afterCreate: async (session) => {
				setups++;
				if (setups === 2) throw new Error("setup failed after the reset");
				await session.query("SET @tenant = 't1'", [], { fetch: "none" });
			},
		});
		const first = (await db.query<{ id: number }>("SELECT CONNECTION_ID() AS id", [], { fetch: "one" })) as { id: number };
		assert.ok(await eventually(() => db.stats().primary.destroyedByReason.error === 1, 2_000));
		const next = (await db.query<{ id: number; tenant: string }>("SELECT CONNECTION_ID() AS id, @tenant AS tenant", [], { fetch: "one" })) as {
			id: number;
			tenant: string;
		};
		assert.notEqual(next.id, first.id);
		assert.equal(next.tenant, "t1");
	});

	it("reports config problems of every server at once, by path", () => {
		assert.throws(
			() => createMysqlClient({ primary: "mysql://u:pw@h/db?x=1", replicas: [{ url, port: -1 }] }),
			(error: unknown) => {
				assert.ok(error instanceof ConfigError);
				assert.deepEqual(error.problems.map((p) => p.path).sort(), ["primary.url?x", "replicas[0].port"]);
				assert.doesNotMatch(error.message, /pw@/);
				return true;
			},
		);
	});
});

describe("MySQL client: fetch 'result' and insertId", () => {
	const IDS = "lifeguard_mysql_insert_id";

	before(async () => {
		await a.query(`DROP TABLE IF EXISTS ${IDS}`);
		await a.query(`CREATE TABLE ${IDS} (id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, k VARCHAR(20) UNIQUE, v INT) ENGINE=InnoDB`);
	});

	after(async () => {
		await a.query(`DROP TABLE IF EXISTS ${IDS}`);
		await a.query(`DROP TABLE IF EXISTS ${IDS}_huge`);
	});

	it("an INSERT reports its AUTO_INCREMENT id, the first one of a multi-row INSERT, with rows and affectedRows", async () => {
		const db = client();
		const one = await db.query(`INSERT INTO ${IDS} (k, v) VALUES (?, ?)`, ["one", 1], { fetch: "result" });
		assert.equal(typeof one.insertId, "number");
		assert.deepEqual(one, { rows: [], affectedRows: 1, insertId: one.insertId });
		const [{ id }] = await db.query<{ id: number }>(`SELECT id FROM ${IDS} WHERE k = 'one'`);
		assert.equal(one.insertId, id);
		const two = await db.query(`INSERT INTO ${IDS} (k, v) VALUES ('two', 2), ('three', 3)`, [], { fetch: "result" });
		assert.equal(two.affectedRows, 2);
		const [{ first }] = await db.query<{ first: number }>(`SELECT MIN(id) AS first FROM ${IDS} WHERE k IN ('two', 'three')`);
		assert.equal(two.insertId, first);
		// MariaDB's INSERT … RETURNING sends rows, not an OK packet: the id is in them.
		const returning = await db.query<{ id: number }>(`INSERT INTO ${IDS} (k, v) VALUES ('four', 4) RETURNING id`, [], { fetch: "result" });
		assert.equal(returning.insertId, undefined);
		assert.ok(returning.rows[0].id > first + 1);
	});

	it("a statement that generates no id reports undefined: UPDATE, SELECT, an ignored INSERT", async () => {
		const db = client({ pool: { max: 1 } });
		// One connection: the previous INSERT's id is there to leak, if anything leaked it.
		await db.query(`INSERT INTO ${IDS} (k, v) VALUES ('kept', 1)`, [], { fetch: "none" });
		assert.deepEqual(await db.query(`UPDATE ${IDS} SET v = v + 1 WHERE k = 'kept'`, [], { fetch: "result" }), {
			rows: [],
			affectedRows: 1,
			insertId: undefined,
		});
		assert.deepEqual(await db.query(`SELECT v FROM ${IDS} WHERE k = 'kept'`, [], { fetch: "result" }), {
			rows: [{ v: 2 }],
			affectedRows: 1,
			insertId: undefined,
		});
		assert.deepEqual(await db.query(`INSERT IGNORE INTO ${IDS} (k, v) VALUES ('kept', 9)`, [], { fetch: "result" }), {
			rows: [],
			affectedRows: 0,
			insertId: undefined,
		});
	});

	it("ON DUPLICATE KEY UPDATE that updated reports the updated row's id, as the server does", async () => {
		const db = client();
		const inserted = await db.query(`INSERT INTO ${IDS} (k, v) VALUES ('dup', 1) ON DUPLICATE KEY UPDATE v = v + 1`, [], { fetch: "result" });
		const updated = await db.query(`INSERT INTO ${IDS} (k, v) VALUES ('dup', 1) ON DUPLICATE KEY UPDATE v = v + 1`, [], { fetch: "result" });
		assert.equal(updated.affectedRows, 2);
		assert.equal(updated.insertId, inserted.insertId);
	});

	it("an id past 2^53 is an exact bigint (unsigned BIGINT up to 2^64 - 1)", async () => {
		const db = client();
		const huge = 18_446_744_073_709_551_000n;
		// Its own table: the AUTO_INCREMENT counter stays up there.
		await db.query(`CREATE TABLE ${IDS}_huge (id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, k VARCHAR(20))`, [], { fetch: "none" });
		try {
			assert.equal((await db.query(`INSERT INTO ${IDS}_huge (id, k) VALUES (?, 'huge')`, [huge.toString()], { fetch: "result" })).insertId, huge);
			assert.equal((await db.query(`INSERT INTO ${IDS}_huge (k) VALUES ('after-huge')`, [], { fetch: "result" })).insertId, huge + 1n);
		} finally {
			await db.query(`DROP TABLE ${IDS}_huge`, [], { fetch: "none" });
		}
	});

	it("works in transactions, on pinned connections and through connection ids", async () => {
		const db = client();
		const inTx = await db.transaction((tx) => tx.query(`INSERT INTO ${IDS} (k, v) VALUES ('tx', 1)`, [], { fetch: "result" }));
		await using conn = await db.acquire();
		const pinned = await conn.query(`INSERT INTO ${IDS} (k, v) VALUES ('pinned', 1)`, [], { fetch: "result" });
		const id = await db.acquireId();
		const viaId = (await db.execute(id, `INSERT INTO ${IDS} (k, v) VALUES ('id', 1)`, [], { fetch: "result" })) as { insertId: unknown };
		db.releaseId(id);
		const rows = await db.query<{ k: string; id: number }>(`SELECT k, id FROM ${IDS} WHERE k IN ('tx', 'pinned', 'id')`);
		const byKey = Object.fromEntries(rows.map((r) => [r.k, r.id]));
		assert.deepEqual([inTx.insertId, pinned.insertId, viaId.insertId], [byKey.tx, byKey.pinned, byKey.id]);
	});
});

describe("MySQL client: timeouts", () => {
	it("a statement past timeoutMs is QUERY_TIMEOUT, stopped on the server, and its connection is reused", async () => {
		const db = client({ pool: { max: 1 } });
		const before = await db.query<{ id: number }>("SELECT CONNECTION_ID() AS id", [], { fetch: "one" });
		await assert.rejects(db.query("SELECT SLEEP(5) AS lifeguard_client_timeout", [], { timeoutMs: 150 }), (error: unknown) => {
			return error instanceof QueryTimeoutError && !error.connectionClosed;
		});
		// Gone well before the 5 s it would run (the killed thread can linger in the process list for a moment on a loaded machine).
		assert.ok(await eventually(async () => !(await statementRunning(a, "lifeguard_client_timeout")), 1_000));
		assert.equal((await db.query<{ id: number }>("SELECT CONNECTION_ID() AS id", [], { fetch: "one" }))?.id, before?.id);
	});

	it("statementTimeoutMs is the default for every statement", async () => {
		const db = client({ statementTimeoutMs: 150 });
		await assert.rejects(db.query("SELECT SLEEP(5)"), code(ErrorCode.QUERY_TIMEOUT));
		await assert.rejects(
			db.transaction((tx) => tx.query("SELECT SLEEP(5)")),
			code(ErrorCode.QUERY_TIMEOUT),
		);
		assert.equal(await db.query("SELECT 1 AS one", [], { fetch: "one" }).then((r) => (r as { one: number }).one), 1);
	});

	it("when the network stalls, the statement fails by its deadline plus grace and the connection is closed, not reused", async () => {
		const proxy = await TcpProxy.start(server.port, server.host);
		try {
			const db = client({ primary: { host: "127.0.0.1", port: proxy.port, user: "root", database: "test" }, pool: { max: 1 } });
			await db.query("SELECT 1");
			proxy.setMode("stall");
			const started = performance.now();
			await assert.rejects(
				db.query("SELECT SLEEP(5)", [], { timeoutMs: 100 }),
				(error: unknown) => error instanceof QueryTimeoutError && error.connectionClosed && /the server did not answer the cancel/.test(error.message),
			);
			assert.ok(performance.now() - started < 100 + 2_000 + 1_000);
			proxy.setMode("pass");
			assert.deepEqual(await db.query("SELECT 2 AS two"), [{ two: 2 }]);
			assert.equal(db.stats().primary.created, 2);
		} finally {
			await proxy.close();
		}
	});
});

describe("MySQL client: transactions", () => {
	it("honours the isolation level: READ COMMITTED sees another commit mid-transaction, REPEATABLE READ does not", async () => {
		const db = client();
		await db.query(`INSERT INTO ${TABLE} VALUES (20, 'v1')`);
		const seen = async (isolation: "read committed" | "repeatable read", next: string) =>
			db.transaction(
				async (tx) => {
					const first = (await tx.query<{ name: string }>(`SELECT name FROM ${TABLE} WHERE id = 20`, [], { fetch: "one" }))?.name;
					await a.query(`UPDATE ${TABLE} SET name = ? WHERE id = 20`, [next]);
					const second = (await tx.query<{ name: string }>(`SELECT name FROM ${TABLE} WHERE id = 20`, [], { fetch: "one" }))?.name;
					return [first, second];
				},
				{ isolation },
			);
		assert.deepEqual(await seen("repeatable read", "v2"), ["v1", "v1"]);
		assert.deepEqual(await seen("read committed", "v3"), ["v2", "v3"]);
		await db.query(`DELETE FROM ${TABLE}`);
	});
});

describe("MySQL client: pinned connections and connection ids", () => {
	it("a pinned connection keeps its session until released; a transaction left open is rolled back on release", async () => {
		const db = client({ pool: { max: 1 } });
		const conn = await db.acquire();
		await conn.query("SET @pinned = 'kept'");
		const id = (await conn.query<{ id: number }>("SELECT CONNECTION_ID() AS id", [], { fetch: "one" }))?.id;
		assert.deepEqual(await conn.query("SELECT @pinned AS v"), [{ v: "kept" }]);
		await conn.query("START TRANSACTION");
		await conn.query(`INSERT INTO ${TABLE} VALUES (40, 'left open')`);
		conn.release();
		const next = await db.query<{ id: number; tx: number; n: number }>(
			`SELECT CONNECTION_ID() AS id, @@in_transaction AS tx, (SELECT COUNT(*) FROM ${TABLE} WHERE id = 40) AS n`,
			[],
			{ fetch: "one" },
		);
		assert.deepEqual(next, { id, tx: 0, n: 0 });
	});

	it("a connection id runs statements on one connection until released, then is unknown", async () => {
		const db = client();
		const handle = await db.acquireId();
		await db.execute(handle, "SET @by_id = 42");
		const one = await db.execute<{ v: number; id: number }>(handle, "SELECT @by_id AS v, CONNECTION_ID() AS id", [], { fetch: "one" });
		const two = await db.execute<{ id: number }>(handle, "SELECT CONNECTION_ID() AS id", [], { fetch: "one" });
		assert.equal((one as { v: number }).v, 42);
		assert.equal((one as { id: number }).id, (two as { id: number }).id);
		assert.equal(db.stats().leases.open, 1);
		db.releaseId(handle);
		assert.equal(db.stats().leases.open, 0);
		await assert.rejects(db.execute(handle, "SELECT 1"), code(ErrorCode.CONNECTION_ID_UNKNOWN));
	});
});

describe("MySQL client: connections go back clean", () => {
	const table = "lifeguard_mysql_clean";
	const other = "lifeguard_mysql_clean_other";
	let db: SqlClient;

	before(async () => {
		await a.query(`DROP TABLE IF EXISTS ${table}, ${other}`);
		await a.query(`CREATE TABLE ${table} (id INT PRIMARY KEY) ENGINE=InnoDB`);
		await a.query(`CREATE TABLE ${other} (id INT PRIMARY KEY) ENGINE=InnoDB`);
		// One connection: whatever the first caller leaves is what the next caller gets.
		db = client({ pool: { max: 1 } });
	});

	after(async () => {
		await a.query(`DROP TABLE IF EXISTS ${table}, ${other}`);
	});

	it("a caller's `SET autocommit = 0` does not make the next caller's writes vanish", async () => {
		// Caller 1 switches autocommit off (through query(), or a pinned connection) and goes away.
		await db.query("SET autocommit = 0");
		// Caller 2, on the same pooled connection, writes; the call succeeds and reports one row.
		const affected = await db.query(`INSERT INTO ${table} VALUES (1)`, [], { fetch: "none" });
		assert.equal(affected, 1);
		const [rows] = await a.query(`SELECT COUNT(*) AS n FROM ${table}`);
		const n = Number((rows as { n: number }[])[0].n);
		await a.query(`DELETE FROM ${table}`);
		assert.equal(n, 1, "caller 2's INSERT reported success, but the release ROLLBACK undid it (autocommit was left off by caller 1)");
	});

	it("table locks taken with LOCK TABLES do not outlive the caller that took them", async () => {
		const conn = await db.acquire();
		await conn.query(`LOCK TABLES ${table} WRITE`);
		conn.release();
		// Another caller on the same pooled connection, touching another table.
		let nextCaller: string;
		try {
			await db.query(`SELECT * FROM ${other}`);
			nextCaller = "ok";
		} catch (error) {
			nextCaller = (error as Error).message;
		}
		// And anyone else writing the locked table.
		await a.query("SET SESSION lock_wait_timeout = 1");
		let otherWriter: string;
		try {
			await a.query(`INSERT INTO ${table} VALUES (2)`);
			otherWriter = "ok";
		} catch (error) {
			otherWriter = (error as Error).message;
		}
		await a.query(`DELETE FROM ${table}`);
		assert.equal(nextCaller, "ok", `the next borrower got a connection still holding LOCK TABLES: ${nextCaller}`);
		assert.equal(otherWriter, "ok", `the released connection kept its table lock in the pool: ${otherWriter}`);
	});
});

describe("MySQL client: read/write routing", () => {
	// Two pools on the one local server; a session variable tells them apart.
	const primary = { url, session: { variables: { lock_wait_timeout: 11 } } };
	const replica = { url, session: { variables: { lock_wait_timeout: 22 } } };
	const which = "SELECT @@session.lock_wait_timeout AS server";

	it("sends sure reads to the replica, writes and transactions to the primary", async () => {
		// Warmed: reads go to a replica only once a connection to it is ready.
		const db = client({ primary, replicas: [replica], pool: { min: 1 } });
		await db.start();
		assert.deepEqual(await db.query(which), [{ server: 22 }]);
		assert.deepEqual(await db.query(which, [], { route: "primary" }), [{ server: 11 }]);
		assert.equal(await db.query(`INSERT INTO ${TABLE} VALUES (50, 'w')`, [], { fetch: "none" }), 1);
		assert.deepEqual(await db.transaction((tx) => tx.query(which)), [{ server: 11 }]);
		assert.deepEqual(await db.query(`SELECT name, @@session.lock_wait_timeout AS server FROM ${TABLE} WHERE id = 50 FOR UPDATE`), [{ name: "w", server: 11 }]);
		const stats = db.stats();
		assert.equal(stats.primary.acquires.ok, 4);
		assert.equal(stats.replicas[0].acquires.ok, 1);
		await db.query(`DELETE FROM ${TABLE}`);
	});

	it("a session reads its own writes from the primary for readYourWritesMs", async () => {
		const db = client({ primary, replicas: [replica], readYourWritesMs: 60_000, pool: { min: 1 } });
		await db.start();
		const session = db.session();
		assert.deepEqual(await session.query(which), [{ server: 22 }]);
		await session.query(`INSERT INTO ${TABLE} VALUES (51, 'mine')`);
		assert.deepEqual(await session.query(which), [{ server: 11 }]);
		assert.deepEqual(await db.session().query(which), [{ server: 22 }], "another session still reads the replica");
		await db.query(`DELETE FROM ${TABLE}`);
	});
});
