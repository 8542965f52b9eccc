/**
 * Read/write routing against a real streaming replica: the test initdb's a primary and
 * pg_basebackup's a hot standby of it (as the postgres OS user, in a temporary directory, on
 * spare ports), and stops both and removes the directory in after(), failed tests included.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { createPostgresClient } from "../../src/adapters/postgres/index.ts";
import type { SqlClient } from "../../src/adapters/sql/types.ts";
import { type PgPair, startPrimaryAndStandby } from "../support/pg-standby.ts";

const TABLE = "lg_replica_real";

function serverAt(port: number) {
	return { host: "127.0.0.1", port, user: "postgres", database: "postgres", applicationName: "lg-replica-real" };
}

async function sql(port: number, text: string): Promise<pg.QueryResult> {
	const client = new pg.Client(serverAt(port));
	await client.connect();
	try {
		return await client.query(text);
	} finally {
		await client.end();
	}
}

async function eventually(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!(await check().catch(() => false))) {
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
		await new Promise((r) => setTimeout(r, 100));
	}
}

const IN_RECOVERY = "SELECT pg_is_in_recovery() AS standby";

describe("PostgreSQL with a real hot standby", () => {
	let pair: PgPair;
	let db: SqlClient;

	before(async () => {
		pair = await startPrimaryAndStandby();
		await sql(pair.primary.port, `CREATE TABLE ${TABLE} (id serial PRIMARY KEY, note text)`);
		await eventually(
			async () => (await sql(pair.standby.port, `SELECT to_regclass('${TABLE}') IS NOT NULL AS ok`)).rows[0].ok === true,
			10_000,
			"the table on the standby",
		);
		db = createPostgresClient({
			primary: serverAt(pair.primary.port),
			replicas: [serverAt(pair.standby.port)],
			pool: { max: 3, min: 1, acquireTimeoutMs: 3_000, createTimeoutMs: 2_000 },
			readYourWritesMs: 2_000,
		});
		await db.start();
	});
	after(async () => {
		await db?.close({ timeoutMs: 2_000 });
		await pair?.stop();
	});

	describe("routing", () => {
		it("sends reads to the standby and writes to the primary", async () => {
			const read = await db.query<{ standby: boolean }>(IN_RECOVERY, [], { fetch: "one" });
			assert.equal(read?.standby, true, "a plain read ran on the standby");
			await db.query(`INSERT INTO ${TABLE} (note) VALUES ('routed write')`);
			const onPrimary = await sql(pair.primary.port, `SELECT count(*)::int AS n FROM ${TABLE} WHERE note = 'routed write'`);
			assert.equal(onPrimary.rows[0].n, 1);
			const routed = db.stats().routed;
			assert.ok(routed.replica >= 1 && routed.primary >= 1, JSON.stringify(routed));
		});

		it("a write misrouted to the standby is refused by it (read-only transaction, SQLSTATE 25006)", async () => {
			await assert.rejects(
				db.query(`INSERT INTO ${TABLE} (note) VALUES ('misrouted')`, [], { route: "replica" }),
				(error: Error & { code?: string; sqlState?: string }) => {
					assert.equal(error.code, "QUERY_FAILED");
					assert.equal(error.sqlState, "25006");
					return true;
				},
			);
			const count = await sql(pair.primary.port, `SELECT count(*)::int AS n FROM ${TABLE} WHERE note = 'misrouted'`);
			assert.equal(count.rows[0].n, 0);
		});
	});

	describe("replica lag and read-your-writes", () => {
		it("a session reads its own write at once while the standby lags; reads outside it see the standby's older state", async () => {
			// Replay paused: the standby lags for as long as the test wants, deterministically.
			await sql(pair.standby.port, "SELECT pg_wal_replay_pause()");
			try {
				const session = db.session();
				await session.query(`INSERT INTO ${TABLE} (note) VALUES ('ryw')`);
				const own = await session.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${TABLE} WHERE note = 'ryw'`, [], { fetch: "one" });
				assert.equal(own?.n, 1, "the writing session sees its write");
				const other = await db
					.session()
					.query<{ n: number; standby: boolean }>(`SELECT count(*)::int AS n, pg_is_in_recovery() AS standby FROM ${TABLE} WHERE note = 'ryw'`, [], {
						fetch: "one",
					});
				assert.deepEqual(other, { n: 0, standby: true }, "another session reads the lagging standby");
			} finally {
				await sql(pair.standby.port, "SELECT pg_wal_replay_resume()");
			}
			await eventually(
				async () => (await db.session().query<{ n: number }>(`SELECT count(*)::int AS n FROM ${TABLE} WHERE note = 'ryw'`, [], { fetch: "one" }))?.n === 1,
				10_000,
				"the standby to catch up",
			);
		});
	});

	describe("a standby that goes away", () => {
		it("reads fall back to the primary without errors and within their deadline, and return to the standby when it is back", async () => {
			await pair.standby.kill();
			const latencies: number[] = [];
			for (let i = 0; i < 20; i++) {
				const started = performance.now();
				const row = await db.session().query<{ standby: boolean }>(IN_RECOVERY, [], { fetch: "one" });
				latencies.push(performance.now() - started);
				assert.equal(row?.standby, false, `read ${i} ran on the primary`);
			}
			assert.ok(Math.max(...latencies) < 3_000, `every read within its 3 s deadline (slowest ${Math.round(Math.max(...latencies))} ms)`);

			await pair.standby.start();
			await eventually(
				async () => (await db.session().query<{ standby: boolean }>(IN_RECOVERY, [], { fetch: "one" }))?.standby === true,
				10_000,
				"reads to return to the standby",
			);
		});
	});

	describe("promotion", () => {
		it("a promoted standby takes writes, and the client keeps working against it", async () => {
			await pair.promote();
			await eventually(async () => (await sql(pair.standby.port, IN_RECOVERY)).rows[0].standby === false, 10_000, "the promotion");
			// The replica list is static: reads still go there (now a read-write server), writes to the configured primary.
			const read = await db.query<{ standby: boolean }>(IN_RECOVERY, [], { fetch: "one" });
			assert.equal(read?.standby, false);
			await db.query(`INSERT INTO ${TABLE} (note) VALUES ('on the promoted server')`, [], { route: "replica" });
			const rows = await sql(pair.standby.port, `SELECT count(*)::int AS n FROM ${TABLE} WHERE note = 'on the promoted server'`);
			assert.equal(rows.rows[0].n, 1);
			await db.query(`INSERT INTO ${TABLE} (note) VALUES ('still the primary')`);
		});
	});
});
