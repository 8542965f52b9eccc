/**
 * SQL sessions for HTTP callers that cannot hold a connection: each session is one connection id
 * of a SQL client (`acquireId`), named by that id (a random UUID: 122 bits, never reused), kept
 * while it is used and released when it has been idle for `idleTimeoutMs`, its transaction rolled
 * back by the client's reset. An id that ended says why (released, expired, connection lost) for
 * as long as the service remembers it.
 */

import { performance } from "node:perf_hooks";
import { transactionControlIn } from "../adapters/sql/transaction-control.ts";
import type { FetchMode, IsolationLevel, Route, SqlClient, SqlDialect } from "../adapters/sql/types.ts";
import { ErrorCode, LifeguardError } from "../core/errors.ts";
import { HttpError, ServiceErrorCode } from "./http-errors.ts";

export interface SqlSessionSettings {
	/** A session unused for this long is released (its transaction rolled back). Default 60 000 ms. */
	idleTimeoutMs: number;
	/** Sessions open at once, over every pool. Default 1 000. */
	maxSessions: number;
	/** Statement timeout when a call names none. Default 30 000 ms. */
	statementTimeoutMs: number;
	/** The longest statement timeout a call may ask for. Default 300 000 ms. */
	maxStatementTimeoutMs: number;
}

export const SQL_SESSION_DEFAULTS: SqlSessionSettings = {
	idleTimeoutMs: 60_000,
	maxSessions: 1_000,
	statementTimeoutMs: 30_000,
	maxStatementTimeoutMs: 300_000,
};

/** Ended ids remembered so that a 404 can say why; bounded, older ones become plain "unknown". */
const ENDED_MEMORY = 10_000;

export type StatementFetch = Exclude<FetchMode, "result">;

export interface Statement {
	sql: string;
	params?: unknown[];
	fetch?: StatementFetch;
	limit?: number;
	timeoutMs?: number;
}

/** What a statement returns over HTTP: rows (`all`, `many`) or one row (`one`), the row count, the time it took. */
export interface StatementReply {
	rows?: unknown[];
	row?: unknown;
	rowCount: number;
	executionTimeMs: number;
}

export type TransactionAction = "begin" | "commit" | "rollback";

export interface TransactionRequest {
	action: TransactionAction;
	isolation?: IsolationLevel;
	readOnly?: boolean;
}

interface Session {
	readonly id: string;
	readonly pool: string;
	readonly client: SqlClient;
	readonly idleTimeoutMs: number;
	readonly openedAt: number;
	timer: NodeJS.Timeout;
	/** Calls running on it: a session is never expired under a running statement. */
	busy: number;
	inTransaction: boolean;
	/** PostgreSQL aborts a transaction at its first failed statement and later answers COMMIT with a rollback. */
	aborted: boolean;
	lastUsedAt: number;
}

export type SessionEnd = "released" | "expired" | "connectionLost" | "shutdown";

const END_TEXT: Record<SessionEnd, string> = {
	released: "it was released (DELETE)",
	expired: "it expired after being idle (its transaction, if any, was rolled back)",
	connectionLost: "its connection was lost (the server closed it); open a new session",
	shutdown: "the service is shutting down",
};

export class SqlSessions {
	readonly settings: SqlSessionSettings;
	readonly #open = new Map<string, Session>();
	readonly #ended = new Map<string, SessionEnd>();
	#expired = 0;
	#closed = false;

	constructor(settings?: Partial<SqlSessionSettings>) {
		this.settings = { ...SQL_SESSION_DEFAULTS, ...settings };
	}

	get size(): number {
		return this.#open.size;
	}

	/** Sessions that ended by expiry since the service started. */
	get expired(): number {
		return this.#expired;
	}

