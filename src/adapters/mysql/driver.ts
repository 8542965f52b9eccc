/**
 * The MySQL/MariaDB driver behind `lifeguard/mysql`: what the generic SQL client
 * (`../sql/client.ts`) needs from a backend, on top of mysql2's callback API (its promise
 * wrapper would only add a layer to the hot path).
 *
 * Statement timeouts stop the statement on the server: MariaDB `SET STATEMENT
 * max_statement_time`, MySQL `MAX_EXECUTION_TIME` on SELECT, else `KILL QUERY` from a second
 * connection (the client's backstop closes the connection if no answer comes at all, e.g. on a
 * stalled network). `one`/`many` read rows as mysql2 parses them; for a read the server is asked
 * to send at most `limit` rows (`sql_select_limit`), and if it sends more (the statement has a
 * larger LIMIT of its own) the driver stops reading, ends the statement with `KILL QUERY` and
 * keeps the connection, its session and its transaction.
 */
import { performance } from "node:perf_hooks";
import { ErrorCode, LifeguardError, messageOf } from "../../core/errors.ts";
import { isolationSql } from "../kit/isolation.ts";
import { PermanentConnectError } from "../kit/permanent-error.ts";
import { ConnectionLostError, QueryFailedError, QueryTimeoutError } from "../sql/errors.ts";
import { isSureRead, statementWords } from "../sql/statement.ts";
import type { DriverResult, FetchMode, Row, SqlDriver, TransactionOptions } from "../sql/types.ts";
import { insertShape, multiRowStatements } from "./batch-text.ts";
import { connectionOptions, type ResolvedMysqlConfig, sessionStatement } from "./config.ts";
import { MysqlConnection } from "./connection.ts";
import { alreadyLost, connectionLost, isQueryInterrupted, isServerTimeout, mysqlSqlStateOf, statementError, transactionEnded } from "./errors.ts";
import { isConnectionFault } from "./faults.ts";
import { loadMysql2 } from "./load.ts";
import { parameterMismatch } from "./placeholders.ts";
import { planStatementText } from "./statement-text.ts";

/** Deadline of the side connection that sends `KILL QUERY`. */
const KILL_DEADLINE_MS = 2_000;
const NO_PARAMS: readonly unknown[] = [];
const CLEAN = Promise.resolve();

export const mysqlDriver: SqlDriver<MysqlConnection, ResolvedMysqlConfig> = {
	dialect: "mysql",
	connect,
	close,
	ping,
	reset,
	run,
	runBatch,
	beginSql,
	commit,
	isConnectionFault,
	onDead: (conn, callback) => conn.onDead(callback),
	needsReset,
	sqlStateOf: mysqlSqlStateOf,
	inTransaction: (conn) => conn.inTransaction,
	raw,
	cancel,
};

/** KILL QUERY for the statement running on `conn`, from a second connection; never rejects (a failed kill leaves the statement to its timeout or the close). */
function cancel(conn: MysqlConnection): Promise<void> {
	if (conn.deathCause !== undefined) return CLEAN;
	return killQuery(conn).catch(() => {});
}

/** A connection still running a statement has it killed on the server first: cutting the socket alone leaves it running there. */
async function close(conn: MysqlConnection): Promise<void> {
	if (conn.busy && conn.deathCause === undefined) await cancel(conn);
	return conn.close();
}

/** The mysql2 connection; whatever its holder runs on it is unknown, so the release undoes everything a session can keep. */
function raw(conn: MysqlConnection): unknown {
	conn.inTransaction = true;
	conn.tablesLocked = true;
	conn.namedLocks = true;
	return conn.raw;
}

