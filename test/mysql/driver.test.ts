import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { ResolvedMysqlConfig } from "../../src/adapters/mysql/config.ts";
import {
	isMysqlConnectionFault,
	type MysqlConnection,
	mysqlDriver,
	QueryFailedError,
	type QueryTimeoutError,
	resolveMysqlConfig,
} from "../../src/adapters/mysql/index.ts";
import { ErrorCode, LifeguardError } from "../../src/index.ts";
import { requireService } from "../support/services.ts";
import { TcpProxy } from "../support/tcp-proxy.ts";
import { type Admin, admin, eventually, server, statementRunning, threadsOn, url } from "./helpers.ts";

const TABLE = "lifeguard_mysql_driver";
const driver = mysqlDriver;
const config = resolveMysqlConfig(url);
const open: MysqlConnection[] = [];

async function connect(c: ResolvedMysqlConfig = config, signal = AbortSignal.timeout(5_000)): Promise<MysqlConnection> {
	const conn = await driver.connect(c, signal);
	open.push(conn);
	return conn;
}

async function value<T = unknown>(conn: MysqlConnection, sql: string, params: unknown[] = []): Promise<T> {
	const { rows } = await driver.run(conn, sql, params, "all", 0, undefined);
	return Object.values(rows[0])[0] as T;
}

function rejectsWith<E extends LifeguardError = LifeguardError>(code: string, check?: (error: E) => void) {
	return (error: unknown) => {
		assert.ok(error instanceof LifeguardError, `expected a LifeguardError, got ${String(error)}`);
		assert.equal(error.code, code, error.message);
		if (check) check(error as E);
		return true;
	};
}

/** The mysql2 error behind a typed error. */
function driverError(error: LifeguardError): { errno?: number; code?: string; sqlState?: string } {
	return error.cause as { errno?: number; code?: string; sqlState?: string };
}

let a: Admin;

before(async () => {
	await requireService("mysql");
	a = await admin();
	await a.query(`DROP TABLE IF EXISTS ${TABLE}`);
	await a.query(`CREATE TABLE ${TABLE} (id INT PRIMARY KEY, name VARCHAR(200)) ENGINE=InnoDB`);
});

after(async () => {
	await Promise.all(open.map((conn) => driver.close(conn)));
	await a.query(`DROP TABLE IF EXISTS ${TABLE}`);
	await a.query("DROP USER IF EXISTS lifeguard_mysql_pw@'127.0.0.1'");
	await a.end();
});

