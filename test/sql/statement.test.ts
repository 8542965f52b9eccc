import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { isSureRead } from "../../src/adapters/sql/statement.ts";
import type { SqlDialect } from "../../src/adapters/sql/types.ts";

const DIALECTS: SqlDialect[] = ["postgres", "mysql", "sqlite"];

describe("statement classifier: sure reads", () => {
	const reads = [
		"SELECT 1",
		"  select * from users where id = $1",
		"SELECT * FROM t WHERE a = ? AND b = :name",
		"(SELECT 1) UNION (SELECT 2)",
		"WITH x AS (SELECT 1 AS n) SELECT n FROM x",
		"WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT * FROM r",
		"SHOW search_path",
		"EXPLAIN SELECT * FROM t",
		"EXPLAIN ANALYZE SELECT * FROM t",
		"VALUES (1), (2)",
		"SELECT 1;",
		"SELECT 1; -- done",
		"SELECT 1;;  ",
		"/* leading comment */ SELECT 1",
		"-- a comment line\nSELECT 1",
		"SELECT 'insert into x values (1)'",
		"SELECT 'it''s; DELETE FROM t'",
		'SELECT "update", "delete" FROM t',
		"SELECT * FROM t /* FOR UPDATE */",
		"SELECT last_update, updated_at, inserted, deleted_at, into_x FROM t",
		"SELECT for_update FROM t",
		"SELECT count(*) FROM t GROUP BY a HAVING count(*) > 1 ORDER BY 1 LIMIT 10 OFFSET 5",
	];
	for (const dialect of DIALECTS) {
		it(`reads are recognised (${dialect})`, () => {
			for (const sql of reads) assert.equal(isSureRead(sql, dialect), true, sql);
		});
	}

	it("PostgreSQL literals: dollar quotes, E'' strings and nested comments hide their content", () => {
		for (const sql of [
			"SELECT $$ DELETE FROM t; $$",
			"SELECT $tag$ ; update t set a = 1 $tag$ AS x",
			"SELECT E'a\\' ; DELETE FROM t' AS x",
			"SELECT /* outer /* inner */ DELETE FROM t */ 1",
			"SELECT a$b FROM t WHERE c = $1",
			"TABLE users",
		]) {
			assert.equal(isSureRead(sql, "postgres"), true, sql);
		}
	});

	it("MySQL: # comments, backticks and backslash escapes", () => {
		for (const sql of [
			"SELECT 1 # DELETE FROM t",
			"SELECT `update` FROM `t`",
			"SELECT 'C:\\\\dir; DELETE' FROM t",
			"DESCRIBE t",
			"SELECT 1 -- ; DELETE FROM t",
		]) {
			assert.equal(isSureRead(sql, "mysql"), true, sql);
		}
	});

	it("SQLite: [bracketed] identifiers", () => {
		assert.equal(isSureRead("SELECT [delete] FROM [update]", "sqlite"), true);
	});
});

