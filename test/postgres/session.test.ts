/**
 * What the PostgreSQL server does to a session decides whether a connection survives an error;
 * what a borrower leaves on a session (LISTEN, listeners on the raw client) never reaches the next.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type pg from "pg";
import type { SqlClient } from "../../src/adapters/sql/types.ts";
import { ErrorCode } from "../../src/core/errors.ts";
import { requireService } from "../support/services.ts";
import { admin, eventually, pidOf, statementRunning, testClient } from "./helpers.ts";

const TABLE = "lg_pg_session";

describe("postgres: protocol errors the session survives", () => {
	let db: SqlClient;
	let a: pg.Client;

	before(async () => {
		await requireService("postgres");
		a = await admin();
		await a.query(`DROP TABLE IF EXISTS ${TABLE}`);
		await a.query(`CREATE TABLE ${TABLE} (id int)`);
		db = testClient("session", { pool: { max: 1 } }).db;
	});

	after(async () => {
		await db?.close();
		await a?.query(`DROP TABLE IF EXISTS ${TABLE}`);
		await a?.end();
	});

	const failsInPlace = async (run: () => Promise<unknown>, sqlState: string | undefined, message: RegExp) => {
		const pid = await pidOf(db);
		const created = db.stats().primary.created;
		await assert.rejects(run(), (error: Error & { code?: string; sqlState?: string }) => {
			assert.equal(error.code, ErrorCode.QUERY_FAILED, error.message);
			assert.equal(error.sqlState, sqlState);
			assert.match(error.message, message);
			assert.doesNotMatch(error.message, /may or may not have been applied/);
			return true;
		});
		assert.equal(await pidOf(db), pid, "the connection was kept");
		assert.equal(db.stats().primary.created, created);
	};

	it("a wrong number of parameters (08P01 with severity ERROR) is QUERY_FAILED and the connection is kept", async () => {
		await failsInPlace(() => db.query("SELECT $1::int AS a, $2::int AS b", [1]), "08P01", /bind message supplies 1 parameters/);
		await failsInPlace(() => db.query("SELECT $1::int AS a", [1, 2]), "08P01", /requires 1/);
	});

	it("70,000 parameters are refused before anything is sent, saying how to pass many values", async () => {
		const params = Array.from({ length: 70_000 }, (_, i) => i);
		const sql = `SELECT 1 WHERE 1 IN (${params.map((_, i) => `$${i + 1}`).join(",")})`;
		await failsInPlace(() => db.query(sql, params), "54000", /at most 65535 parameters.*ANY\(\$1\)/);
	});

	it("batch('COPY …') is refused before it is sent, pointing to the raw client; the connection is kept", async () => {
		await failsInPlace(() => db.batch(`COPY ${TABLE} FROM STDIN`, [[]]), undefined, /COPY cannot run in batch\(\).*conn\.raw/);
		await failsInPlace(() => db.batch(`COPY ${TABLE} TO STDOUT`, [[]]), undefined, /COPY cannot run in batch\(\)/);
	});

	it("a session the server really ended (pg_terminate_backend, FATAL) is still CONNECTION_LOST", async () => {
		const pid = await pidOf(db);
		const running = db.query("SELECT pg_sleep(5), 'lg-pg-fatal-marker'").then(
			() => undefined,
			(error: Error & { code?: string }) => error,
		);
		assert.ok(await eventually(() => statementRunning(a, "lg-pg-fatal-marker"), 3_000));
		await a.query("SELECT pg_terminate_backend($1)", [pid]);
		assert.equal((await running)?.code, ErrorCode.CONNECTION_LOST);
		assert.notEqual(await pidOf(db), pid);
	});
});

describe("postgres: a session leaves nothing for the next borrower", () => {
	let db: SqlClient;
	let a: pg.Client;

	before(async () => {
		await requireService("postgres");
		a = await admin();
		db = testClient("session-clean", { pool: { max: 1 } }).db;
	});

	after(async () => {
		await db?.close();
		await a?.end();
	});

	const listening = async () => (await db.query<{ channel: string }>("SELECT pg_listening_channels() AS channel")).map((r) => r.channel);

	it("a LISTEN does not survive into the next borrower with the default reset", async () => {
		await db.query("LISTEN lg_pg_session_channel");
		assert.deepEqual(await listening(), []);
	});

	it("a pinned connection's raw pg client gets LISTEN/NOTIFY; its listeners and channels are gone after release", async () => {
		const conn = await db.acquire();
		const client = conn.raw as pg.Client;
		const got: string[] = [];
		client.on("notification", (message) => got.push(String(message.payload)));
		await conn.query("LISTEN lg_pg_raw_channel");
		await a.query("NOTIFY lg_pg_raw_channel, 'hello'");
		assert.ok(await eventually(() => got.length === 1, 2_000));
		assert.deepEqual(got, ["hello"]);
		conn.release();
		assert.throws(() => conn.raw, { code: ErrorCode.LEASE_INVALID });
		assert.deepEqual(await listening(), []);
		const again = await db.acquire();
		try {
			assert.equal((again.raw as pg.Client).listenerCount("notification"), 0);
		} finally {
			again.release();
		}
	});
});

describe("postgres: closing the client stops what still runs on the server", () => {
	let a: pg.Client;

	before(async () => {
		await requireService("postgres");
		a = await admin();
	});

	after(() => a?.end());

	it("a statement still running when close({ timeoutMs })'s deadline passes is cancelled on the server, not left running", async () => {
		const { db } = testClient("close-cancels", { pool: { max: 1 } });
		const running = db.query("SELECT pg_sleep(30), 'lg-close-cancels-marker'").catch((error: unknown) => error);
		assert.ok(await eventually(() => statementRunning(a, "lg-close-cancels-marker"), 3_000));
		const started = performance.now();
		await db.close({ timeoutMs: 200 });
		assert.ok(performance.now() - started < 2_000);
		assert.ok(await eventually(async () => !(await statementRunning(a, "lg-close-cancels-marker")), 2_000), "the statement still runs on the server");
		assert.ok(await running);
	});
});