/** Handshake answers no retry can change: refused credentials, an unknown database, TLS the server lacks. */
function permanentConnectError(error: unknown, label: string): PermanentConnectError | undefined {
	const errno = (error as { errno?: unknown } | null)?.errno;
	const message = messageOf(error);
	// 1698: MariaDB's access denied for a user that does not exist or may not log in this way.
	if (errno === 1045 || errno === 1698) {
		return new PermanentConnectError(
			"MySQL",
			label,
			"access denied for this user and password",
			"check the user, its password and the host it may connect from",
			error,
		);
	}
	if (errno === 1049) return new PermanentConnectError("MySQL", label, message, "create the database or fix its name", error);
	if (errno === 1044) return new PermanentConnectError("MySQL", label, message, "GRANT the user access to the database", error);
	if (errno === 1251) return new PermanentConnectError("MySQL", label, message, "use a user with password authentication the driver supports", error);
	if ((error as { code?: unknown } | null)?.code === "HANDSHAKE_NO_SSL_SUPPORT" || /does not support secure connection/i.test(message)) {
		return new PermanentConnectError(
			"MySQL",
			label,
			"the server has no TLS and the connection requires it",
			"enable TLS on the server or drop the ssl option",
			error,
		);
	}
	return undefined;
}

/** Opens a connection and applies the config's session settings; `signal` aborting destroys the socket. */
async function connect(config: ResolvedMysqlConfig, signal: AbortSignal): Promise<MysqlConnection> {
	const conn = await open(config, signal);
	try {
		await withAbort(conn, signal, () => setupSession(conn));
	} catch (error) {
		conn.destroySocket();
		throw signal.aborted ? signal.reason : error;
	}
	return conn;
}

/** A bare connection: handshake only, no session setup. */
async function open(config: ResolvedMysqlConfig, signal: AbortSignal): Promise<MysqlConnection> {
	const mysql = await loadMysql2();
	const options = await connectionOptions(config);
	signal.throwIfAborted();
	let conn: MysqlConnection;
	try {
		conn = new MysqlConnection(mysql.createConnection(options), config);
	} catch (error) {
		// mysql2 validates some options (charset, SSL profile) synchronously.
		throw new LifeguardError(ErrorCode.CONFIG_INVALID, `MySQL ${config.label}: invalid connection options: ${messageOf(error)}`, { cause: error });
	}
	try {
		await conn.handshake(signal);
	} catch (error) {
		conn.destroySocket();
		if (signal.aborted) throw signal.reason;
		throw (
			permanentConnectError(error, config.label) ??
			new LifeguardError(ErrorCode.CREATE_FAILED, `MySQL ${config.label}: could not connect: ${messageOf(error)}`, { cause: error })
		);
	}
	return conn;
}

async function setupSession(conn: MysqlConnection): Promise<void> {
	const session = sessionStatement(conn.config.session);
	if (session !== undefined) await conn.query(session.sql, session.params);
}

/** Runs `work`; if `signal` aborts first, the connection's socket is destroyed and the abort reason thrown. */
function withAbort<R>(conn: MysqlConnection, signal: AbortSignal, work: () => Promise<R>): Promise<R> {
	signal.throwIfAborted();
	const onAbort = () => conn.destroySocket();
	signal.addEventListener("abort", onAbort, { once: true });
	return work().then(
		(value) => {
			signal.removeEventListener("abort", onAbort);
			return value;
		},
		(error: unknown) => {
			signal.removeEventListener("abort", onAbort);
			throw signal.aborted ? signal.reason : error;
		},
	);
}

/** COM_PING: one round trip, no statement parsing on the server. */
function ping(conn: MysqlConnection, signal: AbortSignal): Promise<void> {
	if (conn.deathCause !== undefined) return Promise.reject(connectionLost(conn.deathCause));
	return withAbort(
		conn,
		signal,
		() =>
			new Promise<void>((resolve, reject) => {
				conn.raw.ping((error) => (error === null || error === undefined ? resolve() : reject(statementError(error))));
			}),
	);
}

/**
 * Makes a returned connection clean. An open transaction is rolled back, autocommit switched back
 * on (left off, the next caller's writes would be undone by the next release's ROLLBACK), and
 * locks that outlive statements released: table locks (LOCK TABLES) and named locks (GET_LOCK).
 * The server's status flags say whether a transaction is open or autocommit is off, and the
 * statement texts whether a lock may have been taken, so a clean connection costs no round trip.
 * With `resetSession`, COM_RESET_CONNECTION clears all of that and the rest of the session, then
 * the configured session settings and the client's session setup (`afterCreate`) are applied again.
 */