	/** Sessions open on `pool`. */
	countOn(pool: string): number {
		let n = 0;
		for (const s of this.#open.values()) if (s.pool === pool) n++;
		return n;
	}

	async open(
		pool: string,
		client: SqlClient,
		options: { route?: Route; idleTimeoutMs?: number; acquireTimeoutMs?: number; signal?: AbortSignal },
	): Promise<{ sessionId: string; idleTimeoutMs: number }> {
		if (this.#closed) throw new HttpError(503, ServiceErrorCode.SHUTTING_DOWN, "the service is shutting down; no new sessions");
		if (this.#open.size >= this.settings.maxSessions) {
			throw new HttpError(503, ServiceErrorCode.SESSION_LIMIT, `${this.settings.maxSessions} sessions are open (maxSessions); release sessions when done`);
		}
		const idleTimeoutMs = Math.min(options.idleTimeoutMs ?? this.settings.idleTimeoutMs, this.settings.idleTimeoutMs);
		const id = await client.acquireId({
			...(options.route === undefined ? {} : { route: options.route }),
			...(options.acquireTimeoutMs === undefined ? {} : { timeoutMs: options.acquireTimeoutMs }),
			...(options.signal === undefined ? {} : { signal: options.signal }),
		});
		if (this.#closed) {
			client.releaseId(id);
			throw new HttpError(503, ServiceErrorCode.SHUTTING_DOWN, "the service is shutting down; no new sessions");
		}
		const now = performance.now();
		const timer = setTimeout(() => this.#expire(id), idleTimeoutMs);
		timer.unref();
		this.#open.set(id, { id, pool, client, idleTimeoutMs, openedAt: now, timer, busy: 0, inTransaction: false, aborted: false, lastUsedAt: now });
		return { sessionId: id, idleTimeoutMs };
	}

	/** Runs one statement in the session. */
	async execute(pool: string, id: string, statement: Statement): Promise<StatementReply> {
		const session = this.#get(pool, id);
		return this.#use(session, async () => {
			try {
				const reply = await runStatement(statement, this.timeoutOf(statement.timeoutMs), (sql, params, options) =>
					session.client.execute(session.id, sql, params, options),
				);
				followControl(session, statement.sql);
				return reply;
			} catch (error) {
				if (session.inTransaction && session.client.dialect === "postgres" && isCode(error, ErrorCode.QUERY_FAILED)) session.aborted = true;
				throw error;
			}
		});
	}

	async transaction(pool: string, id: string, request: TransactionRequest): Promise<{ inTransaction: boolean }> {
		const session = this.#get(pool, id);
		return this.#use(session, async () => {
			const run = (sql: string) => session.client.execute(session.id, sql, [], { fetch: "none", timeoutMs: this.settings.statementTimeoutMs });
			if (request.action === "begin") {
				if (session.inTransaction)
					throw new HttpError(409, ServiceErrorCode.TRANSACTION_STATE, "a transaction is already open in this session; commit or roll it back first");
				for (const sql of beginStatements(session.client.dialect, request)) await run(sql);
				session.inTransaction = true;
				session.aborted = false;
				return { inTransaction: true };
			}
			if (!session.inTransaction)
				throw new HttpError(409, ServiceErrorCode.TRANSACTION_STATE, `no transaction is open in this session to ${request.action}; begin one first`);
			if (request.action === "rollback" || session.aborted) {
				const aborted = session.aborted && request.action === "commit";
				session.inTransaction = false;
				session.aborted = false;
				await run("ROLLBACK");
				if (aborted) {
					throw new HttpError(
						409,
						ServiceErrorCode.TRANSACTION_STATE,
						"the transaction was aborted by a failed statement and has been rolled back: nothing was committed",
						{ rolledBack: true },
					);
				}
				return { inTransaction: false };
			}
			// Whatever COMMIT answers, the transaction is over: a failed commit rolled it back.
			session.inTransaction = false;
			await run("COMMIT");
			return { inTransaction: false };
		});
	}

	/** Releases the session: an open transaction is rolled back by the client's reset. */
	release(pool: string, id: string): void {
		const session = this.#get(pool, id);
		this.#end(session, "released");
	}

	/** What the admin API and dashboard show of the open sessions (ids shortened: they are capabilities). */
	describe(): { pool: string; session: string; inTransaction: boolean; ageMs: number; idleMs: number }[] {
		const now = performance.now();
		return [...this.#open.values()].map((s) => ({
			pool: s.pool,
			session: `${s.id.slice(0, 8)}…`,
			inTransaction: s.inTransaction,
			ageMs: Math.round(now - s.openedAt),
			idleMs: s.busy > 0 ? 0 : Math.round(now - s.lastUsedAt),
		}));
	}

	/** Ends every session (shutdown); later calls are refused. */
	closeAll(): void {
		this.#closed = true;
		for (const session of [...this.#open.values()]) this.#end(session, "shutdown");
	}

	/** The statement timeout of a call: its own (at most maxStatementTimeoutMs) or the default. */
	timeoutOf(requested: number | undefined): number {
		const max = this.settings.maxStatementTimeoutMs;
		if (requested !== undefined && requested > max) {
			throw new HttpError(400, ServiceErrorCode.BAD_REQUEST, `timeoutMs ${requested} is above this service's maximum of ${max} ms`);
		}
		return requested ?? this.settings.statementTimeoutMs;
	}

	/** The open session `id` of `pool`, or a 404 that says why there is none. */
	#get(pool: string, id: string): Session {
		const session = this.#open.get(id);
		if (session !== undefined && session.pool === pool) return session;
		const ended = session === undefined ? this.#ended.get(id) : undefined;
		const shown = JSON.stringify(`${id.slice(0, 8)}${id.length > 8 ? "…" : ""}`);
		const why = ended === undefined ? `it was never opened on pool "${pool}" (or ended long ago)` : END_TEXT[ended];
		throw new HttpError(404, ServiceErrorCode.SESSION_NOT_FOUND, `session ${shown} is not open: ${why}`, ended === undefined ? undefined : { ended });
	}

	async #use<T>(session: Session, work: () => Promise<T>): Promise<T> {
		session.busy++;
		try {
			return await work();
		} catch (error) {
			if (isCode(error, ErrorCode.CONNECTION_LOST) || isCode(error, ErrorCode.CONNECTION_ID_UNKNOWN)) this.#end(session, "connectionLost");
			throw error;
		} finally {
			session.busy--;
			session.lastUsedAt = performance.now();
			session.timer.refresh();
		}
	}

	#expire(id: string): void {
		const session = this.#open.get(id);
		if (session === undefined) return;
		// A long statement is not idleness: look again once it has finished (#use re-arms the timer).
		if (session.busy > 0) return;
		this.#expired++;
		this.#end(session, "expired");
	}

	#end(session: Session, why: SessionEnd): void {
		if (this.#open.get(session.id) !== session) return;
		clearTimeout(session.timer);
		this.#open.delete(session.id);
		this.#ended.set(session.id, why);
		if (this.#ended.size > ENDED_MEMORY) this.#ended.delete(this.#ended.keys().next().value as string);
		try {
			session.client.releaseId(session.id);
		} catch (error) {
			// Already gone on the client's side (reclaimed after leaseTimeoutMs, or its connection died): nothing is left to release.
			if (!isCode(error, ErrorCode.CONNECTION_ID_UNKNOWN)) throw error;
		}
	}
}

