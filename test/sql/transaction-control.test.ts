/**
 * Which statements a transaction handle refuses (transaction-control.ts): examples, then
 * properties over generated texts, since the statements that end a transaction are a family
 * (any case, any comments, any position in a multi-statement text).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { transactionControlIn } from "../../src/adapters/sql/transaction-control.ts";
import type { SqlDialect } from "../../src/adapters/sql/types.ts";

const DIALECTS: SqlDialect[] = ["postgres", "mysql", "sqlite"];

/** Statements that end or begin a transaction in every dialect, with the verb the refusal names. */
const CONTROL: [string, string][] = [
	["COMMIT", "COMMIT"],
	["commit work", "COMMIT"],
	["ROLLBACK", "ROLLBACK"],
	["rollback transaction", "ROLLBACK"],
	["BEGIN", "BEGIN"],
	["START TRANSACTION", "START TRANSACTION"],
];

/** Statements that stay inside the transaction. */
const INSIDE = [
	"SELECT 1",
	"INSERT INTO t VALUES (1)",
	"SAVEPOINT a",
	"ROLLBACK TO SAVEPOINT a",
	"ROLLBACK TO a",
	"rollback work to savepoint a",
	"RELEASE SAVEPOINT a",
	"SELECT 'COMMIT'",
	"SELECT 1 -- COMMIT",
	"SELECT 1 /* ROLLBACK */",
	'SELECT "commit" FROM t',
	"UPDATE t SET ended = true WHERE status = 'END'",
	"SELECT CASE WHEN a THEN 1 END FROM t",
];

describe("transaction control: examples", () => {
	for (const dialect of DIALECTS) {
		it(`${dialect}: COMMIT, ROLLBACK, BEGIN, START TRANSACTION are found, in any case, also after another statement`, () => {
			for (const [sql, verb] of CONTROL) {
				assert.equal(transactionControlIn(sql, dialect), verb, sql);
				assert.equal(transactionControlIn(`SELECT 1; ${sql}`, dialect), verb, `SELECT 1; ${sql}`);
			}
		});

		it(`${dialect}: savepoints, literals, comments and quoted names are not transaction control`, () => {
			for (const sql of INSIDE) assert.equal(transactionControlIn(sql, dialect), undefined, sql);
		});
	}

	it("PostgreSQL and SQLite END, PostgreSQL ABORT and PREPARE TRANSACTION; MySQL SET autocommit and XA", () => {
		assert.equal(transactionControlIn("END", "postgres"), "END");
		assert.equal(transactionControlIn("END TRANSACTION", "sqlite"), "END");
		assert.equal(transactionControlIn("abort", "postgres"), "ABORT");
		assert.equal(transactionControlIn("PREPARE TRANSACTION 'x'", "postgres"), "PREPARE TRANSACTION");
		assert.equal(transactionControlIn("SET autocommit = 1", "mysql"), "SET autocommit");
		assert.equal(transactionControlIn("SET @@session.autocommit = 0", "mysql"), "SET autocommit");
		assert.equal(transactionControlIn("XA START 'x'", "mysql"), "XA");
		assert.equal(transactionControlIn("SET search_path = app", "postgres"), undefined);
		assert.equal(transactionControlIn("# c\nCOMMIT", "mysql"), "COMMIT");
	});
});

// ── properties ─────────────────────────────────────────────────────────────────────────────────

const identifier = fc.stringMatching(/^[a-z_][a-z0-9_]{0,8}$/).filter((w) => !/^(begin|commit|rollback|end|abort|start|prepare|xa|set|autocommit)$/i.test(w));
const text = fc.string({ maxLength: 20 });

/** A comment or literal with any content: never makes a statement transaction control. */
function hidden(dialect: SqlDialect): fc.Arbitrary<string> {
	return fc.oneof(
		text.filter((t) => !t.includes("*/") && !t.includes("/*") && !(dialect === "mysql" && t.startsWith("!"))).map((t) => `/* ${t} */`),
		text.map((t) => `'${dialect === "mysql" ? t.replace(/\\/g, "\\\\").replace(/'/g, "''") : t.replace(/'/g, "''")}'`),
		text.filter((t) => !t.includes("\n") && !t.includes("\r")).map((t) => `-- ${t}\n`),
	);
}

function randomCase(word: string, flips: boolean[]): string {
	return [...word].map((c, i) => (flips[i % flips.length] ? c.toLowerCase() : c.toUpperCase())).join("");
}

describe("transaction control: properties", () => {
	for (const dialect of DIALECTS) {
		it(`a control statement is found wherever it sits in a multi-statement text, in any case, after any comments (${dialect})`, () => {
			fc.assert(
				fc.property(
					fc.array(fc.array(fc.oneof(identifier, hidden(dialect)), { minLength: 1, maxLength: 4 }), { maxLength: 3 }),
					fc.constantFrom(...CONTROL),
					fc.array(fc.boolean(), { minLength: 1, maxLength: 6 }),
					fc.array(hidden(dialect), { maxLength: 2 }),
					fc.nat(),
					(statements, [control, verb], flips, before, at) => {
						const others = statements.map((words) => `SELECT ${words.join(" ")}`);
						others.splice(at % (others.length + 1), 0, `${before.join(" ")} ${randomCase(control, flips)}`);
						return transactionControlIn(others.join("; "), dialect) === verb;
					},
				),
				{ numRuns: 500 },
			);
		});

		it(`a statement whose only control words are in literals, comments or identifiers is never control (${dialect})`, () => {
			fc.assert(
				fc.property(fc.array(fc.oneof(identifier, hidden(dialect), fc.constantFrom("(", ")", ",", "=")), { maxLength: 8 }), (parts) => {
					const sql = `SELECT ${parts.join(" ")} FROM t WHERE note IN ('COMMIT', 'ROLLBACK') /* BEGIN */`;
					return transactionControlIn(sql, dialect) === undefined;
				}),
				{ numRuns: 500 },
			);
		});
	}
});