function reset(conn: MysqlConnection, setUpSession?: (conn: MysqlConnection) => Promise<void>): Promise<void> {
	if (conn.deathCause !== undefined) return Promise.reject(connectionLost(conn.deathCause));
	if (conn.config.resetSession) return resetSession(conn, setUpSession);
	if (conn.inTransaction || !conn.autocommit || conn.tablesLocked || conn.namedLocks) return undoLeftovers(conn);
	// The server already left the transaction it marks: nothing to roll back.
	conn.rolledBackBy = undefined;
	return CLEAN;
}

/** False for a connection that goes back clean as it is: no transaction open or marked rolled back, autocommit on, no lock taken, no session reset asked for. */
function needsReset(conn: MysqlConnection): boolean {
	return (
		conn.config.resetSession ||
		conn.inTransaction ||
		!conn.autocommit ||
		conn.tablesLocked ||
		conn.namedLocks ||
		conn.rolledBackBy !== undefined ||
		conn.deathCause !== undefined
	);
}

async function undoLeftovers(conn: MysqlConnection): Promise<void> {
	// ROLLBACK first: SET autocommit = 1 and UNLOCK TABLES would both commit the open transaction.
	if (conn.inTransaction || !conn.autocommit) await conn.query("ROLLBACK");
	conn.rolledBackBy = undefined;
	if (!conn.autocommit) await conn.query("SET autocommit = 1");
	if (conn.tablesLocked) {
		await conn.query("UNLOCK TABLES");
		conn.tablesLocked = false;
	}
	if (conn.namedLocks) {
		await conn.query("SELECT RELEASE_ALL_LOCKS()");
		conn.namedLocks = false;
	}
}

/** Statements that may take a lock outliving them mention "lock": a cheap test before the lexer looks. */
const MAY_LOCK = /lock/i;

/**
 * Notes the locks a statement may take that outlive it, so that the release undoes them: LOCK
 * TABLES, FLUSH TABLES … WITH READ LOCK (both undone by UNLOCK TABLES) and GET_LOCK. A text the
 * lexer cannot read (an executable comment) counts as taking both.
 */
function noteLocks(conn: MysqlConnection, sql: string): void {
	if (!MAY_LOCK.test(sql)) return;
	const words = statementWords(sql, "mysql");
	if (words === undefined) {
		conn.tablesLocked = true;
		conn.namedLocks = true;
		return;
	}
	const verb = words[0];
	if (verb === "LOCK" || (verb === "FLUSH" && words.includes("LOCK"))) conn.tablesLocked = true;
	else if (verb === "UNLOCK") conn.tablesLocked = false;
	if (words.includes("GET_LOCK")) conn.namedLocks = true;
}

async function resetSession(conn: MysqlConnection, setUpSession: ((conn: MysqlConnection) => Promise<void>) | undefined): Promise<void> {
	await new Promise<void>((resolve, reject) => {
		conn.raw.reset((error) => (error === null || error === undefined ? resolve() : reject(statementError(error))));
	});
	conn.inTransaction = false;
	conn.rolledBackBy = undefined;
	conn.autocommit = true;
	conn.tablesLocked = false;
	conn.namedLocks = false;
	// The same order as a new connection: the config's session settings, then the client's afterCreate.
	await setupSession(conn);
	await setUpSession?.(conn);
}

