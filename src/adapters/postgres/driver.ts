/**
 * The PostgreSQL driver behind the generic SQL client, on node-postgres (`pg`). Statement
 * timeouts cancel on the server (a cancel request), so the connection survives them; fetch
 * `one`/`many` read only the rows asked for; `batch` is one round trip.
 */
import type { Client, QueryResult } from "pg";
import { isolationSql } from "../kit/isolation.ts";
import { callPasswordFunction } from "../kit/permanent-error.ts";
import { ConnectionLostError, QueryFailedError, QueryTimeoutError } from "../sql/errors.ts";
import { NO_PARAMS } from "../sql/runner.ts";
import { statementWords } from "../sql/statement.ts";
import type { DriverResult, FetchMode, SqlDriver, TransactionOptions } from "../sql/types.ts";
import { BatchQuery } from "./batch.ts";
import { sendCancelRequest } from "./cancel.ts";
import type { ResolvedServer } from "./config.ts";
import { PostgresConnection } from "./connection.ts";
import { isNoTls, MAX_PARAMETERS, permanentOrAsIs, serverLabel, tooManyParameters } from "./errors.ts";
import { IN_FAILED_SQL_TRANSACTION, isConnectionFault, QUERY_CANCELED, sqlStateOf } from "./faults.ts";
import { loadPg, type PgModule } from "./load.ts";

/** A clean `end()` that gets no answer (a stalled socket) is cut after this long. */
const CLOSE_GRACE_MS = 1_000;

export interface PostgresDriverOptions {
	/** Also run DISCARD ALL when a connection is released (drops session state; one round trip per release). */
	discardOnRelease: boolean;
}

export class PostgresDriver implements SqlDriver<PostgresConnection, ResolvedServer> {
	readonly dialect = "postgres" as const;
	readonly #discard: boolean;
	/** Set by the first connect; every later call has a connection, so pg is loaded. */
	#pg: PgModule | undefined;

	constructor(options: PostgresDriverOptions) {
		this.#discard = options.discardOnRelease;
	}

	async connect(server: ResolvedServer, signal: AbortSignal): Promise<PostgresConnection> {
		const pg = await loadPg();
		this.#pg = pg;
		const label = serverLabel(server);
		const password = typeof server.password === "function" ? await callPasswordFunction("postgres", label, server.password) : server.password;
		signal.throwIfAborted();
		try {
			return await open(pg, server, password, server.ssl, signal);
		} catch (error) {
			// sslmode=prefer: a server without TLS gets a plain connection, as libpq does; any other TLS failure is not downgraded.
			if (server.sslFallback && isNoTls(error) && !signal.aborted)
				return open(pg, server, password, false, signal).catch((e) => Promise.reject(permanentOrAsIs(e, label)));
			throw permanentOrAsIs(error, label);
		}
	}

	async close(conn: PostgresConnection): Promise<void> {
		if (conn.dead) return conn.destroySocket();
		if (conn.busy) {
			// Closing the socket alone leaves the statement running on the server until it next writes to the client: cancel it first.
			await this.cancel(conn);
			return conn.destroySocket();
		}
		const timer = setTimeout(() => conn.destroySocket(), CLOSE_GRACE_MS);
		try {
			await conn.client.end();
		} finally {
			clearTimeout(timer);
		}
	}

	async ping(conn: PostgresConnection, signal: AbortSignal): Promise<void> {
		// A validation that times out leaves the connection to be closed: cut it so the close is immediate.
		const abort = () => conn.destroySocket();
		signal.addEventListener("abort", abort, { once: true });
		try {
			await conn.client.query("");
		} finally {
			signal.removeEventListener("abort", abort);
		}
	}

	needsReset(conn: PostgresConnection): boolean {
		if (conn.dead) return false;
		return this.#discard || conn.busy || conn.awaitingReady || conn.transactionStatus !== "I" || conn.advisoryLocks || conn.listening || conn.rawLent;
	}

	async reset(conn: PostgresConnection): Promise<void> {
		if (conn.busy) throw new Error("a statement was still running on the connection when it was released");
		// After a failed statement pg reports the error before the server's ReadyForQuery: wait for it, so the status is current.
		if (conn.awaitingReady) await conn.client.query("");
		if (conn.transactionStatus !== "I") await conn.client.query("ROLLBACK");
		if (conn.rawLent) {
			// The borrower may have added listeners of its own: the next one must not get its notifications or copy streams.
			conn.client.removeAllListeners("notification");
			conn.client.removeAllListeners("notice");
		}
		if (this.#discard) {
			// DISCARD ALL also releases advisory locks and LISTENs.
			await conn.client.query("DISCARD ALL");
			conn.forgetPreparedStatements();
		} else {
			if (conn.advisoryLocks || conn.rawLent) await conn.client.query("SELECT pg_advisory_unlock_all()");
			if (conn.listening || conn.rawLent) await conn.client.query("UNLISTEN *");
		}
		conn.advisoryLocks = false;
		conn.listening = false;
		conn.rawLent = false;
	}

