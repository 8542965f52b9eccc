import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type pg from "pg";
import type { QueryFailedError } from "../../src/adapters/sql/errors.ts";
import type { SqlClient } from "../../src/adapters/sql/types.ts";
import { ErrorCode } from "../../src/core/errors.ts";
import { requireService } from "../support/services.ts";
import { admin, pidOf, testClient } from "./helpers.ts";

const TABLE = "lg_pg_query_items";

describe("postgres: query and fetch modes", () => {
	let db: SqlClient;
	let a: pg.Client;

	before(async () => {
		await requireService("postgres");
		a = await admin();
		await a.query(`DROP TABLE IF EXISTS ${TABLE}`);
		await a.query(`CREATE TABLE ${TABLE} (id int PRIMARY KEY, name text NOT NULL)`);
		db = testClient("query", { pool: { max: 4 } }).db;
	});

	after(async () => {
		await db?.close();
		await a?.query(`DROP TABLE IF EXISTS ${TABLE}`);
		await a?.end();
	});

	it("fetch 'all' (the default) returns every row, with parameters", async () => {
		const rows = await db.query<{ n: number }>("SELECT g AS n FROM generate_series(1, $1::int) g", [3]);
		assert.deepEqual(rows, [{ n: 1 }, { n: 2 }, { n: 3 }]);
	});

	it("fetch 'one' returns the first row, or undefined when there is none", async () => {
		assert.deepEqual(await db.query("SELECT g AS n FROM generate_series(1, 3) g", [], { fetch: "one" }), { n: 1 });
		assert.equal(await db.query("SELECT 1 WHERE false", [], { fetch: "one" }), undefined);
	});

	it("fetch 'one' reads one row only: the server never computes the second", async () => {
		// Row 2 divides by zero; reading it would fail the query.
		const row = await db.query("SELECT 1 / (2 - g) AS v FROM generate_series(1, 3) g", [], { fetch: "one" });
		assert.deepEqual(row, { v: 1 });
	});

	it("fetch 'many' returns at most `limit` rows, and the server stops after them", async () => {
		const sql = "SELECT g, 1 / (11 - g) AS v FROM generate_series(1, 20) g";
		const rows = await db.query<{ g: number }>(sql, [], { fetch: "many", limit: 10 });
		assert.deepEqual(
			rows.map((r) => r.g),
			[1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
		);
		// The same statement read in full reaches row 11 and fails: so 'many' did not read and slice.
		await assert.rejects(db.query(sql), (e: QueryFailedError) => e.sqlState === "22012");
	});

	it("fetch 'many' on a huge result returns at once", async () => {
		const started = performance.now();
		// generate_series in the select list streams its values (in FROM it would be materialised first).
		// Ten billion rows: merely counting them takes the server minutes here (a hundred million took
		// 4.3 s), so the generous bound below, which a loaded CI machine cannot reach, still tells a
		// limited read from a full one.
		const rows = await db.query("SELECT generate_series(1::bigint, 10000000000) AS g", [], { fetch: "many", limit: 3 });
		assert.equal(rows.length, 3);
		assert.ok(performance.now() - started < 15_000, "ten billion rows were not produced");
	});

	it("fetch 'many' without a whole positive limit is a CONFIG_INVALID error", async () => {
		await assert.rejects(db.query("SELECT 1", [], { fetch: "many" } as never), { code: ErrorCode.CONFIG_INVALID });
		await assert.rejects(db.query("SELECT 1", [], { fetch: "many", limit: 0 }), { code: ErrorCode.CONFIG_INVALID });
		await assert.rejects(db.query("SELECT 1", [], { fetch: "rows" } as never), { code: ErrorCode.CONFIG_INVALID });
	});

	it("fetch 'result' returns the rows and the affected count; insertId is undefined (RETURNING gives the id)", async () => {
		await a.query(`CREATE TABLE ${TABLE}_serial (id serial PRIMARY KEY, name text)`);
		try {
			assert.deepEqual(await db.query(`INSERT INTO ${TABLE}_serial (name) VALUES ('a'), ('b')`, [], { fetch: "result" }), {
				rows: [],
				affectedRows: 2,
				insertId: undefined,
			});
			assert.deepEqual(await db.query(`INSERT INTO ${TABLE}_serial (name) VALUES ($1) RETURNING id`, ["c"], { fetch: "result" }), {
				rows: [{ id: 3 }],
				affectedRows: 1,
				insertId: undefined,
			});
			assert.deepEqual(await db.query(`SELECT name FROM ${TABLE}_serial WHERE id > $1 ORDER BY id`, [1], { fetch: "result" }), {
				rows: [{ name: "b" }, { name: "c" }],
				affectedRows: 2,
				insertId: undefined,
			});
		} finally {
			await a.query(`DROP TABLE ${TABLE}_serial`);
		}
	});

	it("fetch 'one' and 'many' on INSERT … RETURNING insert every row, and commit them", async () => {
		await a.query(`CREATE TABLE ${TABLE}_returning (id int PRIMARY KEY)`);
		try {
			const one = await db.query(`INSERT INTO ${TABLE}_returning SELECT g FROM generate_series(1, 5) g RETURNING id`, [], { fetch: "one" });
			assert.deepEqual(one, { id: 1 });
			const many = await db.query(`INSERT INTO ${TABLE}_returning SELECT g FROM generate_series(6, 10) g RETURNING id`, [], { fetch: "many", limit: 2 });
			assert.equal(many.length, 2);
			const { rows } = await a.query(`SELECT count(*)::int AS n FROM ${TABLE}_returning`);
			assert.equal(rows[0].n, 10);
		} finally {
			await a.query(`DROP TABLE ${TABLE}_returning`);
		}
	});

	it("fetch 'none' returns the number of affected rows", async () => {
		assert.equal(await db.query(`INSERT INTO ${TABLE} VALUES (1, 'a'), (2, 'b')`, [], { fetch: "none" }), 2);
		assert.equal(await db.query(`UPDATE ${TABLE} SET name = name || '!'`, [], { fetch: "none" }), 2);
		assert.equal(await db.query(`DELETE FROM ${TABLE} WHERE id = $1`, [2], { fetch: "none" }), 1);
		await db.query(`DELETE FROM ${TABLE}`);
	});

	it("a server error is QUERY_FAILED with the SQLSTATE and the driver's error as cause", async () => {
		const error = (await db.query("SELEC 1").catch((e) => e)) as QueryFailedError;
		assert.equal(error.code, ErrorCode.QUERY_FAILED);
		assert.equal(error.sqlState, "42601");
		assert.equal((error.cause as { code: string }).code, "42601");
		assert.match(error.message, /syntax error/);
	});

	it("a query error leaves the connection in the pool: it is reused, not destroyed", async () => {
		const { db: single } = testClient("query-reuse", { pool: { max: 1 } });
		try {
			const before = await pidOf(single);
			await single.query(`INSERT INTO ${TABLE} VALUES (7, 'x')`);
			await assert.rejects(single.query(`INSERT INTO ${TABLE} VALUES (7, 'dup')`), { code: ErrorCode.QUERY_FAILED, sqlState: "23505" });
			await assert.rejects(single.query("SELECT * FROM no_such_table_lg"), { sqlState: "42P01" });
			assert.equal(await pidOf(single), before);
			const stats = single.stats().primary;
			assert.equal(stats.created, 1);
			assert.equal(stats.destroyed, 0);
		} finally {
			await single.close();
			await db.query(`DELETE FROM ${TABLE}`);
		}
	});

	it("a signal abandons the wait for a connection (ACQUIRE_ABORTED), and waiting is bounded by acquireTimeoutMs", async () => {
		const { db: single } = testClient("query-wait", { pool: { max: 1, acquireTimeoutMs: 300 } });
		const held = await single.acquire();
		try {
			await assert.rejects(single.query("SELECT 1", [], { signal: AbortSignal.timeout(50) }), { code: ErrorCode.ACQUIRE_ABORTED });
			const started = performance.now();
			await assert.rejects(single.query("SELECT 1"), { code: ErrorCode.POOL_TIMEOUT });
			assert.ok(performance.now() - started >= 290);
		} finally {
			held.release();
			await single.close();
		}
	});

	it("concurrent queries each run on their own connection", async () => {
		const pids = await Promise.all(
			Array.from({ length: 4 }, async () => {
				const row = (await db.query<{ pid: number }>("SELECT pg_backend_pid() AS pid, pg_sleep(0.1)", [], { fetch: "one" })) as { pid: number };
				return row.pid;
			}),
		);
		assert.equal(new Set(pids).size, 4);
	});

	it("batch runs one statement for every parameter set and returns the affected rows", async () => {
		const sets = Array.from({ length: 50 }, (_, i) => [100 + i, `item ${i}`]);
		assert.equal(await db.batch(`INSERT INTO ${TABLE} (id, name) VALUES ($1, $2)`, sets), 50);
		assert.equal(
			await db.batch(`UPDATE ${TABLE} SET name = $2 WHERE id = $1`, [
				[100, "first"],
				[101, "second"],
				[999, "none"],
			]),
			2,
		);
		const row = await db.query(`SELECT count(*)::int AS n FROM ${TABLE}`, [], { fetch: "one" });
		assert.deepEqual(row, { n: 50 });
		assert.equal(await db.batch("SELECT 1", []), 0);
		await db.query(`DELETE FROM ${TABLE}`);
	});

	it("batch is all-or-nothing outside a transaction: a failing set undoes the others", async () => {
		await assert.rejects(
			db.batch(`INSERT INTO ${TABLE} (id, name) VALUES ($1, $2)`, [
				[1, "a"],
				[2, "b"],
				[1, "duplicate"],
			]),
			{
				code: ErrorCode.QUERY_FAILED,
				sqlState: "23505",
			},
		);
		assert.deepEqual(await db.query(`SELECT count(*)::int AS n FROM ${TABLE}`, [], { fetch: "one" }), { n: 0 });
	});

	it("batch sends every set before one Sync: all of them run in one implicit transaction", async () => {
		const sets = Array.from({ length: 200 }, (_, i) => [1_000 + i]);
		await db.batch(`INSERT INTO ${TABLE} (id, name) VALUES ($1, txid_current()::text)`, sets);
		const rows = await db.query<{ n: number; txids: number }>(`SELECT count(*)::int AS n, count(DISTINCT name)::int AS txids FROM ${TABLE}`, [], {
			fetch: "one",
		});
		// Statements sent one by one would each commit in a transaction of their own.
		assert.deepEqual(rows, { n: 200, txids: 1 });
		await db.query(`DELETE FROM ${TABLE}`);
	});

	it("values of every common type round-trip through parameters", async () => {
		const when = new Date("2024-02-03T04:05:06.789Z");
		const row = (await db.query<Record<string, unknown>>(
			"SELECT $1::timestamptz AS t, $2::jsonb AS j, $3::bytea AS b, $4::int[] AS a, $5::text AS n, $6::boolean AS f",
			[when, { k: [1, 2] }, Buffer.from([1, 2, 3]), [1, 2, 3], null, false],
			{ fetch: "one" },
		)) as Record<string, unknown>;
		assert.deepEqual(row.t, when);
		assert.deepEqual(row.j, { k: [1, 2] });
		assert.deepEqual(row.b, Buffer.from([1, 2, 3]));
		assert.deepEqual(row.a, [1, 2, 3]);
		assert.equal(row.n, null);
		assert.equal(row.f, false);
	});
});
