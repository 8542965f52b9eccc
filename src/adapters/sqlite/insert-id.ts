/**
 * Which statements may report SQLite's `last_insert_rowid()` as their `insertId`. That value is the
 * connection's, not the statement's: an UPDATE, an ignored INSERT, an upsert that updated, or an
 * insert into a table without rowid (WITHOUT ROWID, a view) leaves the previous insert's value in
 * place — on a pooled connection, another caller's. So only an INSERT or REPLACE that changed rows
 * reports it, when the value moved or (it may equal the previous insert's rowid by chance) when
 * its target is a table with rowids; an upsert only when the value moved.
 */
import { statementWords } from "../sql/statement.ts";

/** How an INSERT or REPLACE may generate a rowid, as its text says. */
export interface RowidSource {
	/** The target table's name (upper-cased) when the text names it plainly; undefined when it cannot be read. */
	table: string | undefined;
	/** The target's schema (`main`, `temp`, an attached name) when the text gives one. */
	schema: string | undefined;
	/** `ON CONFLICT … DO UPDATE`: the statement may have updated a row instead of inserting one. */
	upsert: boolean;
}

/** Keywords that start the statement proper after an optional `WITH …` clause. */
const VERBS = new Set(["SELECT", "VALUES", "INSERT", "REPLACE", "UPDATE", "DELETE"]);
/** What may follow the target of `INSERT INTO`: never a schema-qualified name's second part. */
const AFTER_TARGET = new Set(["(", "AS", "VALUES", "SELECT", "DEFAULT", "WITH", ";"]);

/** How `sql` may generate a rowid; undefined when it cannot (it is no INSERT or REPLACE) or the lexer is unsure. */
export function rowidSourceOf(sql: string): RowidSource | undefined {
	const words = statementWords(sql, "sqlite");
	if (words === undefined) return undefined;
	// The verb is the first word, or after a `WITH` clause the first of VERBS outside parentheses (past its names and subqueries).
	const withClause = words[0] === "WITH";
	let depth = 0;
	let verb: string | undefined;
	let into = -1;
	let upsert = false;
	for (let i = 0; i < words.length; i++) {
		const word = words[i];
		if (word === "(") depth++;
		else if (word === ")") depth--;
		else if (depth !== 0) continue;
		else if (verb === undefined) {
			if (VERBS.has(word)) verb = word;
			else if (!withClause) return undefined;
		} else if (word === "INTO" && into < 0) into = i;
		else if (word === "DO" && words[i + 1] === "UPDATE") upsert = true;
	}
	if (verb !== "INSERT" && verb !== "REPLACE") return undefined;
	const first = into < 0 ? undefined : words[into + 1];
	const second = into < 0 ? undefined : words[into + 2];
	if (first === undefined || AFTER_TARGET.has(first)) return { table: undefined, schema: undefined, upsert };
	// `main.t` comes out of the lexer as two words; a quoted schema or name is skipped by it.
	if (second !== undefined && !AFTER_TARGET.has(second)) return { table: second, schema: first, upsert };
	return { table: first, schema: undefined, upsert };
}