describe("MySQL driver: connect", () => {
	it("opens a connection and learns its server thread id and flavor", async () => {
		const conn = await connect();
		assert.equal(conn.threadId, await value<number>(conn, "SELECT CONNECTION_ID()"));
		assert.equal(conn.flavor, "mariadb");
		assert.equal(conn.inTransaction, false);
	});

	it("fails by the signal's deadline when the server accepts but never answers, and destroys the socket", async () => {
		const proxy = await TcpProxy.start(server.port, server.host);
		try {
			proxy.setMode("stall");
			const started = performance.now();
			await assert.rejects(
				driver.connect(resolveMysqlConfig({ host: "127.0.0.1", port: proxy.port, user: "root" }), AbortSignal.timeout(300)),
				(error: unknown) => {
					assert.equal((error as Error).name, "TimeoutError");
					return true;
				},
			);
			const took = performance.now() - started;
			// The alternative is no rejection at all (the proxy stalls forever): the upper bound only needs to be finite.
			assert.ok(took >= 290 && took < 5_000, `rejected after ${took} ms`);
			assert.ok(await eventually(() => proxy.connections === 0, 1_000), "the proxy still sees the socket open");
		} finally {
			await proxy.close();
		}
	});

	it("reports an unreachable server as CREATE_FAILED naming the server, not the password", async () => {
		const proxy = await TcpProxy.start(server.port, server.host);
		proxy.setMode("refuse");
		try {
			await assert.rejects(
				driver.connect(resolveMysqlConfig(`mysql://root:sup3rsecret@127.0.0.1:${proxy.port}/test`), AbortSignal.timeout(2_000)),
				rejectsWith(ErrorCode.CREATE_FAILED, (error) => {
					assert.match(error.message, new RegExp(`root@127.0.0.1:${proxy.port}/test`));
					assert.doesNotMatch(error.message, /sup3rsecret/);
				}),
			);
		} finally {
			await proxy.close();
		}
	});

	it("calls an async password function for every new connection; a wrong one fails without echoing it", async () => {
		await a.query("DROP USER IF EXISTS lifeguard_mysql_pw@'127.0.0.1'");
		await a.query("CREATE USER lifeguard_mysql_pw@'127.0.0.1' IDENTIFIED BY 'R0tating:pw@1'");
		let calls = 0;
		const account = { host: server.host, port: server.port, user: "lifeguard_mysql_pw" };
		const rotating = resolveMysqlConfig({
			...account,
			password: async () => {
				calls++;
				return "R0tating:pw@1";
			},
		});
		const one = await connect(rotating);
		const two = await connect(rotating);
		assert.equal(calls, 2);
		assert.equal(await value(one, "SELECT CURRENT_USER()"), "lifeguard_mysql_pw@127.0.0.1");
		assert.notEqual(one.threadId, two.threadId);
		const viaUrl = await connect(resolveMysqlConfig(`mysql://lifeguard_mysql_pw:${encodeURIComponent("R0tating:pw@1")}@${server.host}:${server.port}`));
		assert.equal(await value(viaUrl, "SELECT 1"), 1);
		await assert.rejects(
			driver.connect(resolveMysqlConfig({ ...account, password: "wrong-Pa55word" }), AbortSignal.timeout(2_000)),
			// Permanent: CONFIG_INVALID, which the pool fails its waiters with at once.
			rejectsWith(ErrorCode.CONFIG_INVALID, (error) => assert.doesNotMatch(error.message, /wrong-Pa55word/)),
		);
	});

	it("passes SSL options through to mysql2 (this server has TLS disabled, so asking for it fails the handshake)", async () => {
		await assert.rejects(
			driver.connect(resolveMysqlConfig({ url, ssl: { rejectUnauthorized: false } }), AbortSignal.timeout(2_000)),
			rejectsWith(ErrorCode.CONFIG_INVALID, (error) => assert.equal(driverError(error).code, "HANDSHAKE_NO_SSL_SUPPORT")),
		);
	});

	it("applies session settings to every new connection", async () => {
		const conn = await connect(
			resolveMysqlConfig({ url, session: { timeZone: "+02:00", sqlMode: "STRICT_ALL_TABLES,NO_ZERO_DATE", variables: { lock_wait_timeout: 7 } } }),
		);
		const { rows } = await driver.run(
			conn,
			"SELECT @@session.time_zone AS tz, @@session.sql_mode AS mode, @@session.lock_wait_timeout AS lw",
			[],
			"all",
			0,
			undefined,
		);
		assert.deepEqual(rows[0], { tz: "+02:00", mode: "STRICT_ALL_TABLES,NO_ZERO_DATE", lw: 7 });
	});

	it("fails the connection when session setup fails, and closes it", async () => {
		// Its own database, so that the test sees only its own connection in the server's process list.
		const database = "lifeguard_mysql_driver_setup";
		await a.query(`CREATE DATABASE IF NOT EXISTS ${database}`);
		try {
			await assert.rejects(connect(resolveMysqlConfig({ url, database, session: { timeZone: "Not/A_Zone" } })), /time zone/i);
			assert.ok(await eventually(async () => (await threadsOn(a, database)).length === 0), "the failed connection is still open on the server");
		} finally {
			await a.query(`DROP DATABASE IF EXISTS ${database}`);
		}
	});
});

