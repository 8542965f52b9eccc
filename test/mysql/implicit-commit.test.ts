/**
 * A statement MySQL/MariaDB commits implicitly (DDL, LOCK TABLES) ends the transaction it runs in:
 * the status flags say so, and transaction() must not pretend the rest was atomic.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createMysqlClient, type SqlClient } from "../../src/adapters/mysql/index.ts";
import { ErrorCode } from "../../src/core/errors.ts";
import { requireService } from "../support/services.ts";
import { type Admin, admin, url } from "./helpers.ts";

const TABLE = "lg_mysql_implicit";
const OTHER = "lg_mysql_implicit_other";

describe("MySQL: a session that left the transaction is detected", () => {
	let db: SqlClient;
	let a: Admin;

	before(async () => {
		await requireService("mysql");
		a = await admin();
		await a.query(`DROP TABLE IF EXISTS ${TABLE}`);
		await a.query(`CREATE TABLE ${TABLE} (id INT PRIMARY KEY) ENGINE=InnoDB`);
		db = createMysqlClient({ primary: url, pool: { max: 1 } });
	});

	after(async () => {
		await db?.close();
		await a?.query(`DROP TABLE IF EXISTS ${TABLE}`);
		await a?.query(`DROP TABLE IF EXISTS ${OTHER}`);
		await a?.end();
	});

	const ids = async () => ((await a.query(`SELECT id FROM ${TABLE} ORDER BY id`))[0] as { id: number }[]).map((r) => r.id);

	it("DDL inside transaction(fn) fails with QUERY_FAILED 25000 saying it committed; later statements are refused and transaction() rejects", async () => {
		await a.query(`DELETE FROM ${TABLE}`);
		let later: unknown;
		await assert.rejects(
			db.transaction(async (tx) => {
				await tx.query(`INSERT INTO ${TABLE} VALUES (1)`);
				await assert.rejects(tx.query(`CREATE TABLE IF NOT EXISTS ${OTHER} (id INT)`), (error: Error & { code?: string; sqlState?: string }) => {
					assert.equal(error.code, ErrorCode.QUERY_FAILED);
					assert.equal(error.sqlState, "25000");
					assert.match(error.message, /outside the transaction/);
					return true;
				});
				later = await tx.query(`INSERT INTO ${TABLE} VALUES (2)`).catch((error: unknown) => error);
			}),
			{ code: ErrorCode.QUERY_FAILED, sqlState: "25000" },
		);
		assert.equal((later as { sqlState?: string }).sqlState, "25000");
		// The implicit commit made row 1 permanent; row 2 was never sent.
		assert.deepEqual(await ids(), [1]);
	});

	it("the connection comes back clean and the next transaction is atomic again", async () => {
		await a.query(`DELETE FROM ${TABLE}`);
		await assert.rejects(
			db.transaction(async (tx) => {
				await tx.query(`INSERT INTO ${TABLE} VALUES (3)`);
				throw new Error("undo");
			}),
			/undo/,
		);
		assert.deepEqual(await ids(), []);
	});
});