function run(
	conn: MysqlConnection,
	sql: string,
	params: readonly unknown[],
	mode: FetchMode,
	limit: number,
	timeoutMs: number | undefined,
): Promise<DriverResult> {
	if (conn.deathCause !== undefined) return Promise.reject(alreadyLost(conn.deathCause));
	if (conn.rolledBackBy !== undefined) {
		const refused = refusal(conn, conn.rolledBackBy, sql);
		if (refused !== undefined) return Promise.reject(refused);
	}
	const mismatch = parameterMismatch(sql, params, conn.formatter);
	if (mismatch !== undefined) return Promise.reject(new QueryFailedError(mismatch, undefined));
	noteLocks(conn, sql);
	if (mode === "one" || mode === "many") return streamRows(conn, sql, params, mode === "one" ? 1 : limit, timeoutMs);
	if (timeoutMs === undefined) return runBuffered(conn, sql, sql, params, undefined);
	const planned = planStatementText(sql, { timeoutMs }, conn.flavor, conn.config.timeoutMethod === "auto");
	return runBuffered(conn, sql, planned.sql, params, new StatementDeadline(conn, timeoutMs, planned.serverTimeout));
}

/**
 * Why `sql` may not run in the transaction the server left after `failed`; undefined for a plain
 * ROLLBACK, which runs (it ends the transaction, as the caller meant). A refused COMMIT ends the
 * transaction too: the connection's statements run again after either.
 */
function refusal(conn: MysqlConnection, failed: LifeguardError, sql: string): LifeguardError | undefined {
	const words = statementWords(sql, "mysql");
	const verb = words?.[0];
	if (verb === "ROLLBACK" && !words?.includes("TO")) {
		conn.rolledBackBy = undefined;
		return undefined;
	}
	if (verb !== "COMMIT") return transactionEnded(failed, "statement");
	conn.rolledBackBy = undefined;
	return transactionEnded(failed, "commit");
}

/**
 * COMMIT, refused for a transaction the server already rolled back (a statement in it failed with a
 * deadlock, and the transaction function caught the error): in autocommit, COMMIT would succeed.
 */
function commit(conn: MysqlConnection, timeoutMs: number | undefined): Promise<void> {
	return run(conn, "COMMIT", NO_PARAMS, "none", 0, timeoutMs).then(() => undefined);
}

/** Statements that end or begin a transaction: their failure is no sign the server rolled one back. */
const TRANSACTION_CONTROL = new Set(["COMMIT", "ROLLBACK", "BEGIN", "START"]);

/**
 * Rejects with `typed` once it is known whether the failed statement `sql` took the transaction it
 * ran in with it: InnoDB rolls the whole transaction back on a deadlock (and on a lock wait timeout
 * with innodb_rollback_on_timeout), leaving later statements in autocommit. An error packet carries
 * no status flags, so `DO 0` asks for them; only after a failure inside a transaction.
 */
function rejectFailure(conn: MysqlConnection, sql: string, typed: LifeguardError, reject: (error: unknown) => void): void {
	if (!conn.inTransaction || conn.deathCause !== undefined || TRANSACTION_CONTROL.has(statementWords(sql, "mysql")?.[0] ?? "")) return reject(typed);
	conn.query("DO 0").then(
		() => {
			if (!conn.inTransaction) conn.rolledBackBy = typed;
			reject(typed);
		},
		() => reject(typed),
	);
}

/** The whole result through mysql2's callback API: the hot path. `sql` is what is sent, `text` the caller's statement. */
function runBuffered(
	conn: MysqlConnection,
	text: string,
	sql: string,
	params: readonly unknown[],
	deadline: StatementDeadline | undefined,
): Promise<DriverResult> {
	return new Promise<DriverResult>((resolve, reject) => {
		conn.raw.query(sql, params as unknown[], (error, result, fields) => {
			if (deadline === undefined) {
				if (error === null) resolve(conn.outcome(result, fields));
				else rejectFailure(conn, text, failure(conn, error, undefined), reject);
				return;
			}
			deadline.finish().then(() => {
				const timedOut = error === null ? deadline.timeoutFor(undefined) : undefined;
				if (timedOut !== undefined) reject(timedOut);
				else if (error === null) resolve(conn.outcome(result, fields));
				else rejectFailure(conn, text, failure(conn, error, deadline), reject);
			});
		});
	});
}