describe("MySQL driver: fetch modes", () => {
	it("all: every row; none: affected rows", async () => {
		const conn = await connect();
		assert.equal((await driver.run(conn, `INSERT INTO ${TABLE} VALUES (?, ?), (?, ?)`, [1, "a", 2, "b"], "none", 0, undefined)).affectedRows, 2);
		const { rows } = await driver.run(conn, `SELECT id, name FROM ${TABLE} ORDER BY id`, [], "all", 0, undefined);
		assert.deepEqual(rows, [
			{ id: 1, name: "a" },
			{ id: 2, name: "b" },
		]);
		assert.equal((await driver.run(conn, `DELETE FROM ${TABLE}`, [], "none", 0, undefined)).affectedRows, 2);
	});

	it("one: the first row only, or none", async () => {
		const conn = await connect();
		assert.deepEqual((await driver.run(conn, "SELECT seq FROM seq_1_to_1000", [], "one", 0, undefined)).rows, [{ seq: 1 }]);
		assert.deepEqual((await driver.run(conn, "SELECT seq FROM seq_1_to_1000 WHERE seq > 5000", [], "one", 0, undefined)).rows, []);
	});

	it("many: at most limit rows, the server asked to send no more (sql_select_limit)", async () => {
		const conn = await connect();
		assert.deepEqual((await driver.run(conn, "SELECT seq FROM seq_1_to_100000", [], "many", 3, undefined)).rows, [{ seq: 1 }, { seq: 2 }, { seq: 3 }]);
		assert.equal((await driver.run(conn, "SELECT seq FROM seq_1_to_5", [], "many", 10, undefined)).rows.length, 5);
		// The server really sent 3: Rows_sent counts what it wrote to this session.
		const sentBefore = await rowsSent(conn);
		await driver.run(conn, "SELECT seq FROM seq_1_to_100000", [], "many", 3, undefined);
		assert.equal((await rowsSent(conn)) - sentBefore, 3);
	});

	it("many: a statement whose own LIMIT is larger is cut short by KILL QUERY, keeping the connection, its session and its transaction", async () => {
		const conn = await connect();
		await driver.run(conn, "SET @kept = 'yes'", [], "none", 0, undefined);
		await driver.run(conn, "START TRANSACTION", [], "none", 0, undefined);
		await driver.run(conn, `INSERT INTO ${TABLE} VALUES (10, 'in tx')`, [], "none", 0, undefined);
		const started = performance.now();
		// Ten billion bytes if read to the end.
		const { rows } = await driver.run(conn, "SELECT seq, REPEAT('x', 1000) AS pad FROM seq_1_to_10000000 LIMIT 10000000", [], "many", 4, undefined);
		const took = performance.now() - started;
		assert.deepEqual(
			rows.map((r) => r.seq),
			[1, 2, 3, 4],
		);
		// Reading the ten billion bytes takes minutes: 15 s is far from that and far above a loaded machine's KILL round trip.
		assert.ok(took < 15_000, `took ${took} ms: the rest of the result was read`);
		assert.equal(conn.deathCause, undefined);
		assert.deepEqual(
			(await driver.run(conn, `SELECT @kept AS kept, @@in_transaction AS tx, (SELECT COUNT(*) FROM ${TABLE}) AS n`, [], "all", 0, undefined)).rows[0],
			{
				kept: "yes",
				tx: 1,
				n: 1,
			},
		);
		await driver.run(conn, "ROLLBACK", [], "none", 0, undefined);
	});
});

describe("MySQL driver: fetch modes on writes", () => {
	it("one/many on INSERT … RETURNING return the first rows and let the write finish", async () => {
		const conn = await connect();
		const { rows } = await driver.run(
			conn,
			`INSERT INTO ${TABLE} (id, name) SELECT seq, 'returned' FROM seq_100_to_5099 RETURNING id`,
			[],
			"one",
			0,
			undefined,
		);
		assert.deepEqual(rows, [{ id: 100 }]);
		assert.equal(await value(conn, `SELECT COUNT(*) FROM ${TABLE} WHERE name = 'returned'`), 5_000);
		const deleted = await driver.run(conn, `DELETE FROM ${TABLE} WHERE name = 'returned' RETURNING id`, [], "many", 2, undefined);
		assert.equal(deleted.rows.length, 2);
		assert.equal(await value(conn, `SELECT COUNT(*) FROM ${TABLE}`), 0);
	});
});

async function rowsSent(conn: MysqlConnection): Promise<number> {
	const { rows } = await driver.run(conn, "SHOW SESSION STATUS LIKE 'Rows_sent'", [], "all", 0, undefined);
	return Number(rows[0].Value);
}

