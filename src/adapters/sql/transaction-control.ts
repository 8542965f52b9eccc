/**
 * Statements that end, begin or replace the transaction they run in. On a transaction handle they
 * break `transaction(fn)`'s promise: after a `COMMIT` inside `fn`, a throw can no longer roll back
 * what ran before it; after a `ROLLBACK`, later writes run in autocommit and the final COMMIT
 * "succeeds" with the first writes gone. They are refused before they are sent.
 */
import { statementWords } from "./statement.ts";
import type { SqlDialect } from "./types.ts";

/** First words that control the transaction whatever follows (`ROLLBACK TO` and MySQL's `SET autocommit` are decided by what follows). */
const CONTROL_VERBS = new Set(["BEGIN", "COMMIT", "END", "ABORT", "ROLLBACK"]);

/**
 * The transaction-control statement in `sql` (`COMMIT`, `ROLLBACK`, `START TRANSACTION`, `END`,
 * `ABORT`, `PREPARE TRANSACTION`, MySQL `SET autocommit`, `XA …`), as its words; undefined when
 * there is none, or when the text cannot be read (the session's status, checked after the
 * statement, catches what runs anyway).
 */
export function transactionControlIn(sql: string, dialect: SqlDialect): string | undefined {
	const words = statementWords(sql, dialect);
	if (words === undefined) return undefined;
	let start = 0;
	for (let i = 0; i <= words.length; i++) {
		if (i < words.length && words[i] !== ";") continue;
		const found = controlStatement(words.slice(start, i), dialect);
		if (found !== undefined) return found;
		start = i + 1;
	}
	return undefined;
}

function controlStatement(words: readonly string[], dialect: SqlDialect): string | undefined {
	const verb = words[0];
	if (verb === undefined) return undefined;
	if (verb === "ROLLBACK") {
		// ROLLBACK [WORK | TRANSACTION] TO [SAVEPOINT] name stays inside the transaction.
		const next = words[1] === "WORK" || words[1] === "TRANSACTION" ? words[2] : words[1];
		return next === "TO" ? undefined : "ROLLBACK";
	}
	if (CONTROL_VERBS.has(verb)) {
		// SQLite's BEGIN … END are transaction control; PostgreSQL's BEGIN ATOMIC … END belongs to CREATE FUNCTION, which starts with CREATE.
		return verb;
	}
	if (verb === "START" && words[1] === "TRANSACTION") return "START TRANSACTION";
	if (verb === "PREPARE" && words[1] === "TRANSACTION") return "PREPARE TRANSACTION";
	if (dialect === "mysql") {
		if (verb === "XA") return "XA";
		// SET autocommit = 1 commits the open transaction; SET … autocommit among other settings counts too.
		if (verb === "SET" && words.includes("AUTOCOMMIT")) return "SET autocommit";
	}
	return undefined;
}