/**
 * At most `limit` rows, taken as mysql2 parses them (event mode: nothing is buffered past
 * `limit`). Extra rows from a read mean the server ignored `sql_select_limit` (the statement's
 * own LIMIT is larger); reading stops at once and `KILL QUERY` ends the statement, so the
 * connection stays usable. A write's extra rows (`RETURNING`) are read and dropped.
 */
function streamRows(conn: MysqlConnection, sql: string, params: readonly unknown[], limit: number, timeoutMs: number | undefined): Promise<DriverResult> {
	// Only a sure read may be cut short: a write (INSERT … RETURNING) must run to its end, its extra rows are read and dropped.
	const read = isSureRead(sql, "mysql");
	const planned = planStatementText(sql, { timeoutMs, maxRows: read ? limit : undefined }, conn.flavor, conn.config.timeoutMethod === "auto");
	const deadline = timeoutMs === undefined ? undefined : new StatementDeadline(conn, timeoutMs, planned.serverTimeout);
	return new Promise<DriverResult>((resolve, reject) => {
		const rows: Row[] = [];
		let affectedRows = 0;
		let headerNext = false;
		let stopping: Promise<void> | undefined;
		let error: unknown;
		let ended = false;
		const end = () => {
			if (ended) return;
			ended = true;
			unwatch();
			void Promise.all([stopping, deadline?.finish()]).then(() => {
				// Once `limit` rows are in, the statement's end (interrupted by our KILL, or the connection lost) is not the caller's concern.
				const timedOut = error === undefined ? deadline?.timeoutFor(undefined) : undefined;
				if (timedOut !== undefined) reject(timedOut);
				else if (error === undefined || stopping !== undefined) resolve({ rows, affectedRows });
				else rejectFailure(conn, sql, failure(conn, error, deadline), reject);
			});
		};
		const unwatch = conn.watchInflight((lost) => {
			error ??= lost;
			end();
		});
		let command: ReturnType<typeof conn.raw.query>;
		try {
			command = conn.raw.query(planned.sql, params as unknown[]);
		} catch (thrown) {
			// mysql2 formats the parameters synchronously, and may throw on a value it cannot escape.
			error = thrown;
			return end();
		}
		command.on("fields", (fields: unknown) => {
			headerNext = fields === undefined;
		});
		command.on("result", (item: unknown) => {
			if (headerNext) {
				const header = item as { affectedRows: number; serverStatus?: number };
				affectedRows += header.affectedRows;
				conn.noteStatus(header.serverStatus);
				return;
			}
			conn.noteRows();
			if (rows.length < limit) rows.push(item as Row);
			else if (read) stopping ??= stopReading(conn);
		});
		command.on("error", (failed: unknown) => {
			error ??= failed;
		});
		command.on("end", end);
	});
}

/** Pauses the socket and ends the running statement with KILL QUERY; if that fails, the connection is closed instead. */
async function stopReading(conn: MysqlConnection): Promise<void> {
	conn.raw.pause();
	try {
		await killQuery(conn);
	} catch (error) {
		conn.kill(connectionLost(error));
	} finally {
		conn.raw.resume();
	}
}

/** `KILL QUERY <thread id>` from a short-lived second connection to the same server. */
async function killQuery(conn: MysqlConnection): Promise<void> {
	const signal = AbortSignal.timeout(KILL_DEADLINE_MS);
	const side = await open(conn.config, signal);
	try {
		await withAbort(side, signal, () => side.query(`KILL QUERY ${conn.threadId}`));
	} finally {
		void side.close();
	}
}

/**
 * A statement's timeout when the server does not enforce it itself: `KILL QUERY` at the
 * deadline. (When nothing answers at all, the SQL client's backstop closes the connection.)
 */
class StatementDeadline {
	readonly #conn: MysqlConnection;
	readonly #timeoutMs: number;
	readonly #killTimer: NodeJS.Timeout | undefined;
	#killing: Promise<void> | undefined = undefined;

