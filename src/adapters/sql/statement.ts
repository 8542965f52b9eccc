/**
 * Decides whether a statement is surely a read, so the router may send it to a replica.
 * "Surely" is the contract: anything this lexer cannot read with certainty (an unterminated
 * literal, a MySQL executable comment, several statements) is not a read. A false "write"
 * costs a little primary load; a false "read" loses data or locks, so every doubt goes to the primary.
 */
import type { SqlDialect } from "./types.ts";

/** Statements that only read, by their first keyword. */
const READ_STARTS = new Set(["SELECT", "WITH", "SHOW", "EXPLAIN", "VALUES", "TABLE", "DESCRIBE", "DESC"]);

/**
 * Words that make a read-looking statement write, lock, or change session or server state:
 * data-modifying CTEs, SELECT … INTO, EXPLAIN ANALYZE of a write or of EXECUTE, locking clauses,
 * and the functions with side effects (sequences, advisory locks, settings, notifications).
 */
const WRITE_WORDS = new Set([
	"INSERT",
	"UPDATE",
	"DELETE",
	"MERGE",
	"UPSERT",
	"REPLACE",
	"INTO",
	"CREATE",
	"DROP",
	"ALTER",
	"TRUNCATE",
	"COPY",
	"LOCK",
	"EXECUTE",
	"CALL",
	"NEXTVAL",
	"SETVAL",
	"CURRVAL",
	"LASTVAL",
	"SET_CONFIG",
	"SETSEED",
	"TXID_CURRENT",
	"PG_CURRENT_XACT_ID",
	"PG_NOTIFY",
	"GET_LOCK",
	"RELEASE_LOCK",
	"RELEASE_ALL_LOCKS",
	"LAST_INSERT_ID",
	"FOUND_ROWS",
	"ROW_COUNT",
	"LAST_INSERT_ROWID",
	"CHANGES",
	"TOTAL_CHANGES",
	"SQL_CALC_FOUND_ROWS",
]);

/** Function-name prefixes with side effects (pg_advisory_lock, pg_try_advisory_xact_lock_shared, lo_import, dblink_exec…). */
const WRITE_PREFIXES = [
	"PG_ADVISORY",
	"PG_TRY_ADVISORY",
	"LO_",
	"DBLINK",
	"PG_TERMINATE",
	"PG_CANCEL",
	"PG_RELOAD",
	"PG_SWITCH",
	"PG_CREATE",
	"PG_DROP",
	"PG_REPLICATION",
	"PG_PROMOTE",
	"PG_LOGICAL",
	"PG_IMPORT",
	"PG_STAT_RESET",
];

/** Words after FOR that make a locking read: FOR UPDATE, FOR NO KEY UPDATE, FOR SHARE, FOR KEY SHARE. */
const LOCK_AFTER_FOR = new Set(["UPDATE", "SHARE", "NO", "KEY"]);

/** How one dialect reads literals and comments. */
interface Lexing {
	/** Backslash escapes inside '…' and "…" (MySQL by default; PostgreSQL only with standard_conforming_strings off). */
	backslash: boolean;
	/** Block comments nest (PostgreSQL). */
	nestedComments: boolean;
	/** `#` starts a line comment (MySQL). */
	hashComments: boolean;
	/** `--` starts a comment only when followed by a space or control character (MySQL). */
	dashNeedsSpace: boolean;
	/** A carriage return ends a line comment, as a newline does (PostgreSQL; MySQL and SQLite end them at `\n` only). */
	crEndsLineComment: boolean;
	/** `$tag$ … $tag$` quoting (PostgreSQL). */
	dollarQuotes: boolean;
	/** `[ … ]` quoted identifiers (SQLite). */
	bracketIdentifiers: boolean;
	/** `/*!…*\/` comments are executed (MySQL, MariaDB). */
	executableComments: boolean;
}

const POSTGRES: Lexing = {
	backslash: false,
	nestedComments: true,
	hashComments: false,
	dashNeedsSpace: false,
	crEndsLineComment: true,
	dollarQuotes: true,
	bracketIdentifiers: false,
	executableComments: false,
};
const MYSQL: Lexing = {
	backslash: true,
	nestedComments: false,
	hashComments: true,
	dashNeedsSpace: true,
	crEndsLineComment: false,
	dollarQuotes: false,
	bracketIdentifiers: false,
	executableComments: true,
};
const SQLITE: Lexing = {
	backslash: false,
	nestedComments: false,
	hashComments: false,
	dashNeedsSpace: false,
	crEndsLineComment: false,
	dollarQuotes: false,
	bracketIdentifiers: true,
	executableComments: false,
};