describe("statement classifier: never a read", () => {
	const writes = [
		"INSERT INTO t VALUES (1)",
		"UPDATE t SET a = 1",
		"DELETE FROM t",
		"MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE",
		"WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
		"WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x",
		"WITH u AS (UPDATE t SET a = 1 RETURNING a) SELECT * FROM u",
		"SELECT * FROM t FOR UPDATE",
		"SELECT * FROM t FOR NO KEY UPDATE",
		"SELECT * FROM t FOR SHARE",
		"SELECT * FROM t FOR KEY SHARE SKIP LOCKED",
		"SELECT * FROM t for update nowait",
		"SELECT * FROM t LOCK IN SHARE MODE",
		"SELECT nextval('s')",
		"SELECT setval('s', 10)",
		"SELECT currval('s')",
		"SELECT lastval()",
		"SELECT pg_advisory_lock(1)",
		"SELECT pg_try_advisory_xact_lock_shared(1)",
		"SELECT set_config('search_path', 'x', false)",
		"SELECT GET_LOCK('name', 10)",
		"SELECT RELEASE_LOCK('name')",
		"SELECT LAST_INSERT_ID()",
		"SELECT txid_current()",
		"SELECT pg_notify('ch', 'x')",
		"SELECT NEXT VALUE FOR s",
		"SELECT * INTO new_table FROM t",
		"SELECT a INTO @v FROM t",
		"SELECT 1; DELETE FROM t",
		"SELECT 1; SELECT 2",
		"SELECT 1 -- x\n; DELETE FROM t",
		"EXPLAIN ANALYZE DELETE FROM t",
		"EXPLAIN ANALYZE EXECUTE stmt",
		"EXPLAIN (ANALYZE) UPDATE t SET a = 1",
		"SET search_path = x",
		"BEGIN",
		"COMMIT",
		"CALL proc()",
		"COPY t TO STDOUT",
		"CREATE TABLE t (a int)",
		"DROP TABLE t",
		"TRUNCATE t",
		"LOCK TABLE t",
		"VACUUM t",
		"DO $$ BEGIN END $$",
		"LISTEN ch",
		"PREPARE p AS SELECT 1",
		"EXECUTE p",
		"",
		"   ",
		"-- only a comment",
		"SELECT 'unterminated",
		"SELECT /* unterminated",
		'SELECT "unterminated',
	];
	for (const dialect of DIALECTS) {
		it(`writes, locks, side effects, several statements and anything unsure go to the primary (${dialect})`, () => {
			for (const sql of writes) assert.equal(isSureRead(sql, dialect), false, `${dialect}: ${sql}`);
		});
	}

	it("a backslash cannot smuggle a write past the lexer, whatever the server's escaping setting", () => {
		for (const dialect of DIALECTS) {
			for (const sql of ["SELECT 'a\\'; DELETE FROM t; SELECT '", "SELECT 'x\\' , (DELETE FROM t) -- '", 'SELECT "a\\" ; DELETE FROM t --"']) {
				assert.equal(isSureRead(sql, dialect), false, `${dialect}: ${sql}`);
			}
		}
	});

	it("a quoted function name is still a function call", () => {
		for (const dialect of DIALECTS) {
			assert.equal(isSureRead(`SELECT "nextval"('s')`, dialect), false, dialect);
			assert.equal(isSureRead(`SELECT pg_catalog."pg_advisory_lock" (1)`, dialect), false, dialect);
			assert.equal(isSureRead("SELECT `GET_LOCK`('a', 1)", dialect), false, dialect);
		}
		assert.equal(isSureRead("SELECT [changes]()", "sqlite"), false);
		assert.equal(isSureRead('SELECT U&"\\0070g_advisory_lock"(1)', "postgres"), false);
	});

	it("a quoted function name is a call even with comments between it and its `(`", () => {
		for (const dialect of DIALECTS) {
			assert.equal(isSureRead(`SELECT "nextval"/* the next id */('s') AS n`, dialect), false, dialect);
			assert.equal(isSureRead(`SELECT "nextval" -- the next id\n('s') AS n`, dialect), false, dialect);
			assert.equal(isSureRead(`SELECT pg_catalog."pg_advisory_lock" /* a */ /* b */ (1)`, dialect), false, dialect);
		}
		assert.equal(isSureRead("SELECT `GET_LOCK` # the lock\n('a', 1)", "mysql"), false);
		assert.equal(isSureRead("SELECT [changes] /* rows */ ()", "sqlite"), false);
		// A quoted name that is not called only names something.
		assert.equal(isSureRead(`SELECT "nextval" /* a column */ FROM t`, "postgres"), true);
	});

	it("PostgreSQL ends `--` comments at a carriage return as well as a newline", () => {
		assert.equal(isSureRead("SELECT id FROM t WHERE id = 1 -- lock it\rFOR UPDATE", "postgres"), false);
		assert.equal(isSureRead("SELECT 1 -- x\r; DELETE FROM t", "postgres"), false);
		assert.equal(isSureRead("SELECT 1 -- a comment\r\n FROM t", "postgres"), true);
	});

	it("MySQL and SQLite do not end line comments at a carriage return: a quote after one cannot hide live SQL", () => {
		// Their servers read `\r'` as part of the comment, and FOR UPDATE / DELETE as live; a lexer ending the comment at `\r` would see a string there.
		assert.equal(isSureRead("SELECT 1 -- x\r'\nFOR UPDATE -- '", "mysql"), false);
		assert.equal(isSureRead("SELECT 1 # x\r'\nFOR UPDATE # '", "mysql"), false);
		assert.equal(isSureRead("SELECT 1 -- x\r'\n; DELETE FROM t -- '", "sqlite"), false);
		assert.equal(isSureRead("SELECT 1 -- x\r FOR UPDATE\n FROM t", "mysql"), true);
	});

	it("MySQL executable comments and non-nested comments count as code", () => {
		assert.equal(isSureRead("SELECT 1 /*! , (SELECT 1 FOR UPDATE) */", "mysql"), false);
		assert.equal(isSureRead("SELECT 1 /*M!100000 FOR UPDATE */", "mysql"), false);
		assert.equal(isSureRead("SELECT /* a /* b */ DELETE FROM t */ 1", "mysql"), false);
		assert.equal(isSureRead("SELECT 1 --x; DELETE FROM t", "mysql"), false);
	});

	it("an unterminated dollar quote is unsure in PostgreSQL", () => {
		assert.equal(isSureRead("SELECT $$ unterminated", "postgres"), false);
		assert.equal(isSureRead("SELECT $a$ x $b$", "postgres"), false);
	});

	it("a quote whose end depends on the server's backslash setting is unsure", () => {
		assert.equal(isSureRead("SELECT 'it\\'s' FROM t", "mysql"), false);
		assert.equal(isSureRead("SELECT 'C:\\' FROM t", "postgres"), false);
	});

	it("brackets quote only in SQLite", () => {
		assert.equal(isSureRead("SELECT a[1] FROM t; DELETE FROM t", "postgres"), false);
		assert.equal(isSureRead("SELECT [x] FROM t WHERE [delete] = 1", "postgres"), false);
	});
});