	/** A cancel request for the statement running on `conn` (resolves once delivered, or after CANCEL_DELIVERY_MS; never rejects). */
	cancel(conn: PostgresConnection): Promise<void> {
		const target = conn.cancelTarget;
		return target === undefined || conn.dead ? Promise.resolve() : sendCancelRequest(target);
	}

	inTransaction(conn: PostgresConnection): boolean {
		return conn.transactionStatus !== "I";
	}

	raw(conn: PostgresConnection): Client {
		conn.rawLent = true;
		return conn.client;
	}

	run(conn: PostgresConnection, sql: string, params: readonly unknown[], mode: FetchMode, limit: number, timeoutMs: number | undefined): Promise<DriverResult> {
		if (conn.dead) return Promise.reject(notSent(conn));
		if (params.length > MAX_PARAMETERS) return Promise.reject(tooManyParameters(params.length));
		noteSessionState(conn, sql);
		const work = mode === "one" || mode === "many" ? this.#runLimited(conn.client, sql, params, limit) : runAll(conn.client, sql, params);
		return timeoutMs === undefined ? work : cancelAfter(conn, work, timeoutMs);
	}

	runBatch(conn: PostgresConnection, sql: string, paramSets: readonly (readonly unknown[])[], timeoutMs: number | undefined): Promise<number> {
		if (conn.dead) return Promise.reject(notSent(conn));
		if (statementWords(sql, "postgres")?.[0] === "COPY") {
			const cause = new Error(
				"COPY cannot run in batch() (it streams data, it takes no parameter sets); for COPY … FROM STDIN / TO STDOUT use a pinned connection's raw pg client (db.acquire(), then conn.raw with pg-copy-streams)",
			);
			return Promise.reject(new QueryFailedError(cause, undefined));
		}
		for (const set of paramSets) if (set.length > MAX_PARAMETERS) return Promise.reject(tooManyParameters(set.length));
		noteSessionState(conn, sql);
		const pg = this.#loaded();
		const work = new Promise<number>((resolve, reject) => {
			const batch = new BatchQuery(pg, sql, paramSets, (error, affected) => (error === undefined ? resolve(affected) : reject(error)));
			conn.client.query(batch as never);
		});
		return timeoutMs === undefined ? work : cancelAfter(conn, work, timeoutMs);
	}

	/**
	 * COMMIT, checked: in a transaction a failed statement aborted (its error caught by the caller),
	 * PostgreSQL answers COMMIT with the command tag ROLLBACK and no error. Reporting that as success
	 * would lose the transaction's writes silently.
	 */
	async commit(conn: PostgresConnection, timeoutMs: number | undefined): Promise<void> {
		if (conn.dead) throw notSent(conn);
		const work = send(conn.client, "COMMIT", NO_PARAMS, (result) => result.command);
		const tag = await (timeoutMs === undefined ? work : cancelAfter(conn, work, timeoutMs));
		if (tag !== "COMMIT") {
			const cause = new Error(
				`COMMIT was answered with ${tag}: a statement in the transaction failed (its error was caught inside the transaction function), so PostgreSQL rolled the whole transaction back and nothing of it was written`,
			);
			throw new QueryFailedError(cause, IN_FAILED_SQL_TRANSACTION);
		}
	}

	beginSql(options: TransactionOptions): string[] {
		let sql = "BEGIN";
		if (options.isolation !== undefined) sql += ` ISOLATION LEVEL ${isolationSql(options.isolation)}`;
		if (options.readOnly === true) sql += " READ ONLY";
		return [sql];
	}

	isConnectionFault(error: unknown): boolean {
		return isConnectionFault(error);
	}

	sqlStateOf(error: unknown): string | undefined {
		return sqlStateOf(error);
	}

	onDead(conn: PostgresConnection, callback: (error: unknown) => void): void {
		conn.onDead = callback;
	}