describe("MySQL driver: statement timeouts", () => {
	it("MariaDB stops the statement itself (max_statement_time): QUERY_TIMEOUT, connection reusable", async () => {
		const conn = await connect();
		const started = performance.now();
		await assert.rejects(
			driver.run(conn, "SELECT SLEEP(60) AS lifeguard_timeout_a", [], "all", 0, 200),
			rejectsWith<QueryTimeoutError>(ErrorCode.QUERY_TIMEOUT, (error) => {
				assert.equal(error.connectionClosed, false);
				assert.equal(driverError(error).errno, 1969);
			}),
		);
		const took = performance.now() - started;
		// Without the timeout the statement runs 60 s: 10 s tells the two apart on any machine.
		assert.ok(took >= 190 && took < 10_000, `took ${took} ms`);
		// Gone well before the 60 s it would run (the stopped thread can linger in the process list for a moment on a loaded machine).
		assert.ok(await eventually(async () => !(await statementRunning(a, "lifeguard_timeout_a")), 1_000));
		assert.equal(await value(conn, "SELECT 7"), 7);
	});

	it("a timeout also stops a statement waiting for a row lock", async () => {
		const holder = await connect();
		const waiter = await connect();
		await driver.run(holder, `INSERT INTO ${TABLE} VALUES (20, 'locked')`, [], "none", 0, undefined);
		await driver.run(holder, "START TRANSACTION", [], "none", 0, undefined);
		await driver.run(holder, `SELECT * FROM ${TABLE} WHERE id = 20 FOR UPDATE`, [], "all", 0, undefined);
		try {
			await assert.rejects(driver.run(waiter, `UPDATE ${TABLE} SET name = 'waited' WHERE id = 20`, [], "none", 0, 300), rejectsWith(ErrorCode.QUERY_TIMEOUT));
		} finally {
			await driver.run(holder, "ROLLBACK", [], "none", 0, undefined);
			await driver.run(holder, `DELETE FROM ${TABLE} WHERE id = 20`, [], "none", 0, undefined);
		}
		assert.equal(await value(waiter, "SELECT 8"), 8);
	});

	it("timeoutMethod kill: KILL QUERY from a second connection stops any statement at the deadline", async () => {
		const conn = await connect(resolveMysqlConfig({ url, timeoutMethod: "kill" }));
		const started = performance.now();
		await assert.rejects(driver.run(conn, "DO SLEEP(60) /* lifeguard_timeout_b */", [], "none", 0, 200), rejectsWith(ErrorCode.QUERY_TIMEOUT));
		const took = performance.now() - started;
		assert.ok(took >= 190 && took < 10_000, `took ${took} ms`);
		assert.equal(await statementRunning(a, "lifeguard_timeout_b"), false);
		assert.equal(await value(conn, "SELECT 9"), 9);
	});

	it("one/many honour the timeout too", async () => {
		const conn = await connect();
		await assert.rejects(driver.run(conn, "SELECT SLEEP(5) FROM seq_1_to_3", [], "many", 2, 150), rejectsWith(ErrorCode.QUERY_TIMEOUT));
		assert.equal(await value(conn, "SELECT 10"), 10);
	});

	it("closing a connection still busy with a statement destroys its socket at once", async () => {
		const conn = await driver.connect(config, AbortSignal.timeout(2_000));
		const running = driver.run(conn, "SELECT SLEEP(5) /* lifeguard_abandoned */", [], "all", 0, undefined).catch((error: unknown) => error);
		await eventually(() => statementRunning(a, "lifeguard_abandoned"));
		const started = performance.now();
		await driver.close(conn);
		// The statement sleeps 5 s: waiting for it would take that long; 2 s tells the two apart with room for a loaded machine (500 ms had little).
		assert.ok(performance.now() - started < 2_000, `closed after ${Math.round(performance.now() - started)} ms`);
		await assert.rejects(
			running.then((error) => Promise.reject(error)),
			rejectsWith(ErrorCode.CONNECTION_LOST),
		);
	});
});

