/**
 * A statement error that makes the server roll the whole transaction back (a deadlock), caught
 * inside the transaction function: later statements must not run in autocommit, and the
 * transaction must not report success. Real deadlocks on the test server.
 */
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { createMysqlClient, QueryFailedError, type SqlClient, type SqlExecutor } from "../../src/adapters/mysql/index.ts";
import { ErrorCode, LifeguardError } from "../../src/index.ts";
import { requireService } from "../support/services.ts";
import { type Admin, admin, eventually, statementRunning, url } from "./helpers.ts";

const ROWS = "lg_deadlock_rows";
const LOG = "lg_deadlock_log";
const HEAVY = "lg_deadlock_heavy";
const ER_LOCK_DEADLOCK = 1213;
const ER_DUP_ENTRY = 1062;

let a: Admin;
/** The other transaction of each deadlock, on its own connection. */
let other: Admin;
let db: SqlClient;

before(async () => {
	await requireService("mysql");
	a = await admin();
	other = await admin();
	await a.query(`DROP TABLE IF EXISTS ${ROWS}, ${LOG}, ${HEAVY}`);
	await a.query(`CREATE TABLE ${ROWS} (id INT PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB`);
	await a.query(`CREATE TABLE ${LOG} (id INT PRIMARY KEY) ENGINE=InnoDB`);
	await a.query(`CREATE TABLE ${HEAVY} (id INT PRIMARY KEY) ENGINE=InnoDB`);
	// One pooled connection: whatever a transaction leaves behind is what the next caller gets.
	db = createMysqlClient({ primary: url, pool: { max: 1 } });
});

beforeEach(async () => {
	await a.query(`DELETE FROM ${ROWS}`);
	await a.query(`DELETE FROM ${LOG}`);
	await a.query(`INSERT INTO ${ROWS} VALUES (1, 0), (2, 0)`);
});

after(async () => {
	await db?.close({ timeoutMs: 1_000 });
	await a?.query(`DROP TABLE IF EXISTS ${ROWS}, ${LOG}, ${HEAVY}`);
	await a?.end();
	await other?.end();
});

function isDeadlock(error: unknown): boolean {
	return error instanceof QueryFailedError && (error.cause as { errno?: number }).errno === ER_LOCK_DEADLOCK;
}

/**
 * Makes `tx` the victim of a real deadlock and returns its error: `tx` locks row 1, the other
 * transaction (heavier, so InnoDB picks `tx` as the victim) holds row 2 and waits for row 1, then
 * `tx` asks for row 2. The other transaction is rolled back once it got row 1.
 */
async function deadlockVictim(tx: SqlExecutor): Promise<unknown> {
	await other.query("START TRANSACTION");
	await other.query(`INSERT INTO ${HEAVY} SELECT seq FROM seq_1_to_200`);
	await other.query(`UPDATE ${ROWS} SET v = v + 10 WHERE id = 2`);
	await tx.query(`UPDATE ${ROWS} SET v = v + 1 WHERE id = 1`);
	const waiting = other.query(`UPDATE /* lg_deadlock_wait */ ${ROWS} SET v = v + 10 WHERE id = 1`);
	assert.ok(await eventually(() => statementRunning(a, "lg_deadlock_wait")), "the other transaction never waited for row 1");
	let error: unknown;
	try {
		await tx.query(`UPDATE ${ROWS} SET v = v + 1 WHERE id = 2`);
	} catch (caught) {
		error = caught;
	}
	await waiting;
	await other.query("ROLLBACK");
	return error;
}

async function committedLog(): Promise<number[]> {
	const [rows] = await a.query(`SELECT id FROM ${LOG} ORDER BY id`);
	return (rows as { id: number }[]).map((r) => r.id);
}

async function rowValues(): Promise<number[]> {
	const [rows] = await a.query(`SELECT v FROM ${ROWS} ORDER BY id`);
	return (rows as { v: number }[]).map((r) => r.v);
}