/**
 * A `BEGIN` or `COMMIT` sent through execute changes the connection's transaction as surely as the
 * transaction endpoint does: the session follows it, so a later commit never reports success for
 * writes a `ROLLBACK` statement already threw away (and a `BEGIN` statement's transaction can be
 * committed through the endpoint).
 */
function followControl(session: Session, sql: string): void {
	const control = transactionControlIn(sql, session.client.dialect);
	if (control === undefined) return;
	session.inTransaction = control === "BEGIN" || control === "START TRANSACTION";
	session.aborted = false;
}

type Run = (sql: string, params: unknown[], options: { fetch: FetchMode; limit?: number; timeoutMs: number; signal?: AbortSignal }) => Promise<unknown>;

/** Runs a statement through `run` (a session's connection or a pooled one per call) and shapes its reply. */
export async function runStatement(statement: Statement, timeoutMs: number, run: Run, signal?: AbortSignal): Promise<StatementReply> {
	const fetch = statement.fetch ?? "all";
	if (fetch === "many" && statement.limit === undefined) throw new HttpError(400, ServiceErrorCode.BAD_REQUEST, 'body/limit is required with fetch "many"');
	const t0 = performance.now();
	const outcome = await run(statement.sql, statement.params ?? [], {
		fetch,
		...(statement.limit === undefined ? {} : { limit: statement.limit }),
		timeoutMs,
		...(signal === undefined ? {} : { signal }),
	});
	const executionTimeMs = round(performance.now() - t0);
	if (fetch === "none") return { rowCount: outcome as number, executionTimeMs };
	if (fetch === "one") return { row: outcome ?? null, rowCount: outcome === undefined ? 0 : 1, executionTimeMs };
	const rows = outcome as unknown[];
	return { rows, rowCount: rows.length, executionTimeMs };
}

/** The statements that begin a transaction with these options in `dialect`; refuses what the dialect cannot do. */
function beginStatements(dialect: SqlDialect, request: TransactionRequest): string[] {
	const isolation = request.isolation?.toUpperCase();
	if (dialect === "postgres") return [`BEGIN${isolation === undefined ? "" : ` ISOLATION LEVEL ${isolation}`}${request.readOnly ? " READ ONLY" : ""}`];
	if (dialect === "mysql") {
		const begin = `START TRANSACTION${request.readOnly ? " READ ONLY" : ""}`;
		return isolation === undefined ? [begin] : [`SET TRANSACTION ISOLATION LEVEL ${isolation}`, begin];
	}
	if (isolation !== undefined && isolation !== "SERIALIZABLE") {
		throw new HttpError(400, ServiceErrorCode.BAD_REQUEST, 'SQLite transactions are always serializable; leave body/isolation out or set it to "serializable"');
	}
	// IMMEDIATE takes the write lock at BEGIN, so two sessions' read-then-write transactions cannot deadlock at their first write.
	return [request.readOnly ? "BEGIN DEFERRED" : "BEGIN IMMEDIATE"];
}

function isCode(error: unknown, code: string): boolean {
	return error instanceof LifeguardError && error.code === code;
}

function round(ms: number): number {
	return Math.round(ms * 1000) / 1000;
}