describe("MySQL driver: batch", () => {
	it("sends an INSERT … VALUES batch as one multi-row INSERT", async () => {
		const conn = await connect();
		const inserts = async () => Number((await driver.run(conn, "SHOW SESSION STATUS LIKE 'Com_insert'", [], "all", 0, undefined)).rows[0].Value);
		const before = await inserts();
		const sets = Array.from({ length: 500 }, (_, i) => [1000 + i, `it's row ${i}? (yes)`]);
		assert.equal(await driver.runBatch(conn, `INSERT INTO ${TABLE} (id, name) VALUES (?, ?)`, sets, undefined), 500);
		assert.equal((await inserts()) - before, 1);
		assert.equal(await value(conn, `SELECT name FROM ${TABLE} WHERE id = 1499`), "it's row 499? (yes)");
		await driver.run(conn, `DELETE FROM ${TABLE}`, [], "none", 0, undefined);
	});

	it("runs other statements once per parameter set, all or nothing", async () => {
		const conn = await connect();
		await driver.runBatch(
			conn,
			`INSERT INTO ${TABLE} (id, name) VALUES (?, ?)`,
			[
				[1, "a"],
				[2, "b"],
			],
			undefined,
		);
		assert.equal(
			await driver.runBatch(
				conn,
				`UPDATE ${TABLE} SET name = ? WHERE id = ?`,
				[
					["A", 1],
					["B", 2],
				],
				undefined,
			),
			2,
		);
		await assert.rejects(
			driver.runBatch(
				conn,
				`UPDATE ${TABLE} SET id = ? WHERE id = ?`,
				[
					[3, 1],
					[3, 2],
				],
				undefined,
			),
			rejectsWith(ErrorCode.QUERY_FAILED, (error) => assert.equal(driverError(error).errno, 1062)),
		);
		assert.deepEqual((await driver.run(conn, `SELECT id, name FROM ${TABLE} ORDER BY id`, [], "all", 0, undefined)).rows, [
			{ id: 1, name: "A" },
			{ id: 2, name: "B" },
		]);
		assert.equal(conn.inTransaction, false);
		await driver.run(conn, `DELETE FROM ${TABLE}`, [], "none", 0, undefined);
	});

	it("splits a batch over 1 MiB of SQL into several INSERTs in one transaction, so a failure keeps none", async () => {
		const conn = await connect();
		const big = "x".repeat(200);
		const sets = Array.from({ length: 8_000 }, (_, i) => [i, big]);
		sets.push([0, "duplicate of the first"]);
		await assert.rejects(driver.runBatch(conn, `INSERT INTO ${TABLE} (id, name) VALUES (?, ?)`, sets, undefined), rejectsWith(ErrorCode.QUERY_FAILED));
		assert.equal(await value(conn, `SELECT COUNT(*) FROM ${TABLE}`), 0);
		sets.pop();
		assert.equal(await driver.runBatch(conn, `INSERT INTO ${TABLE} (id, name) VALUES (?, ?)`, sets, undefined), 8_000);
		assert.equal(await value(conn, `SELECT COUNT(*) FROM ${TABLE}`), 8_000);
		await driver.run(conn, `DELETE FROM ${TABLE}`, [], "none", 0, undefined);
	});

	it("inside a caller's transaction, leaves commit to the caller", async () => {
		const conn = await connect();
		await driver.run(conn, "START TRANSACTION", [], "none", 0, undefined);
		await driver.runBatch(
			conn,
			`UPDATE ${TABLE} SET name = ? WHERE id = ?`,
			[
				["x", 1],
				["y", 2],
			],
			undefined,
		);
		assert.equal(conn.inTransaction, true);
		await driver.run(conn, "ROLLBACK", [], "none", 0, undefined);
	});
});