	#runLimited(client: Client, sql: string, params: readonly unknown[], limit: number): Promise<DriverResult> {
		const pg = this.#loaded();
		return new Promise<DriverResult>((resolve, reject) => {
			const query = new pg.RowLimitedQuery(sql, params, limit, (error, result) => (error ? reject(error) : resolve(toDriverResult(result))));
			client.query(query);
		});
	}

	#loaded(): PgModule {
		if (this.#pg === undefined) throw new Error("pg is not loaded: no connection was ever opened");
		return this.#pg;
	}
}

async function open(
	pg: PgModule,
	server: ResolvedServer,
	password: string | undefined,
	ssl: ResolvedServer["ssl"],
	signal: AbortSignal,
): Promise<PostgresConnection> {
	const client = new pg.Client({
		host: server.host,
		port: server.port,
		user: server.user,
		password,
		database: server.database,
		ssl,
		application_name: server.applicationName,
		options: server.startupOptions,
		keepAlive: server.keepAlive,
	});
	// Listeners first: from here on no error of this client can go unhandled.
	const conn = new PostgresConnection(client);
	// pg's connect timeout leaves the socket open when the server accepts but never answers (node-postgres #3543): cut it ourselves.
	const abort = () => conn.destroySocket();
	signal.addEventListener("abort", abort, { once: true });
	try {
		await client.connect();
	} catch (error) {
		conn.destroySocket();
		throw error;
	} finally {
		signal.removeEventListener("abort", abort);
	}
	return conn;
}

/** The functions that take session-level advisory locks (pg_advisory_lock, pg_try_advisory_lock_shared…), not the transaction-level `_xact_` ones. */
const SESSION_ADVISORY_LOCK = /pg_(?:try_)?advisory_lock/i;

/** LISTEN (a text that merely mentions it costs one UNLISTEN * at the release, never a missed one). */
const LISTEN = /listen/i;

/**
 * Notes a statement that may leave state on the session past its transaction, so that the release
 * undoes it: session advisory locks (a text that only unlocks or takes `_xact_` locks costs
 * nothing) and LISTEN. Clean connections still cost no round trip.
 */
function noteSessionState(conn: PostgresConnection, sql: string): void {
	if (SESSION_ADVISORY_LOCK.test(sql)) conn.advisoryLocks = true;
	if (LISTEN.test(sql)) conn.listening = true;
}

function runAll(client: Client, sql: string, params: readonly unknown[]): Promise<DriverResult> {
	return send(client, sql, params, toDriverResult);
}

/** pg's callback form: one promise per statement instead of pg's promise, its stack-rewriting catch, and a then; `read` takes what is needed from the result. */
function send<R>(client: Client, sql: string, params: readonly unknown[], read: (result: QueryResult) => R): Promise<R> {
	return new Promise<R>((resolve, reject) => {
		client.query(sql, params as unknown[], (error: Error | undefined, result: QueryResult) => (error ? reject(error) : resolve(read(result))));
	});
}

/** pg returns one result per statement of a multi-statement text: the rows are the last statement's, the count the sum. */
function toDriverResult(result: QueryResult | QueryResult[]): DriverResult {
	if (!Array.isArray(result)) return { rows: result.rows, affectedRows: result.rowCount ?? 0 };
	let affectedRows = 0;
	for (const r of result) affectedRows += r.rowCount ?? 0;
	return { rows: result.length === 0 ? [] : result[result.length - 1].rows, affectedRows };
}

/**
 * Settles with `work`; when it runs past `timeoutMs`, sends a cancel request, and the server's
 * query_canceled becomes QUERY_TIMEOUT. The result waits until the cancel is delivered, so a late
 * cancel can never hit the connection's next statement.
 */
function cancelAfter<R>(conn: PostgresConnection, work: Promise<R>, timeoutMs: number): Promise<R> {
	let cancelling: Promise<void> | undefined;
	const timer = setTimeout(() => {
		const target = conn.cancelTarget;
		if (target !== undefined) cancelling = sendCancelRequest(target);
	}, timeoutMs);
	return work.then(
		async (value) => {
			clearTimeout(timer);
			if (cancelling !== undefined) await cancelling;
			return value;
		},
		async (error) => {
			clearTimeout(timer);
			if (cancelling === undefined) throw error;
			await cancelling;
			throw (error as { code?: unknown }).code === QUERY_CANCELED ? new QueryTimeoutError(timeoutMs, { cause: error }) : error;
		},
	);
}

/**
 * A statement issued on a connection already seen dead: pg would fail it with "not queryable"
 * without sending it, which reads as a loss during the statement ("may or may not have been
 * applied"). It certainly was not applied, so a retry on a new connection is safe.
 */
function notSent(conn: PostgresConnection): ConnectionLostError {
	return new ConnectionLostError(conn.deathCause, { sent: false });
}