/**
 * Every way a dialect's server may read the same text. Backslash escaping is a session setting
 * (standard_conforming_strings, NO_BACKSLASH_ESCAPES), so a statement is a read only if it is one
 * under both readings: a quote the lexer thinks escaped cannot hide a write.
 */
const LEXINGS: Record<SqlDialect, readonly Lexing[]> = {
	postgres: [POSTGRES, { ...POSTGRES, backslash: true }],
	mysql: [MYSQL, { ...MYSQL, backslash: false }],
	sqlite: [SQLITE],
};

/** Token stream of one lexing: upper-cased words, quoted names and the separators that matter; undefined when unsure. */
type Tokens = string[] | undefined;

/** Marks a quoted name's token (`"nextval"`, `` `GET_LOCK` ``, `[changes]`): its upper-cased name after this character, which no word starts with. */
const QUOTED = '"';

/** True only when `sql` is one statement that surely only reads (see the module comment). */
export function isSureRead(sql: string, dialect: SqlDialect): boolean {
	for (const lexing of LEXINGS[dialect]) {
		if (!tokensAreRead(lex(sql, lexing))) return false;
	}
	return true;
}

/**
 * The words of `sql` (upper-cased) and its `;`, `(`, `)`, with literals and comments skipped, as
 * the dialect's server reads them by default; undefined when the lexer is unsure. A quoted name is
 * a word only when `(` follows it (a call, a table's column list); other quoted names are skipped.
 */
export function statementWords(sql: string, dialect: SqlDialect): readonly string[] | undefined {
	const tokens = lex(sql, LEXINGS[dialect][0]);
	if (tokens === undefined) return undefined;
	const words: string[] = [];
	for (let i = 0; i < tokens.length; i++) {
		const token = tokens[i];
		if (!token.startsWith(QUOTED)) words.push(token);
		else if (tokens[i + 1] === "(") words.push(token.slice(1));
	}
	return words;
}

function tokensAreRead(tokens: Tokens): boolean {
	if (tokens === undefined) return false;
	let first: string | undefined;
	let ended = false;
	for (let i = 0; i < tokens.length; i++) {
		const t = tokens[i];
		if (t === ";") {
			if (first !== undefined) ended = true;
			continue;
		}
		if (t === "(" || t === ")") continue;
		// Anything after the first statement's `;` is a second statement.
		if (ended) return false;
		if (first === undefined) {
			first = t;
			if (!READ_STARTS.has(t)) return false;
		}
		const next = tokens[i + 1];
		if (t.startsWith(QUOTED)) {
			// A quoted name followed by `(` (comments between them are gone by now) is a function call, checked like a bare word; otherwise it only names something.
			if (next === "(" && isWriteWord(t.slice(1))) return false;
			continue;
		}
		if (isWriteWord(t)) return false;
		if (t === "FOR" && next !== undefined && LOCK_AFTER_FOR.has(next)) return false;
		// MariaDB sequences: NEXT VALUE FOR s, PREVIOUS VALUE FOR s.
		if ((t === "NEXT" || t === "PREVIOUS") && next === "VALUE") return false;
	}
	return first !== undefined;
}

function isWriteWord(word: string): boolean {
	if (WRITE_WORDS.has(word)) return true;
	for (const prefix of WRITE_PREFIXES) if (word.startsWith(prefix)) return true;
	return false;
}