describe("MySQL driver: reset on release", () => {
	it("rolls back an open transaction, and costs no round trip on a clean connection", async () => {
		const conn = await connect();
		await driver.run(conn, "START TRANSACTION", [], "none", 0, undefined);
		await driver.run(conn, `INSERT INTO ${TABLE} VALUES (30, 'uncommitted')`, [], "none", 0, undefined);
		assert.equal(conn.inTransaction, true);
		await driver.reset(conn);
		assert.equal(conn.inTransaction, false);
		assert.equal(await value(conn, `SELECT COUNT(*) FROM ${TABLE} WHERE id = 30`), 0);
		const questions = async () => Number((await driver.run(conn, "SHOW SESSION STATUS LIKE 'Questions'", [], "all", 0, undefined)).rows[0].Value);
		const before = await questions();
		await driver.reset(conn);
		assert.equal((await questions()) - before, 1, "only the second SHOW STATUS reached the server");
	});

	it("with autocommit off, any statement may open a transaction: reset rolls back, then switches autocommit back on", async () => {
		const conn = await connect();
		await driver.run(conn, "SET autocommit = 0", [], "none", 0, undefined);
		assert.equal(conn.autocommit, false, "the OK packet's status flags tell that autocommit is off");
		await driver.run(conn, `INSERT INTO ${TABLE} VALUES (31, 'implicit tx')`, [], "none", 0, undefined);
		assert.equal(driver.needsReset?.(conn), true);
		await driver.reset(conn);
		assert.equal(await value(conn, `SELECT COUNT(*) FROM ${TABLE} WHERE id = 31`), 0);
		assert.equal(Number(await value(conn, "SELECT @@autocommit")), 1);
		assert.equal(conn.autocommit, true);
		assert.equal(driver.needsReset?.(conn), false);
	});

	it("LOCK TABLES is undone by UNLOCK TABLES on reset, so the table is free for everyone else", async () => {
		const conn = await connect();
		await driver.run(conn, `LOCK TABLES ${TABLE} WRITE`, [], "none", 0, undefined);
		assert.equal(driver.needsReset?.(conn), true);
		await driver.reset(conn);
		await a.query("SET SESSION lock_wait_timeout = 1");
		await a.query(`INSERT INTO ${TABLE} VALUES (32, 'after unlock')`);
		await a.query(`DELETE FROM ${TABLE} WHERE id = 32`);
		assert.equal(driver.needsReset?.(conn), false);
	});

	it("named locks taken with GET_LOCK are released on reset (RELEASE_ALL_LOCKS)", async () => {
		const conn = await connect();
		await driver.run(conn, "SELECT GET_LOCK('lifeguard_mysql_named', 5) AS got", [], "all", 0, undefined);
		const free = async () => Number(Object.values((await a.query("SELECT IS_FREE_LOCK('lifeguard_mysql_named') AS free"))[0] as object)[0].free);
		assert.equal(await free(), 0);
		await driver.reset(conn);
		assert.equal(await free(), 1);
		assert.equal(driver.needsReset?.(conn), false);
	});

	it("a statement that only mentions locks, or a table lock already undone, costs no round trip on release", async () => {
		const conn = await connect();
		await driver.run(conn, "SELECT 'lock' AS word, IS_FREE_LOCK('x') AS free", [], "all", 0, undefined);
		assert.equal(driver.needsReset?.(conn), false);
		await driver.run(conn, `LOCK TABLES ${TABLE} READ`, [], "none", 0, undefined);
		await driver.run(conn, "UNLOCK TABLES", [], "none", 0, undefined);
		assert.equal(driver.needsReset?.(conn), false);
	});

	it("resetSession: COM_RESET_CONNECTION clears the session, then session settings are applied again", async () => {
		const conn = await connect(resolveMysqlConfig({ url, resetSession: true, session: { timeZone: "+03:00" } }));
		await driver.run(conn, "SET @left_over = 1, time_zone = '+05:00'", [], "none", 0, undefined);
		await driver.run(conn, "CREATE TEMPORARY TABLE lifeguard_mysql_tmp (a INT)", [], "none", 0, undefined);
		await driver.reset(conn);
		const { rows } = await driver.run(conn, "SELECT @left_over AS v, @@session.time_zone AS tz", [], "all", 0, undefined);
		assert.deepEqual(rows[0], { v: null, tz: "+03:00" });
		await assert.rejects(driver.run(conn, "SELECT * FROM lifeguard_mysql_tmp", [], "all", 0, undefined), rejectsWith(ErrorCode.QUERY_FAILED));
	});

	it("resetSession: the client's session setup runs after the reset and the session settings, as on a new connection", async () => {
		const conn = await connect(resolveMysqlConfig({ url, resetSession: true, session: { timeZone: "+03:00" } }));
		const seen: unknown[] = [];
		await driver.reset(conn, async (reset) => {
			seen.push((await reset.query("SELECT @@session.time_zone AS tz")).rows[0]);
			await reset.query("SET @set_up = 'again'");
		});
		assert.deepEqual(seen, [{ tz: "+03:00" }]);
		assert.equal(await value(conn, "SELECT @set_up"), "again");
	});

	it("without resetSession, the session is kept, so the session setup is not run again", async () => {
		const conn = await connect();
		let setups = 0;
		await driver.run(conn, "START TRANSACTION", [], "none", 0, undefined);
		await driver.reset(conn, async () => {
			setups++;
		});
		assert.equal(setups, 0);
		assert.equal(conn.inTransaction, false);
	});
});

