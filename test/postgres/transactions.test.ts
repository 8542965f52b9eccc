import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type pg from "pg";
import type { SqlClient } from "../../src/adapters/sql/types.ts";
import { ErrorCode } from "../../src/core/errors.ts";
import { requireService } from "../support/services.ts";
import { admin, eventually, pidOf, sleep, testClient } from "./helpers.ts";

const TABLE = "lg_pg_tx_accounts";

describe("postgres: transactions and pinned connections", () => {
	let db: SqlClient;
	let a: pg.Client;

	before(async () => {
		await requireService("postgres");
		a = await admin();
		await a.query(`DROP TABLE IF EXISTS ${TABLE}`);
		await a.query(`CREATE TABLE ${TABLE} (id int PRIMARY KEY, balance int NOT NULL)`);
		// One connection: whatever a test leaves on it, the next one gets.
		db = testClient("tx", { pool: { max: 1 } }).db;
	});

	after(async () => {
		await db?.close();
		await a?.query(`DROP TABLE IF EXISTS ${TABLE}`);
		await a?.end();
	});

	const count = async () => ((await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${TABLE}`, [], { fetch: "one" })) as { n: number }).n;
	/** SAVEPOINT fails with 25P01 outside a transaction block: whether the pooled connection was handed out inside one. */
	const inTransaction = () =>
		db.query("SAVEPOINT lg_probe").then(
			() => true,
			(e: { sqlState?: string }) => {
				if (e.sqlState === "25P01") return false;
				throw e;
			},
		);

	it("commits when the function returns, and returns its result (the rows the tests below count on)", async () => {
		const result = await db.transaction(async (tx) => {
			await tx.query(`INSERT INTO ${TABLE} VALUES (1, 100), (2, 50)`);
			return tx.query(`SELECT sum(balance)::int AS s FROM ${TABLE}`, [], { fetch: "one" });
		});
		assert.deepEqual(result, { s: 150 });
		assert.equal(await count(), 2);
	});

	it("rolls back when the function throws, rethrows its error, and the connection comes back clean", async () => {
		const boom = new Error("boom");
		await assert.rejects(
			db.transaction(async (tx) => {
				await tx.query(`INSERT INTO ${TABLE} VALUES (3, 1)`);
				throw boom;
			}),
			(e) => e === boom,
		);
		assert.equal(await count(), 2);
		assert.equal(await inTransaction(), false);
	});

	it("a failed statement inside rolls everything back; the next transaction on the same connection works", async () => {
		const pid = await pidOf(db);
		await assert.rejects(
			db.transaction(async (tx) => {
				await tx.query(`INSERT INTO ${TABLE} VALUES (4, 1)`);
				await tx.query(`INSERT INTO ${TABLE} VALUES (1, 1)`);
			}),
			{ code: ErrorCode.QUERY_FAILED, sqlState: "23505" },
		);
		assert.equal(await count(), 2);
		await db.transaction(async (tx) => tx.query(`UPDATE ${TABLE} SET balance = balance + 1 WHERE id = 1`));
		assert.equal(await pidOf(db), pid);
	});

	it("a batch inside a transaction is part of it: rolled back with it", async () => {
		await assert.rejects(
			db.transaction(async (tx) => {
				assert.equal(
					await tx.batch(`INSERT INTO ${TABLE} VALUES ($1, $2)`, [
						[30, 1],
						[31, 1],
					]),
					2,
				);
				throw new Error("undo");
			}),
			/undo/,
		);
		assert.equal(await count(), 2);
	});

	it("never reports success when PostgreSQL answered COMMIT with a rollback (a statement inside failed and fn caught it)", async () => {
		let outcome: "resolved" | "rejected";
		let error: { code?: string; sqlState?: string } | undefined;
		try {
			await db.transaction(async (tx) => {
				await tx.query(`INSERT INTO ${TABLE} VALUES (30, 1)`);
				// The caller handles a duplicate as "already there" and carries on: the server has aborted the transaction.
				await tx.query(`INSERT INTO ${TABLE} VALUES (30, 1)`).catch(() => {});
				return "done";
			});
			outcome = "resolved";
		} catch (thrown) {
			outcome = "rejected";
			error = thrown as typeof error;
		}
		const { rows } = await a.query(`SELECT count(*)::int AS n FROM ${TABLE} WHERE id = 30`);
		await a.query(`DELETE FROM ${TABLE} WHERE id = 30`);
		// Either the row is committed, or the caller is told it was not. Resolving while nothing was committed loses the write silently.
		assert.ok(rows[0].n === 1 || outcome === "rejected", `transaction() ${outcome}, but ${rows[0].n} rows were committed (COMMIT became ROLLBACK)`);
		assert.equal(error?.code, ErrorCode.QUERY_FAILED);
		assert.equal(error?.sqlState, "25P02");
		// The rollback ended the transaction: the connection is clean.
		assert.equal(await inTransaction(), false);
	});

	it("a transaction opened by a raw BEGIN through query() is rolled back before the connection is lent again", async () => {
		// One text: the insert runs inside the caller's own BEGIN, which it never commits.
		await db.query(`BEGIN; INSERT INTO ${TABLE} VALUES (77, 1)`);
		// The next caller (same single connection) writes: it must be committed on its own, outside the leaked transaction.
		await db.query(`INSERT INTO ${TABLE} VALUES (78, 1)`);
		const { rows } = await a.query(`SELECT array_agg(id ORDER BY id) AS ids FROM ${TABLE} WHERE id IN (77, 78)`);
		await a.query(`DELETE FROM ${TABLE} WHERE id IN (77, 78)`);
		assert.deepEqual(rows[0].ids, [78]);
	});

	it("takes the isolation level and read-only mode", async () => {
		const level = await db.transaction((tx) => tx.query("SHOW transaction_isolation", [], { fetch: "one" }), { isolation: "serializable" });
		assert.deepEqual(level, { transaction_isolation: "serializable" });
		await assert.rejects(
			db.transaction((tx) => tx.query(`INSERT INTO ${TABLE} VALUES (9, 9)`), { readOnly: true, isolation: "repeatable read" }),
			{ sqlState: "25006" },
		);
		await assert.rejects(
			db.transaction(async () => {}, { isolation: "snapshot" as never }),
			{ code: ErrorCode.CONFIG_INVALID },
		);
	});

	it("a connection whose rollback fails is destroyed, not reused", async () => {
		const pid = await pidOf(db);
		const destroyedBefore = db.stats().primary.destroyed;
		await assert.rejects(
			db.transaction(async (tx) => {
				const row = (await tx.query<{ pid: number }>("SELECT pg_backend_pid() AS pid", [], { fetch: "one" })) as { pid: number };
				await a.query("SELECT pg_terminate_backend($1)", [row.pid]);
				// Wait for the backend to be gone, so that ROLLBACK meets a dead connection.
				await eventually(async () => (await a.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1", [row.pid])).rowCount === 0);
				throw new Error("after the kill");
			}),
			/after the kill/,
		);
		assert.equal(db.stats().primary.destroyed, destroyedBefore + 1);
		assert.notEqual(await pidOf(db), pid);
	});

	it("a pinned connection keeps one backend until released", async () => {
		const conn = await db.acquire();
		try {
			const first = await pidOf(conn);
			await conn.query("SET application_name = 'pinned-test'");
			assert.equal(await pidOf(conn), first);
			assert.equal(typeof conn.connectionId, "number");
		} finally {
			conn.release();
		}
		await assert.rejects(conn.query("SELECT 1"), { code: ErrorCode.LEASE_INVALID });
	});

	it("a pinned connection released inside an open transaction is rolled back before reuse", async () => {
		const conn = await db.acquire();
		await conn.query("BEGIN");
		await conn.query(`INSERT INTO ${TABLE} VALUES (20, 1)`);
		conn.release();
		assert.equal(await inTransaction(), false);
		assert.equal(await count(), 2);
	});

	it("a clean connection goes back without a statement; one left in a transaction gets exactly a ROLLBACK", async () => {
		const lastQuery = async (pid: number) => (await a.query<{ query: string }>("SELECT query FROM pg_stat_activity WHERE pid = $1", [pid])).rows[0]?.query;
		const pid = await pidOf(db);
		await db.query("SELECT 'lg-clean-marker' AS m");
		await sleep(50);
		assert.equal(await lastQuery(pid), "SELECT 'lg-clean-marker' AS m");
		const conn = await db.acquire();
		await conn.query("BEGIN");
		await conn.query("SELECT 'lg-in-tx-marker' AS m");
		conn.release();
		assert.ok(await eventually(async () => (await lastQuery(pid)) === "ROLLBACK", 1_000), await lastQuery(pid));
	});

	it("session-level advisory locks a caller took are released before the connection is lent again", async () => {
		const otherSessionGets = async () => (await a.query<{ got: boolean }>("SELECT pg_try_advisory_lock(4242) AS got")).rows[0].got;
		await db.query("SELECT pg_advisory_lock(4242)");
		// Still held after the call, until the release's pg_advisory_unlock_all() ran.
		assert.ok(await eventually(otherSessionGets, 1_000), "the advisory lock outlived the caller that took it");
		await a.query("SELECT pg_advisory_unlock(4242)");
		const conn = await db.acquire();
		await conn.query("SELECT pg_try_advisory_lock_shared(4243)");
		conn.release();
		assert.ok(await eventually(async () => (await a.query<{ got: boolean }>("SELECT pg_try_advisory_lock(4243) AS got")).rows[0].got, 1_000));
		await a.query("SELECT pg_advisory_unlock(4243)");
	});

	it("a transaction-level advisory lock, or an unlock, costs no statement on release", async () => {
		const lastQuery = async (pid: number) => (await a.query<{ query: string }>("SELECT query FROM pg_stat_activity WHERE pid = $1", [pid])).rows[0]?.query;
		const pid = await pidOf(db);
		await db.query("SELECT pg_advisory_xact_lock(4244), pg_advisory_unlock(4244) AS lg_xact_marker");
		await sleep(50);
		assert.equal(await lastQuery(pid), "SELECT pg_advisory_xact_lock(4244), pg_advisory_unlock(4244) AS lg_xact_marker");
	});

	it("a pinned connection left in a failed transaction is rolled back before reuse", async () => {
		const conn = await db.acquire();
		await conn.query("BEGIN");
		await assert.rejects(conn.query("SELECT 1/0"), { sqlState: "22012" });
		conn.release();
		assert.deepEqual(await db.query("SELECT 1 AS ok", [], { fetch: "one" }), { ok: 1 });
	});

	it("destroy() closes a pinned connection instead of reusing it", async () => {
		const conn = await db.acquire();
		const pid = await pidOf(conn);
		conn.destroy();
		assert.notEqual(await pidOf(db), pid);
	});
});
