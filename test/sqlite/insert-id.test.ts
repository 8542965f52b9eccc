/** Which SQLite statements may report last_insert_rowid() as their insertId, read from their text. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { rowidSourceOf } from "../../src/adapters/sqlite/insert-id.ts";

describe("sqlite: rowidSourceOf", () => {
	it("an INSERT or REPLACE names its target table, and its schema when given", () => {
		assert.deepEqual(rowidSourceOf("INSERT INTO t (a) VALUES (?)"), { table: "T", schema: undefined, upsert: false });
		assert.deepEqual(rowidSourceOf("insert or ignore into Orders values (1)"), { table: "ORDERS", schema: undefined, upsert: false });
		assert.deepEqual(rowidSourceOf("REPLACE INTO main.t DEFAULT VALUES"), { table: "T", schema: "MAIN", upsert: false });
		assert.deepEqual(rowidSourceOf('INSERT INTO "My Table"(a) SELECT 1'), { table: "MY TABLE", schema: undefined, upsert: false });
		assert.deepEqual(rowidSourceOf("INSERT INTO t AS x (a) VALUES (1)"), { table: "T", schema: undefined, upsert: false });
	});

	it("a quoted target without a column list cannot be read: the table is unknown", () => {
		assert.deepEqual(rowidSourceOf('INSERT INTO "t" VALUES (1)'), { table: undefined, schema: undefined, upsert: false });
	});

	it("the verb may follow a WITH clause, whatever its subqueries contain", () => {
		assert.deepEqual(rowidSourceOf("WITH s(a) AS (SELECT 1 UNION SELECT 2) INSERT INTO t SELECT a FROM s"), { table: "T", schema: undefined, upsert: false });
		assert.equal(rowidSourceOf("WITH d AS (SELECT 1) UPDATE t SET a = 1"), undefined);
	});

	it("an upsert that may update is marked; DO NOTHING is not an update", () => {
		assert.equal(rowidSourceOf("INSERT INTO t (k) VALUES (1) ON CONFLICT (k) DO UPDATE SET n = n + 1")?.upsert, true);
		assert.equal(rowidSourceOf("INSERT INTO t (k) VALUES (1) ON CONFLICT DO NOTHING")?.upsert, false);
	});

	it("statements that are no INSERT have no rowid, even when INSERT appears in them", () => {
		for (const sql of [
			"UPDATE t SET a = 1",
			"DELETE FROM t",
			"SELECT 'INSERT INTO t' AS s",
			"SELECT replace(a, 'x', 'y') FROM t",
			"CREATE TRIGGER g AFTER INSERT ON t BEGIN INSERT INTO u VALUES (new.id); END",
			"EXPLAIN INSERT INTO t VALUES (1)",
			"-- INSERT INTO t\nSELECT 1",
			"INSERT INTO t VALUES ('unterminated",
		]) {
			assert.equal(rowidSourceOf(sql), undefined, sql);
		}
	});
});
