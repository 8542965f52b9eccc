/**
 * The program inside a SQLite connection's host: a child process (default) or a worker thread,
 * started by `host.ts`. It owns one `DatabaseSync` and answers one request at a time. Statements
 * are synchronous here, which is the point: the application's event loop never waits on them.
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { parentPort } from "node:worker_threads";
import type { Row } from "../sql/types.ts";
import type { RowidSource } from "./insert-id.ts";
import { exitWhenParentDies } from "./parent-watch.ts";
import type { HostError, HostReply, HostRequest, OpenSettings } from "./protocol.ts";

/** Prepared statements kept per connection; beyond this the least recently used is dropped (and finalized when collected). */
const STATEMENT_CACHE_SIZE = 128;

/** Whitespace, semicolons and comments: what may follow the one statement of a query. */
const HARMLESS_TAIL = /^(?:\s|;|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*$/;

let db: DatabaseSync | undefined;
let readBigInts = false;
const statements = new Map<string, StatementSync>();
/** `SELECT last_insert_rowid()`, read as a bigint: kept out of the statement cache so that a caller's identical text reads numbers. */
let lastRowidStatement: StatementSync | undefined;

function open(settings: OpenSettings, sqlite: typeof import("node:sqlite")): void {
	db = new sqlite.DatabaseSync(settings.filename, { readOnly: settings.readOnly, enableForeignKeyConstraints: settings.foreignKeys });
	readBigInts = settings.readBigInts;
	// busy_timeout first, so that switching the journal mode waits for other connections' locks.
	db.exec(`PRAGMA busy_timeout = ${settings.busyTimeoutMs}`);
	if (settings.journalMode !== undefined) db.exec(`PRAGMA journal_mode = ${settings.journalMode}`);
	for (const [name, value] of settings.pragmas) db.exec(`PRAGMA ${name} = ${value}`);
}

function database(): DatabaseSync {
	if (db === undefined) throw Object.assign(new Error("database is not open"), { code: "ERR_INVALID_STATE" });
	return db;
}

/** The SQL a statement was compiled from; a property since Node 23, a method before. */
function sourceOf(statement: StatementSync): string {
	const source = (statement as unknown as { sourceSQL: string | (() => string) }).sourceSQL;
	return typeof source === "function" ? source.call(statement) : source;
}

function prepare(sql: string): StatementSync {
	const cached = statements.get(sql);
	if (cached !== undefined) {
		statements.delete(sql);
		statements.set(sql, cached);
		return cached;
	}
	const statement = database().prepare(sql);
	// prepare() compiles the first statement and silently drops the rest: refuse rather than run half the SQL.
	if (!HARMLESS_TAIL.test(sql.slice(sourceOf(statement).length))) {
		throw Object.assign(new Error("one statement per query: this SQL has more statements after the first; send them as separate queries"), {
			code: "ERR_LIFEGUARD_MULTIPLE_STATEMENTS",
		});
	}
	if (readBigInts) statement.setReadBigInts(true);
	statements.set(sql, statement);
	if (statements.size > STATEMENT_CACHE_SIZE) statements.delete(statements.keys().next().value as string);
	return statement;
}

/** SQLITE_RANGE: a value bound past the statement's last parameter. */
const SQLITE_RANGE = 25;
const placeholderCounts = new WeakMap<StatementSync, number>();

/** Whether `statement` binds `count` positional values; binding (which iterate() does at once) runs nothing. */
function binds(statement: StatementSync, count: number): boolean {
	try {
		statement.iterate(...(new Array(count).fill(null) as never[])).return?.();
		return true;
	} catch (error) {
		if ((error as { errcode?: unknown }).errcode === SQLITE_RANGE) return false;
		throw error;
	}
}

/**
 * How many positional values `statement` takes (sqlite3_bind_parameter_count, which node:sqlite
 * does not expose): the most it binds without SQLITE_RANGE, found by doubling then halving, once
 * per prepared statement.
 */
function placeholderCount(statement: StatementSync): number {
	const known = placeholderCounts.get(statement);
	if (known !== undefined) return known;
	let fits = 0;
	let fails = 1;
	while (binds(statement, fails)) {
		fits = fails;
		fails *= 2;
	}
	while (fails - fits > 1) {
		const middle = (fits + fails) >>> 1;
		if (binds(statement, middle)) fits = middle;
		else fails = middle;
	}
	placeholderCounts.set(statement, fits);
	return fits;
}

/**
 * Refuses parameters that do not fit the statement: node:sqlite binds a missing value as NULL
 * without a word, and says only "column index out of range" for one too many.
 */
function checkCount(statement: StatementSync, params: readonly unknown[], set?: number): void {
	const expected = placeholderCount(statement);
	if (expected === params.length) return;
	const where = set === undefined ? "" : ` in parameter set ${set + 1}`;
	throw Object.assign(
		new Error(
			`the statement has ${expected} placeholder${expected === 1 ? "" : "s"} and ${params.length} parameter${params.length === 1 ? " was" : "s were"} given${where}; nothing was run`,
		),
		{ code: "ERR_LIFEGUARD_PARAMETER_COUNT" },
	);
}

/** SQLite has no booleans and node:sqlite binds no `undefined`: map them the way SQLite itself spells them. */
function bindable(params: readonly unknown[]): never[] {
	return params.map((value) => (value === undefined ? null : typeof value === "boolean" ? Number(value) : value)) as never[];
}

/** `isTransaction` exists from Node 22.16; before it, BEGIN tells (it fails inside a transaction, and takes no lock outside one). */
function inTransaction(): boolean {
	const current = database();
	const flag = (current as unknown as { isTransaction?: boolean }).isTransaction;
	if (typeof flag === "boolean") return flag;
	try {
		current.exec("BEGIN");
	} catch {
		return true;
	}
	current.exec("ROLLBACK");
	return false;
}

function queryOnly(): boolean {
	return (prepare("PRAGMA query_only").get() as { query_only: number }).query_only === 1;
}

function totalChanges(): number {
	return Number((prepare("SELECT total_changes() AS n").get() as { n: number | bigint }).n);
}

/** Rows changed by the last INSERT, UPDATE or DELETE that completed on this connection, triggers' changes not counted. */
function directChanges(): number {
	return Number((prepare("SELECT changes() AS n").get() as { n: number | bigint }).n);
}

function lastRowid(): bigint {
	if (lastRowidStatement === undefined) {
		lastRowidStatement = database().prepare("SELECT last_insert_rowid() AS id");
		lastRowidStatement.setReadBigInts(true);
	}
	return (lastRowidStatement.get() as { id: bigint }).id;
}

const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** The rowid as the connection reads integers: a number, or a bigint with readBigInts or beyond 2^53 (never a rounded number). */
function rowidValue(rowid: bigint): number | bigint {
	return readBigInts || rowid < MIN_SAFE || rowid > MAX_SAFE ? rowid : Number(rowid);
}

interface QueryOutput {
	rows: Row[];
	affectedRows: number;
	insertId?: number | bigint;
}

function query(sql: string, params: readonly unknown[], mode: string, limit: number, rowid: RowidSource | undefined): QueryOutput {
	const statement = prepare(sql);
	checkCount(statement, params);
	const values = bindable(params);
	if (mode === "none") return { rows: [], affectedRows: Number(statement.run(...values).changes) };
	const before = totalChanges();
	const rowidBefore = rowid === undefined ? undefined : lastRowid();
	let rows: Row[];
	if (mode === "one") {
		const row = statement.get(...values) as Row | undefined;
		rows = row === undefined ? [] : [row];
	} else if (mode === "many") {
		rows = [];
		const iterator = statement.iterate(...values);
		try {
			while (rows.length < limit) {
				const next = iterator.next();
				if (next.done) break;
				rows.push(next.value as Row);
			}
		} finally {
			// Stops the statement where it is: the rows after `limit` are never read.
			iterator.return?.();
		}
	} else {
		rows = statement.all(...values) as Row[];
	}
	const affectedRows = totalChanges() - before;
	if (rowid === undefined || directChanges() === 0) return { rows, affectedRows };
	// The INSERT changed rows. A rowid that moved is its own; one that did not is its own only if its target has rowids (see insert-id.ts).
	const rowidAfter = lastRowid();
	if (rowidAfter !== rowidBefore || (!rowid.upsert && hasRowids(rowid))) return { rows, affectedRows, insertId: rowidValue(rowidAfter) };
	return { rows, affectedRows };
}

/** True when the INSERT's target is known and is a table with rowids (not WITHOUT ROWID, not a view), in every schema that has the name. */
function hasRowids({ table, schema }: RowidSource): boolean {
	if (table === undefined) return false;
	const sql =
		"SELECT min(type = 'table' AND wr = 0) AS ok FROM pragma_table_list WHERE name = ? COLLATE NOCASE AND schema = coalesce(?, schema) COLLATE NOCASE";
	return Number((prepare(sql).get(table, schema ?? null) as { ok: number | bigint | null }).ok) === 1;
}

/** One transaction (or a savepoint inside the caller's), one prepared statement, every parameter set. */
function batch(sql: string, paramSets: readonly (readonly unknown[])[]): number {
	const current = database();
	const statement = prepare(sql);
	for (let set = 0; set < paramSets.length; set++) checkCount(statement, paramSets[set], set);
	const nested = inTransaction();
	// IMMEDIATE takes the write lock up front (waiting busy_timeout), so the batch cannot fail half-way on a lock.
	current.exec(nested ? "SAVEPOINT lifeguard_batch" : "BEGIN IMMEDIATE");
	let affected = 0;
	try {
		for (const params of paramSets) affected += Number(statement.run(...bindable(params)).changes);
	} catch (error) {
		try {
			current.exec(nested ? "ROLLBACK TO lifeguard_batch; RELEASE lifeguard_batch" : "ROLLBACK");
		} catch {
			// SQLite already rolled the transaction back itself (it does on some errors): the original error is the one to report.
		}
		throw error;
	}
	current.exec(nested ? "RELEASE lifeguard_batch" : "COMMIT");
	return affected;
}

/** Undoes what a borrower may leave behind: an open transaction, and the read-only switch of a read-only transaction. */
function reset(): void {
	const current = database();
	if (inTransaction()) current.exec("ROLLBACK");
	if (queryOnly()) current.exec("PRAGMA query_only = OFF");
}

function close(): void {
	// DatabaseSync.close() finalizes every statement it prepared.
	statements.clear();
	lastRowidStatement = undefined;
	db?.close();
	db = undefined;
}

function dirty(): boolean {
	if (db === undefined) return false;
	try {
		return inTransaction() || queryOnly();
	} catch {
		return true;
	}
}

function describe(error: unknown): HostError {
	if (!(error instanceof Error)) return { name: "Error", message: String(error) };
	const { code, errcode, errstr } = error as Error & { code?: unknown; errcode?: unknown; errstr?: unknown };
	return {
		name: error.name,
		message: error.message,
		code: typeof code === "string" ? code : undefined,
		errcode: typeof errcode === "number" ? errcode : undefined,
		errstr: typeof errstr === "string" ? errstr : undefined,
	};
}

async function answer(request: HostRequest): Promise<HostReply> {
	try {
		switch (request.kind) {
			case "open":
				open(request.settings, await import("node:sqlite"));
				return { id: request.id, ok: true, rows: [], affectedRows: 0, dirty: false };
			case "query": {
				const { rows, affectedRows, insertId } = query(request.sql, request.params, request.mode, request.limit, request.rowid);
				return { id: request.id, ok: true, rows, affectedRows, insertId, dirty: dirty() };
			}
			case "batch":
				return { id: request.id, ok: true, rows: [], affectedRows: batch(request.sql, request.paramSets), dirty: dirty() };
			case "reset":
				reset();
				return { id: request.id, ok: true, rows: [], affectedRows: 0, dirty: false };
			case "close":
				close();
				return { id: request.id, ok: true, rows: [], affectedRows: 0, dirty: false };
		}
	} catch (error) {
		return { id: request.id, ok: false, error: describe(error), dirty: dirty() };
	}
}

if (parentPort !== null) {
	const port = parentPort;
	port.on("message", async (request: HostRequest) => port.postMessage(await answer(request)));
} else {
	process.on("message", async (request: HostRequest) => process.send?.(await answer(request)));
	// The application is gone (or closed the channel): a host never outlives it.
	process.on("disconnect", () => process.exit(0));
	// Nor when it was killed while this process is busy in a statement and cannot hear 'disconnect'.
	exitWhenParentDies();
}