describe("MySQL driver: errors and dead connections", () => {
	it("classifies connection faults apart from the caller's errors", () => {
		const fault = (fields: Record<string, unknown>) => isMysqlConnectionFault(Object.assign(new Error("x"), fields));
		assert.equal(fault({ code: "PROTOCOL_CONNECTION_LOST", fatal: true }), true);
		assert.equal(fault({ code: "ECONNRESET" }), true);
		assert.equal(fault({ code: "ER_SERVER_SHUTDOWN", errno: 1053 }), true);
		assert.equal(fault({ code: "ER_CONNECTION_KILLED", errno: 1927 }), true);
		assert.equal(fault({ fatal: true }), true);
		assert.equal(fault({ code: "ER_PARSE_ERROR", errno: 1064 }), false);
		assert.equal(fault({ code: "ER_DUP_ENTRY", errno: 1062 }), false);
		assert.equal(fault({ code: "ER_LOCK_DEADLOCK", errno: 1213 }), false);
		assert.equal(isMysqlConnectionFault(new LifeguardError(ErrorCode.CONNECTION_LOST, "gone")), true);
		assert.equal(isMysqlConnectionFault("string"), false);
	});

	it("a syntax error is QUERY_FAILED with errno and SQLSTATE, and the connection stays usable", async () => {
		const conn = await connect();
		await assert.rejects(
			driver.run(conn, "SELEC 1", [], "all", 0, undefined),
			rejectsWith<QueryFailedError>(ErrorCode.QUERY_FAILED, (error) => {
				assert.ok(error instanceof QueryFailedError);
				assert.equal(error.sqlState, "42000");
				assert.equal(driverError(error).errno, 1064);
				assert.equal(driverError(error).code, "ER_PARSE_ERROR");
				assert.equal(driver.isConnectionFault(error), false);
			}),
		);
		assert.equal(await value(conn, "SELECT 11"), 11);
	});

	it("a connection killed during a statement fails it with CONNECTION_LOST and reports the death", async () => {
		const conn = await connect();
		const dead: unknown[] = [];
		driver.onDead(conn, (error) => dead.push(error));
		const running = driver.run(conn, "SELECT SLEEP(5) /* lifeguard_killed_a */", [], "all", 0, undefined);
		const outcome = running.then(
			() => assert.fail("the statement succeeded"),
			(error: unknown) => error,
		);
		await eventually(() => statementRunning(a, "lifeguard_killed_a"));
		await a.query(`KILL CONNECTION ${conn.threadId}`);
		await assert.rejects(
			outcome.then((error) => Promise.reject(error)),
			rejectsWith(ErrorCode.CONNECTION_LOST, (error) => assert.equal(driver.isConnectionFault(error), true)),
		);
		assert.ok(await eventually(() => dead.length === 1));
	});

	it("an idle connection killed server-side never throws at the process: its death is reported once", async () => {
		const uncaught: unknown[] = [];
		const onUncaught = (error: unknown) => uncaught.push(error);
		process.on("uncaughtException", onUncaught);
		try {
			const conn = await connect();
			const dead: unknown[] = [];
			driver.onDead(conn, (error) => dead.push(error));
			await a.query(`KILL CONNECTION ${conn.threadId}`);
			assert.ok(await eventually(() => dead.length > 0), "death not reported");
			await new Promise((r) => setTimeout(r, 50));
			assert.equal(dead.length, 1);
			assert.ok(driver.isConnectionFault(dead[0]), String(dead[0]));
			await assert.rejects(driver.ping(conn, AbortSignal.timeout(1_000)), rejectsWith(ErrorCode.CONNECTION_LOST));
			const late: unknown[] = [];
			driver.onDead(conn, (error) => late.push(error));
			assert.ok(await eventually(() => late.length === 1), "a listener added after the death is called too");
		} finally {
			process.off("uncaughtException", onUncaught);
		}
		assert.deepEqual(uncaught, []);
	});

	it("pings with COM_PING", async () => {
		const conn = await connect();
		await driver.ping(conn, AbortSignal.timeout(1_000));
	});

	it("writes BEGIN for each isolation level and read-only", () => {
		assert.deepEqual(driver.beginSql({}), ["START TRANSACTION"]);
		assert.deepEqual(driver.beginSql({ isolation: "serializable", readOnly: true }), [
			"SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
			"START TRANSACTION READ ONLY",
		]);
		assert.deepEqual(driver.beginSql({ isolation: "read committed" }), ["SET TRANSACTION ISOLATION LEVEL READ COMMITTED", "START TRANSACTION"]);
	});

	it("close sends COM_QUIT and the server forgets the connection", async () => {
		const conn = await driver.connect(config, AbortSignal.timeout(2_000));
		const id = conn.threadId;
		await driver.close(conn);
		assert.ok(
			await eventually(
				async () => ((await a.query("SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE ID = ?", [id]))[0] as { n: number }[])[0].n === 0,
			),
		);
	});
});