function isWordStart(code: number): boolean {
	return (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95 || code >= 128;
}

function isWordPart(code: number): boolean {
	return isWordStart(code) || (code >= 48 && code <= 57) || code === 36;
}

/** Splits `sql` into words, quoted names and `;`, `(`, `)`, skipping literals and comments. */
function lex(sql: string, l: Lexing): Tokens {
	const tokens: string[] = [];
	const n = sql.length;
	let i = 0;
	while (i < n) {
		const c = sql.charCodeAt(i);
		const next = i + 1 < n ? sql.charCodeAt(i + 1) : -1;
		if (c === 45 /* - */ && next === 45) {
			const after = i + 2 < n ? sql.charCodeAt(i + 2) : -1;
			if (!l.dashNeedsSpace || after === -1 || after <= 32) {
				i = skipLine(sql, i, l.crEndsLineComment);
				continue;
			}
		}
		if (c === 35 /* # */ && l.hashComments) {
			i = skipLine(sql, i, l.crEndsLineComment);
			continue;
		}
		if (c === 47 /* / */ && next === 42 /* * */) {
			if (l.executableComments && sql.charCodeAt(i + 2) === 33 /* ! */) return undefined;
			if (l.executableComments && (sql[i + 2] === "M" || sql[i + 2] === "m") && sql.charCodeAt(i + 3) === 33) return undefined;
			const end = skipBlockComment(sql, i, l.nestedComments);
			if (end < 0) return undefined;
			i = end;
			continue;
		}
		if (c === 39 /* ' */) {
			// E'…' (PostgreSQL) always takes backslash escapes; the E was lexed as a word just before.
			const escaped = l.backslash || (l.dollarQuotes && i > 0 && (sql[i - 1] === "E" || sql[i - 1] === "e") && (i < 2 || !isWordPart(sql.charCodeAt(i - 2))));
			const end = skipQuoted(sql, i, 39, escaped);
			if (end < 0) return undefined;
			i = end;
			continue;
		}
		if (c === 34 /* " */) {
			// U&"…" spells an identifier with escapes (U&"\0070g_advisory_lock"): its name cannot be read here.
			if (i >= 2 && sql[i - 1] === "&" && (sql[i - 2] === "U" || sql[i - 2] === "u")) return undefined;
			const end = skipQuoted(sql, i, 34, l.backslash);
			if (end < 0) return undefined;
			tokens.push(QUOTED + sql.slice(i + 1, end - 1).toUpperCase());
			i = end;
			continue;
		}
		if (c === 96 /* ` */) {
			const end = skipQuoted(sql, i, 96, false);
			if (end < 0) return undefined;
			tokens.push(QUOTED + sql.slice(i + 1, end - 1).toUpperCase());
			i = end;
			continue;
		}
		if (c === 91 /* [ */ && l.bracketIdentifiers) {
			const end = sql.indexOf("]", i + 1);
			if (end < 0) return undefined;
			tokens.push(QUOTED + sql.slice(i + 1, end).toUpperCase());
			i = end + 1;
			continue;
		}
		if (c === 36 /* $ */ && l.dollarQuotes) {
			const end = skipDollarQuoted(sql, i);
			if (end === undefined) return undefined;
			i = end;
			continue;
		}
		if (isWordStart(c)) {
			let j = i + 1;
			while (j < n && isWordPart(sql.charCodeAt(j))) j++;
			tokens.push(sql.slice(i, j).toUpperCase());
			i = j;
			continue;
		}
		if (c === 59 /* ; */) tokens.push(";");
		else if (c === 40 /* ( */) tokens.push("(");
		else if (c === 41 /* ) */) tokens.push(")");
		i++;
	}
	return tokens;
}

/** Index after the line comment at `i`: past its newline (or carriage return, when `cr`), or the end of the text. */
function skipLine(sql: string, i: number, cr: boolean): number {
	for (let j = i; j < sql.length; j++) {
		const c = sql.charCodeAt(j);
		if (c === 10 || (cr && c === 13)) return j + 1;
	}
	return sql.length;
}

/** Index after the comment opened at `i`, or -1 when it never closes. */
function skipBlockComment(sql: string, i: number, nested: boolean): number {
	let depth = 1;
	let j = i + 2;
	while (j < sql.length) {
		if (sql.charCodeAt(j) === 42 && sql.charCodeAt(j + 1) === 47) {
			depth--;
			j += 2;
			if (depth === 0 || !nested) return j;
		} else if (nested && sql.charCodeAt(j) === 47 && sql.charCodeAt(j + 1) === 42) {
			depth++;
			j += 2;
		} else j++;
	}
	return -1;
}

/** Index after the literal opened by `quote` at `i` (a doubled quote is a quote), or -1 when it never closes. */
function skipQuoted(sql: string, i: number, quote: number, backslash: boolean): number {
	let j = i + 1;
	while (j < sql.length) {
		const c = sql.charCodeAt(j);
		if (backslash && c === 92) {
			j += 2;
			continue;
		}
		if (c === quote) {
			if (sql.charCodeAt(j + 1) === quote) {
				j += 2;
				continue;
			}
			return j + 1;
		}
		j++;
	}
	return -1;
}

/**
 * `$tag$ … $tag$` at `i`: the index after it; `i + 1` when this `$` is not a quote start
 * (a `$1` parameter, a `$` inside an identifier); undefined when the quote never closes.
 */
function skipDollarQuoted(sql: string, i: number): number | undefined {
	if (i > 0 && isWordPart(sql.charCodeAt(i - 1))) return i + 1;
	let j = i + 1;
	if (j < sql.length && isWordStart(sql.charCodeAt(j))) {
		j++;
		while (j < sql.length && isWordPart(sql.charCodeAt(j)) && sql.charCodeAt(j) !== 36) j++;
	}
	if (sql.charCodeAt(j) !== 36) return i + 1;
	const tag = sql.slice(i, j + 1);
	const end = sql.indexOf(tag, j + 1);
	return end < 0 ? undefined : end + tag.length;
}
