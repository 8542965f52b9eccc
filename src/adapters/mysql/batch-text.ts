/**
 * A batch in as few round trips as MySQL allows. mysql2 has no bulk-execute command, so an
 * `INSERT … VALUES (?, ?)` (or REPLACE) becomes one multi-row INSERT per ~1 MiB of SQL text;
 * any other statement runs once per parameter set. The parameters are escaped by mysql2's own
 * formatter, exactly as a single `query` would escape them.
 */

/** Most SQL text per multi-row statement: well under every default max_allowed_packet (MySQL 5.7: 4 MiB). */
export const MAX_BATCH_STATEMENT_BYTES = 1 << 20;

/** An INSERT/REPLACE split around its one VALUES tuple. */
export interface InsertShape {
	/** Text up to and including `VALUES `. */
	head: string;
	/** The parenthesised tuple, e.g. `(?, ?, NOW())`. */
	tuple: string;
	/** Text after the tuple (`ON DUPLICATE KEY UPDATE …`, `RETURNING …`), no placeholders. */
	tail: string;
	/** Placeholders in the tuple. */
	placeholders: number;
}

const INSERT_START = /^\s*(INSERT|REPLACE)\b/i;
const TAIL_ALLOWED = /^\s*(?:;?\s*$|AS\s|ON\s+DUPLICATE\s+KEY\s+UPDATE\s|RETURNING\s)/i;

/** Splits `INSERT … VALUES (…) [tail]` when it can be repeated as a multi-row INSERT; undefined otherwise. */
export function insertShape(sql: string): InsertShape | undefined {
	if (!INSERT_START.test(sql)) return undefined;
	const scan = new SqlScanner(sql);
	const valuesAt = scan.findKeyword(/^VALUES?\b/i);
	if (valuesAt < 0) return undefined;
	const keyword = /^VALUES?/i.exec(sql.slice(valuesAt))?.[0] ?? "VALUES";
	let open = valuesAt + keyword.length;
	while (open < sql.length && /\s/.test(sql[open])) open++;
	if (sql[open] !== "(") return undefined;
	const close = scan.matchingParen(open);
	if (close < 0) return undefined;
	const tuple = sql.slice(open, close + 1);
	const tail = sql.slice(close + 1);
	// A second tuple, or placeholders after the tuple, and the statement is not one row repeated.
	if (!TAIL_ALLOWED.test(tail) || new SqlScanner(tail).countPlaceholders() > 0) return undefined;
	const placeholders = new SqlScanner(tuple).countPlaceholders();
	if (placeholders === 0) return undefined;
	return { head: sql.slice(0, open), tuple, tail: tail.replace(/;\s*$/, ""), placeholders };
}

/**
 * Multi-row statements for `paramSets`, each under MAX_BATCH_STATEMENT_BYTES (a single row
 * larger than that goes alone). `format` is mysql2's `connection.format` (escaping).
 */
export function multiRowStatements(
	shape: InsertShape,
	paramSets: readonly (readonly unknown[])[],
	format: (sql: string, values: unknown[]) => string,
): string[] {
	const statements: string[] = [];
	const fixed = Buffer.byteLength(shape.head) + Buffer.byteLength(shape.tail);
	let rows: string[] = [];
	let bytes = fixed;
	for (const params of paramSets) {
		const row = format(shape.tuple, params as unknown[]);
		const rowBytes = Buffer.byteLength(row) + 1;
		if (rows.length > 0 && bytes + rowBytes > MAX_BATCH_STATEMENT_BYTES) {
			statements.push(shape.head + rows.join(",") + shape.tail);
			rows = [];
			bytes = fixed;
		}
		rows.push(row);
		bytes += rowBytes;
	}
	if (rows.length > 0) statements.push(shape.head + rows.join(",") + shape.tail);
	return statements;
}

/** Walks SQL text outside string literals, quoted identifiers and comments. */
class SqlScanner {
	readonly #sql: string;

	constructor(sql: string) {
		this.#sql = sql;
	}

	/** Index of the first top-level (depth 0) keyword matching `pattern` at a word start, or -1. */
	findKeyword(pattern: RegExp): number {
		let depth = 0;
		let found = -1;
		this.#walk((i, ch) => {
			if (ch === "(") depth++;
			else if (ch === ")") depth--;
			else if (depth === 0 && /[A-Za-z]/.test(ch) && (i === 0 || !/[\w$]/.test(this.#sql[i - 1])) && pattern.test(this.#sql.slice(i, i + 8))) {
				found = i;
				return false;
			}
			return true;
		});
		return found;
	}

	/** Index of the `)` closing the `(` at `open`, or -1. */
	matchingParen(open: number): number {
		let depth = 0;
		let found = -1;
		this.#walk((i, ch) => {
			if (i < open) return true;
			if (ch === "(") depth++;
			else if (ch === ")" && --depth === 0) {
				found = i;
				return false;
			}
			return true;
		});
		return found;
	}

	countPlaceholders(): number {
		let count = 0;
		this.#walk((_, ch) => {
			if (ch === "?") count++;
			return true;
		});
		return count;
	}

	/** Calls `visit` for each character outside quotes and comments until it returns false. */
	#walk(visit: (index: number, ch: string) => boolean): void {
		const sql = this.#sql;
		let i = 0;
		while (i < sql.length) {
			const ch = sql[i];
			if (ch === "'" || ch === '"' || ch === "`") {
				i = this.#skipQuoted(i, ch);
			} else if (ch === "#" || (ch === "-" && sql[i + 1] === "-" && /\s/.test(sql[i + 2] ?? " "))) {
				const end = sql.indexOf("\n", i);
				i = end < 0 ? sql.length : end + 1;
			} else if (ch === "/" && sql[i + 1] === "*") {
				const end = sql.indexOf("*/", i + 2);
				i = end < 0 ? sql.length : end + 2;
			} else {
				if (!visit(i, ch)) return;
				i++;
			}
		}
	}

	/** Index after the quoted run starting at `start`; a doubled quote or a backslash escape stays inside. */
	#skipQuoted(start: number, quote: string): number {
		const sql = this.#sql;
		let i = start + 1;
		while (i < sql.length) {
			if (sql[i] === "\\" && quote !== "`") i += 2;
			else if (sql[i] === quote) {
				if (sql[i + 1] === quote) i += 2;
				else return i + 1;
			} else i++;
		}
		return i;
	}
}
