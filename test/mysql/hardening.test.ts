/** What users expect from mysql2 that the MySQL client now gives: exact BIGINTs, and connect errors no retry fixes failing at once. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createMysqlClient, type SqlClient } from "../../src/adapters/mysql/index.ts";
import { ErrorCode } from "../../src/core/errors.ts";
import { requireService } from "../support/services.ts";
import { admin, eventually, server, statementRunning, url } from "./helpers.ts";

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
			assert.ok(performance.now() - started < 2_000, `failed after ${Math.round(performance.now() - started)} ms`);
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
