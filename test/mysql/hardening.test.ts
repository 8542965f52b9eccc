/** What users expect from mysql2 that the MySQL client now gives: exact BIGINTs, and connect errors no retry fixes failing at once. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createMysqlClient, type SqlClient } from "../../src/adapters/mysql/index.ts";
import { ErrorCode } from "../../src/core/errors.ts";
import { requireService } from "../support/services.ts";
import { type Admin, admin, eventually, server, statementRunning, url } from "./helpers.ts";

const SECRET = "my-S3cret-never-shown";

describe("MySQL: BIGINT values are exact by default", () => {
	let db: SqlClient;

	before(async () => {
		await requireService("mysql");
		db = createMysqlClient({ primary: url });
	});

	after(() => db?.close());

	it("past 2^53 a BIGINT is an exact string (signed and unsigned); within it, a number", async () => {
		const row = await db.query(
			"SELECT CAST(9007199254740993 AS SIGNED) AS big, CAST(-9223372036854775808 AS SIGNED) AS low, CAST(18446744073709551615 AS UNSIGNED) AS ubig, CAST(42 AS SIGNED) AS small",
			[],
			{ fetch: "one" },
		);
		assert.deepEqual(row, { big: "9007199254740993", low: "-9223372036854775808", ubig: "18446744073709551615", small: 42 });
		// The same through the streaming path (fetch 'many').
		assert.deepEqual(await db.query("SELECT CAST(9007199254740993 AS SIGNED) AS big", [], { fetch: "many", limit: 1 }), [{ big: "9007199254740993" }]);
	});

	it("driverOptions can ask for mysql2's own behaviour back", async () => {
		const rounded = createMysqlClient({ primary: { url, driverOptions: { supportBigNumbers: false } } });
		try {
			assert.deepEqual(await rounded.query("SELECT CAST(9007199254740993 AS SIGNED) AS big", [], { fetch: "one" }), { big: 9007199254740992 });
		} finally {
			await rounded.close();
		}
	});
});

describe("MySQL: connect errors no retry can fix fail at once", () => {
	before(() => requireService("mysql"));

	const failsAtOnce = async (db: SqlClient, message: RegExp) => {
		const started = performance.now();
		try {
			const error = await db.query("SELECT 1").then(
				() => assert.fail("expected a failure"),
				(e: Error & { code?: string; cause?: Error & { code?: string } }) => e,
			);
			// Retried, it would fail only at the acquire deadline (30 s): 10 s is "at once" on a loaded machine too.
			assert.ok(performance.now() - started < 10_000, `failed after ${Math.round(performance.now() - started)} ms`);
			assert.equal(error.code, ErrorCode.CREATE_FAILED, error.message);
			assert.equal(error.cause?.code, ErrorCode.CONFIG_INVALID);
			assert.match(String(error.cause?.message), message);
			assert.ok(!String(error.message).includes(SECRET) && !String(error.cause?.message).includes(SECRET));
		} finally {
			await db.close();
		}
	};

	it("a wrong password", async () => {
		await failsAtOnce(
			createMysqlClient({ primary: { host: server.host, port: server.port, user: "lg_no_such_user", password: SECRET }, pool: { acquireTimeoutMs: 10_000 } }),
			/access denied for this user and password; check the user/,
		);
	});

	it("an unknown database", async () => {
		await failsAtOnce(
			createMysqlClient({
				primary: { host: server.host, port: server.port, user: server.user, database: "lg_no_such_db" },
				pool: { acquireTimeoutMs: 10_000 },
			}),
			/lg_no_such_db.*create the database or fix its name/,
		);
	});

	it("a password function that throws", async () => {
		await failsAtOnce(
			createMysqlClient({
				primary: {
					host: server.host,
					port: server.port,
					user: server.user,
					password: () => {
						throw new Error("vault sealed");
					},
				},
				pool: { acquireTimeoutMs: 10_000 },
			}),
			/the password function threw \(vault sealed\)/,
		);
	});
});

describe("MySQL: closing the client stops what still runs on the server", () => {
	it("a statement still running when close({ timeoutMs })'s deadline passes is killed on the server, not left running", async () => {
		await requireService("mysql");
		const a = await admin();
		const db = createMysqlClient({ primary: url, pool: { max: 1 } });
		try {
			const running = db.query("SELECT SLEEP(30) AS lg_close_kills_marker").catch((error: unknown) => error);
			assert.ok(await eventually(() => statementRunning(a, "lg_close_kills_marker"), 3_000));
			await db.close({ timeoutMs: 200 });
			assert.ok(await eventually(async () => !(await statementRunning(a, "lg_close_kills_marker")), 2_000), "the statement still runs on the server");
			await running;
		} finally {
			await a.end();
		}
	});
});

describe("MySQL: a pinned connection's raw mysql2 connection", () => {
	it("is the mysql2 connection; whatever ran on it is undone at the release (transaction, autocommit)", async () => {
		await requireService("mysql");
		const a = await admin();
		const db = createMysqlClient({ primary: url, pool: { max: 1 } });
		try {
			await a.query("CREATE TABLE IF NOT EXISTS lg_mysql_raw (id INT PRIMARY KEY) ENGINE=InnoDB");
			await a.query("DELETE FROM lg_mysql_raw");
			const conn = await db.acquire();
			const raw = conn.raw as import("mysql2").Connection;
			await raw.promise().query("SET autocommit = 0");
			await raw.promise().query("INSERT INTO lg_mysql_raw VALUES (1)");
			conn.release();
			assert.throws(() => conn.raw, { code: ErrorCode.LEASE_INVALID });
			const next = await db.query("SELECT @@autocommit AS autocommit, @@in_transaction AS tx, (SELECT COUNT(*) FROM lg_mysql_raw) AS n", [], { fetch: "one" });
			assert.deepEqual(next, { autocommit: 1, tx: 0, n: 0 });
		} finally {
			await db.close();
			await a.query("DROP TABLE IF EXISTS lg_mysql_raw");
			await a.end();
		}
	});
});

describe("MySQL: parameters that do not fit the statement's placeholders", () => {
	let db: SqlClient;
	let a: Admin;

	before(async () => {
		await requireService("mysql");
		db = createMysqlClient({ primary: url, pool: { max: 1 } });
		a = await admin();
		await a.query("CREATE TABLE IF NOT EXISTS lg_mysql_params (v INT) ENGINE=InnoDB");
		await a.query("DELETE FROM lg_mysql_params");
		// The pool's one connection exists before the refusals, so that keeping it can be checked.
		await db.query("SELECT 1");
	});

	after(async () => {
		await db?.close();
		await a?.query("DROP TABLE IF EXISTS lg_mysql_params");
		await a?.end();
	});

	const refused = async (run: () => Promise<unknown>, expected: number, given: number, set?: number) => {
		const created = db.stats().primary.created;
		await assert.rejects(run(), (error: Error & { code?: string; cause?: Error & { code?: string; expected?: number; given?: number } }) => {
			assert.equal(error.code, ErrorCode.QUERY_FAILED, error.message);
			assert.equal(error.cause?.code, "ERR_LIFEGUARD_PARAMETER_COUNT");
			assert.equal(error.cause?.expected, expected);
			assert.equal(error.cause?.given, given);
			assert.match(
				error.message,
				new RegExp(
					`has ${expected} placeholders? .* and ${given} parameters? (was|were) given${set === undefined ? "" : ` in parameter set ${set}`}; nothing was sent`,
				),
			);
			return true;
		});
		assert.equal(db.stats().primary.created, created, "the connection was kept");
	};

	it("more values than placeholders are refused (they used to be dropped), in every fetch mode and in a batch; nothing runs", async () => {
		await refused(() => db.query("INSERT INTO lg_mysql_params (v) VALUES (?)", [1, 2], { fetch: "none" }), 1, 2);
		await refused(() => db.query("SELECT ? AS a", [1, 2]), 1, 2);
		await refused(() => db.query("SELECT ? AS a", [1, 2], { fetch: "one" }), 1, 2);
		await refused(() => db.query("SELECT ? AS a", [1, 2], { fetch: "many", limit: 5 }), 1, 2);
		await refused(() => db.query("SELECT ? AS a", [1, 2], { timeoutMs: 5_000 }), 1, 2);
		await refused(() => db.batch("INSERT INTO lg_mysql_params (v) VALUES (?)", [[1], [2, 3]]), 1, 2, 2);
		await refused(
			() =>
				db.batch("UPDATE lg_mysql_params SET v = ? WHERE v = ?", [
					[1, 2],
					[3, 4, 5],
				]),
			2,
			3,
			2,
		);
		const [rows] = await a.query<import("mysql2").RowDataPacket[]>("SELECT COUNT(*) AS n FROM lg_mysql_params");
		assert.equal(Number(rows[0].n), 0, "no set of a refused batch ran");
	});

	it("fewer values than placeholders name both counts instead of the server's syntax error", async () => {
		await refused(() => db.query("SELECT ? AS a, ? AS b", [1]), 2, 1);
	});

	it("the count is mysql2's own: a quoted or commented '?' is no placeholder, '??' is one (an identifier)", async () => {
		assert.deepEqual(await db.query("SELECT '?' AS q, ? AS a /* ? */ -- ?\n", [1], { fetch: "one" }), { q: "?", a: 1 });
		assert.deepEqual(await db.query("SELECT ?? FROM (SELECT 7 AS x) t WHERE ? = 1", ["x", 1], { fetch: "one" }), { x: 7 });
		await refused(() => db.query("SELECT ?? FROM (SELECT 7 AS x) t", ["x", 1]), 1, 2);
		// No parameters at all is plain text, sent as written.
		assert.deepEqual(await db.query("SELECT 'a?b' AS s", [], { fetch: "one" }), { s: "a?b" });
		await db.batch("INSERT INTO lg_mysql_params (v) VALUES (?)", [[1], [2]]);
		const [rows] = await a.query<import("mysql2").RowDataPacket[]>("SELECT COUNT(*) AS n FROM lg_mysql_params");
		assert.equal(Number(rows[0].n), 2);
	});
});