// ── properties ─────────────────────────────────────────────────────────────────────────────────

/** A single-quoted literal with any content, escaped as the dialect's default reading expects. */
function quoted(content: string, dialect: SqlDialect): string {
	const body = dialect === "mysql" ? content.replace(/\\/g, "\\\\").replace(/'/g, "''") : content.replace(/'/g, "''");
	return `'${body}'`;
}

const anyText = fc.string({ unit: "binary", maxLength: 30 });
const identifier = fc
	.stringMatching(/^[a-z_][a-z0-9_]{0,8}$/)
	.filter(
		(w) =>
			!/^(for|next|previous|lock|into|insert|update|delete|merge|upsert|replace|create|drop|alter|truncate|copy|execute|call|changes|lo_.*|pg_.*|dblink.*)$/i.test(
				w,
			),
	);

/** A `--` comment with any content that stays in the comment (PostgreSQL also ends one at a carriage return). */
function lineComment(dialect: SqlDialect): fc.Arbitrary<string> {
	return anyText.filter((t) => !t.includes("\n") && (dialect !== "postgres" || !t.includes("\r"))).map((t) => `-- ${t}\n`);
}

/** A fragment that cannot change which words are outside literals: identifiers, numbers, literals, comments, punctuation. */
function fragment(dialect: SqlDialect): fc.Arbitrary<string> {
	return fc.oneof(
		identifier,
		fc.integer({ min: 0, max: 1_000_000 }).map(String),
		anyText.map((t) => quoted(t, dialect)),
		anyText.filter((t) => !t.includes("*/") && !t.includes("/*")).map((t) => `/* ${t} */`),
		lineComment(dialect),
		fc.constantFrom("(", ")", ",", "=", "+", "*", ".", "<", ">", "$1", "?"),
	);
}

const WRITE_TOKENS = [
	"INSERT",
	"UPDATE",
	"DELETE",
	"MERGE",
	"INTO",
	"FOR UPDATE",
	"FOR SHARE",
	"FOR NO KEY UPDATE",
	"FOR KEY SHARE",
	"LOCK",
	"nextval('s')",
	"setval('s', 1)",
	"currval('s')",
	"lastval()",
	"pg_advisory_lock(1)",
	"pg_advisory_xact_lock(1)",
	"set_config('a', 'b', false)",
	"GET_LOCK('a', 1)",
	`"nextval"('s')`,
	"; DELETE FROM t",
	"; SELECT 1",
];

/** Random upper/lower case, as SQL keywords are case-insensitive. */
function randomCase(word: string, flips: boolean[]): string {
	return [...word].map((c, i) => (flips[i % flips.length] ? c.toLowerCase() : c.toUpperCase())).join("");
}

describe("statement classifier: properties", () => {
	for (const dialect of DIALECTS) {
		it(`any statement with a write keyword outside literals and comments is never a read (${dialect})`, () => {
			fc.assert(
				fc.property(
					fc.constantFrom("SELECT", "WITH x AS (SELECT 1)", "SHOW", "EXPLAIN", "VALUES", "(SELECT"),
					fc.array(fragment(dialect), { maxLength: 12 }),
					fc.nat(),
					fc.constantFrom(...WRITE_TOKENS),
					fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
					(start, fragments, at, write, flips) => {
						const parts = [...fragments];
						parts.splice(at % (parts.length + 1), 0, randomCase(write, flips));
						const sql = `${start} ${parts.join(" ")}`;
						return isSureRead(sql, dialect) === false;
					},
				),
				{ numRuns: 2_000 },
			);
		});

		it(`literals and comments never make a read look like a write, whatever they contain (${dialect})`, () => {
			fc.assert(
				fc.property(
					fc.array(
						fc.oneof(
							// PostgreSQL is read both with and without backslash escapes, so a literal with a backslash is (rightly) unsure there.
							(dialect === "postgres" ? anyText.filter((t) => !t.includes("\\")) : anyText).map((t) => quoted(t, dialect)),
							anyText.filter((t) => !t.includes("*/") && !t.includes("/*") && !t.startsWith("!") && !t.startsWith("M!")).map((t) => `/*${t}*/`),
							lineComment(dialect),
						),
						{ maxLength: 5 },
					),
					(literals) => isSureRead(`SELECT ${["1", ...literals].join(", ")} FROM t`, dialect),
				),
				{ numRuns: 2_000 },
			);
		});

		it(`two statements are never a read, whatever the first one is (${dialect})`, () => {
			fc.assert(
				fc.property(fc.array(fragment(dialect), { maxLength: 8 }), identifier, (fragments, second) => {
					return !isSureRead(`SELECT ${fragments.join(" ")} ; ${second}`, dialect) || !/[a-z]/i.test(second);
				}),
				{ numRuns: 1_000 },
			);
		});
	}
});
