import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import mysql from "mysql2";
import { insertShape, MAX_BATCH_STATEMENT_BYTES, multiRowStatements } from "../../src/adapters/mysql/batch-text.ts";
import { planStatementText } from "../../src/adapters/mysql/statement-text.ts";

const format = (sql: string, values: unknown[]) => mysql.format(sql, values as mysql.SqlValue[]);

describe("statement text: server-enforced timeouts and row limits", () => {
	it("MariaDB: prefixes SET STATEMENT with max_statement_time in seconds and sql_select_limit", () => {
		assert.deepEqual(planStatementText("SELECT 1", { timeoutMs: 250, maxRows: 10 }, "mariadb", true), {
			sql: "SET STATEMENT max_statement_time=0.25, sql_select_limit=10 FOR SELECT 1",
			serverTimeout: true,
		});
	});

	it("MariaDB: merges into a statement's own SET STATEMENT instead of nesting", () => {
		const planned = planStatementText("SET STATEMENT join_cache_level=2 FOR SELECT 1", { maxRows: 1 }, "mariadb", true);
		assert.equal(planned.sql, "SET STATEMENT sql_select_limit=1, join_cache_level=2 FOR SELECT 1");
	});

	it("leaves the text alone when there is nothing to enforce, or the timeout is left to KILL", () => {
		assert.deepEqual(planStatementText("SELECT 1", {}, "mariadb", true), { sql: "SELECT 1", serverTimeout: false });
		assert.deepEqual(planStatementText("SELECT 1", { timeoutMs: 100 }, "mariadb", false), { sql: "SELECT 1", serverTimeout: false });
	});

	it("MySQL: puts MAX_EXECUTION_TIME and SET_VAR hints after a leading SELECT", () => {
		assert.deepEqual(planStatementText("  select a from t", { timeoutMs: 99.2, maxRows: 5 }, "mysql", true), {
			sql: "  select /*+ MAX_EXECUTION_TIME(100) SET_VAR(sql_select_limit=5) */ a from t",
			serverTimeout: true,
		});
	});

	it("MySQL: other statements, and SELECTs with their own hints, are left to KILL QUERY", () => {
		assert.deepEqual(planStatementText("UPDATE t SET a = 1", { timeoutMs: 100 }, "mysql", true), { sql: "UPDATE t SET a = 1", serverTimeout: false });
		assert.equal(planStatementText("SELECT /*+ NO_ICP(t) */ a FROM t", { timeoutMs: 100 }, "mysql", true).serverTimeout, false);
	});
});

describe("batch text: INSERT … VALUES becomes multi-row statements", () => {
	it("splits an INSERT around its one VALUES tuple, minding quotes, comments and nested parentheses", () => {
		const shape = insertShape("INSERT INTO t (a, `values`, c) /* VALUES (x) */ VALUES (?, CONCAT('(', ?, ')'), NOW())");
		assert.ok(shape);
		assert.equal(shape.tuple, "(?, CONCAT('(', ?, ')'), NOW())");
		assert.equal(shape.placeholders, 2);
		assert.equal(shape.tail, "");
	});

	it("keeps ON DUPLICATE KEY UPDATE and accepts REPLACE and VALUE", () => {
		assert.equal(insertShape("INSERT INTO t (a) VALUES (?) ON DUPLICATE KEY UPDATE a = VALUES(a)")?.tail, " ON DUPLICATE KEY UPDATE a = VALUES(a)");
		assert.equal(insertShape("replace into t value (?)")?.tuple, "(?)");
	});

	it("declines statements that are not one tuple repeated", () => {
		assert.equal(insertShape("UPDATE t SET a = ? WHERE id = ?"), undefined);
		assert.equal(insertShape("INSERT INTO t (a) SELECT ? FROM dual"), undefined);
		assert.equal(insertShape("INSERT INTO t (a) VALUES (?), (?)"), undefined);
		assert.equal(insertShape("INSERT INTO t (a) VALUES (?) ON DUPLICATE KEY UPDATE a = ?"), undefined);
		assert.equal(insertShape("INSERT INTO t (a) VALUES (1)"), undefined);
	});

	it("keeps every row, in order, with each statement under the size cap unless one row alone is larger", () => {
		const shape = insertShape("INSERT INTO t (a, b) VALUES (?, ?)");
		assert.ok(shape);
		// Rows up to ~0.5 MB of escaped text, so that statements fill up and single rows overflow the cap.
		const bigText = fc.nat({ max: 120_000 }).map((n) => "a'?\\".repeat(n));
		fc.assert(
			fc.property(fc.array(fc.tuple(fc.integer(), fc.oneof(fc.string(), bigText)), { minLength: 1, maxLength: 12 }), (sets) => {
				const rows = sets.map((p) => format("(?, ?)", p));
				let next = 0;
				for (const statement of multiRowStatements(shape, sets, format)) {
					assert.ok(statement.startsWith(shape.head));
					let at: number = shape.head.length;
					const first = next;
					while (next < rows.length && statement.startsWith(rows[next], at)) {
						at += rows[next].length;
						next++;
						if (statement[at] === ",") at++;
						else break;
					}
					assert.equal(at, statement.length, "a statement is whole rows, comma-separated");
					assert.ok(next - first === 1 || Buffer.byteLength(statement) <= MAX_BATCH_STATEMENT_BYTES, "under the cap unless one row alone");
				}
				assert.equal(next, rows.length, "every row, in order");
			}),
			{ numRuns: 30 },
		);
	});
});