/** The pooled connection after a transaction: its id, whether a transaction is open, and whether a write commits. */
async function assertCleanAndReusable(connectionId: number): Promise<void> {
	const state = await db.query<{ id: number; tx: number }>("SELECT CONNECTION_ID() AS id, @@in_transaction AS tx", [], { fetch: "one" });
	assert.deepEqual(state, { id: connectionId, tx: 0 }, "the connection was not reused, or went back with a transaction open");
	assert.equal(await db.query(`INSERT INTO ${LOG} VALUES (100)`, [], { fetch: "none" }), 1);
	assert.deepEqual(await committedLog(), [100]);
}

function isRolledBackRefusal(error: unknown): boolean {
	return (
		error instanceof QueryFailedError &&
		error.code === ErrorCode.QUERY_FAILED &&
		error.sqlState === "40001" &&
		/rolled the transaction back/.test(error.message) &&
		isDeadlock((error.cause as Error).cause)
	);
}

describe("MySQL transactions after the server rolled them back", () => {
	it("a statement after a caught deadlock is refused, not committed in autocommit, and transaction() rejects", async () => {
		let connectionId = 0;
		let deadlock: unknown;
		await assert.rejects(
			db.transaction(async (tx) => {
				connectionId = (await tx.query<{ id: number }>("SELECT CONNECTION_ID() AS id", [], { fetch: "one" }))?.id ?? 0;
				deadlock = await deadlockVictim(tx);
				await tx.query(`INSERT INTO ${LOG} VALUES (1)`);
				return "done";
			}),
			isRolledBackRefusal,
		);
		assert.ok(isDeadlock(deadlock), `expected a deadlock inside the transaction, got ${String(deadlock)}`);
		assert.deepEqual(await committedLog(), [], "the INSERT after the deadlock was committed on its own");
		assert.deepEqual(await rowValues(), [0, 0], "the victim's first UPDATE was not rolled back");
		await assertCleanAndReusable(connectionId);
	});

	it("a transaction function that catches the deadlock and returns gets a rejected COMMIT, not success", async () => {
		let connectionId = 0;
		await assert.rejects(
			db.transaction(async (tx) => {
				connectionId = (await tx.query<{ id: number }>("SELECT CONNECTION_ID() AS id", [], { fetch: "one" }))?.id ?? 0;
				assert.ok(isDeadlock(await deadlockVictim(tx)));
				// Even a caller who also swallows the refusal does not get a commit.
				await tx.query(`INSERT INTO ${LOG} VALUES (2)`).catch(() => {});
			}),
			(error: unknown) => isRolledBackRefusal(error) && /COMMIT was not sent/.test(error instanceof Error ? error.message : ""),
		);
		assert.deepEqual(await committedLog(), []);
		await assertCleanAndReusable(connectionId);
	});

	it("on a pinned connection, statements are refused until ROLLBACK, then run again", async () => {
		const conn = await db.acquire();
		try {
			await conn.query("START TRANSACTION");
			assert.ok(isDeadlock(await deadlockVictim(conn)));
			await assert.rejects(conn.query(`INSERT INTO ${LOG} VALUES (3)`), isRolledBackRefusal);
			await conn.query("ROLLBACK");
			assert.equal(await conn.query(`INSERT INTO ${LOG} VALUES (4)`, [], { fetch: "none" }), 1);
		} finally {
			conn.release();
		}
		assert.deepEqual(await committedLog(), [4]);
	});

	it("a statement error that leaves the transaction open (duplicate key) lets fn continue and commit atomically", async () => {
		let duplicate: unknown;
		const result = await db.transaction(async (tx) => {
			await tx.query(`INSERT INTO ${LOG} VALUES (5)`);
			try {
				await tx.query(`INSERT INTO ${LOG} VALUES (5)`);
			} catch (error) {
				duplicate = error;
			}
			await tx.query(`INSERT INTO ${LOG} VALUES (6)`);
			return "committed";
		});
		assert.equal(result, "committed");
		assert.ok(duplicate instanceof LifeguardError && duplicate.code === ErrorCode.QUERY_FAILED);
		assert.equal((duplicate.cause as { errno?: number }).errno, ER_DUP_ENTRY);
		assert.deepEqual(await committedLog(), [5, 6]);
	});
});