	constructor(conn: MysqlConnection, timeoutMs: number, serverEnforced: boolean) {
		this.#conn = conn;
		this.#timeoutMs = timeoutMs;
		if (serverEnforced) return;
		this.#killTimer = setTimeout(() => {
			// A failed kill is left to the client's backstop.
			this.#killing = killQuery(conn).catch(() => {});
		}, timeoutMs);
		this.#killTimer.unref();
	}

	/** Stops the timer; waits for a KILL in flight, so that it cannot hit the connection's next statement. */
	async finish(): Promise<void> {
		clearTimeout(this.#killTimer);
		if (this.#killing !== undefined && this.#conn.deathCause === undefined) await this.#killing;
	}

	/**
	 * The timeout error the statement's end stands for (`error` undefined: it succeeded), if any.
	 * Once KILL QUERY was sent, even a statement that then ends without error counts as timed
	 * out: an interrupted SLEEP() or a cut-short result reports success.
	 */
	timeoutFor(error: unknown): QueryTimeoutError | undefined {
		if ((this.#killing !== undefined && (error === undefined || isQueryInterrupted(error))) || isServerTimeout(error)) {
			return new QueryTimeoutError(this.#timeoutMs, error === undefined ? undefined : { cause: error });
		}
		return undefined;
	}
}

/** The typed error for a failed statement; a connection fault also marks the connection dead. */
function failure(conn: MysqlConnection, error: unknown, deadline: StatementDeadline | undefined): LifeguardError {
	const typed = deadline?.timeoutFor(error) ?? statementError(error);
	if (typed instanceof ConnectionLostError) conn.kill(typed);
	return typed;
}

/**
 * One statement for many parameter sets. `INSERT … VALUES (…)` becomes multi-row INSERTs (one
 * round trip per MiB of SQL); anything else runs once per set. When that takes more than one
 * statement outside a transaction, they run in one, so a batch is all or nothing.
 * `timeoutMs` bounds the whole batch.
 */
async function runBatch(conn: MysqlConnection, sql: string, paramSets: readonly (readonly unknown[])[], timeoutMs: number | undefined): Promise<number> {
	if (paramSets.length === 0) return 0;
	if (conn.deathCause !== undefined) throw alreadyLost(conn.deathCause);
	if (conn.rolledBackBy !== undefined) throw transactionEnded(conn.rolledBackBy, "statement");
	const endsAt = timeoutMs === undefined ? undefined : performance.now() + timeoutMs;
	const format = conn.formatter;
	for (let set = 0; set < paramSets.length; set++) {
		const mismatch = parameterMismatch(sql, paramSets[set], format, set);
		if (mismatch !== undefined) throw new QueryFailedError(mismatch, undefined);
	}
	const shape = insertShape(sql);
	const statements =
		shape !== undefined && paramSets.every((params) => params.length === shape.placeholders)
			? multiRowStatements(shape, paramSets, format)
			: paramSets.map((params) => format(sql, params as unknown[]));
	const atomic = statements.length > 1 && conn.autocommit && !conn.inTransaction;
	if (atomic) await conn.query("START TRANSACTION");
	let affected = 0;
	try {
		for (const statement of statements) {
			const remaining = endsAt === undefined ? undefined : endsAt - performance.now();
			if (remaining !== undefined && remaining <= 0) throw new QueryTimeoutError(timeoutMs as number);
			affected += (await run(conn, statement, NO_PARAMS, "none", 0, remaining)).affectedRows;
		}
		if (atomic) await conn.query("COMMIT");
	} catch (error) {
		if (atomic && conn.deathCause === undefined) {
			await conn.query("ROLLBACK").catch(() => {});
			// The batch's own transaction is over: a deadlock's mark would refuse the caller's next statements.
			conn.rolledBackBy = undefined;
		}
		throw error;
	}
	return affected;
}

/** MySQL sets the isolation level for the next transaction only, before it starts. */
function beginSql(options: TransactionOptions): string[] {
	const statements: string[] = [];
	if (options.isolation !== undefined) statements.push(`SET TRANSACTION ISOLATION LEVEL ${isolationSql(options.isolation)}`);
	statements.push(options.readOnly === true ? "START TRANSACTION READ ONLY" : "START TRANSACTION");
	return statements;
}
