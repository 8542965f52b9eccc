/**
 * Runs statements on one driver connection and turns the driver's errors into lifeguard's:
 * QUERY_TIMEOUT, CONNECTION_LOST (the connection must be discarded) or QUERY_FAILED (it is fine).
 */
import { LifeguardError } from "../../core/errors.ts";
import { raceAbort } from "../kit/abortable.ts";
import { ConnectionLostError, QueryFailedError, QueryTimeoutError } from "./errors.ts";
import { fetchModeOf, rowLimitOf, shapeResult } from "./fetch.ts";
import type { DriverResult, FetchMode, QueryOptions, SqlDriver } from "./types.ts";

/**
 * How long after a statement's timeout the client waits for the driver's server-side cancel to
 * take effect; past it the connection is closed (a stalled network never answers the cancel).
 */
export const QUERY_TIMEOUT_GRACE_MS = 2_000;

export const NO_PARAMS: readonly unknown[] = Object.freeze([]);

export class StatementRunner<C> {
	readonly driver: SqlDriver<C, unknown>;
	/** The default timeout of every statement. */
	readonly statementTimeoutMs: number | undefined;

	constructor(driver: SqlDriver<C, unknown>, statementTimeoutMs: number | undefined) {
		this.driver = driver;
		this.statementTimeoutMs = statementTimeoutMs;
	}

	/** One statement, shaped by its fetch mode; rejects with a typed error (or {@link StatementAborted} when `signal` aborts it). */
	async query(conn: C, sql: string, params: readonly unknown[] | undefined, options: QueryOptions | undefined, signal?: AbortSignal): Promise<unknown> {
		const mode = fetchModeOf(options);
		const limit = rowLimitOf(mode, options);
		let result: DriverResult;
		try {
			result = await this.run(conn, sql, params ?? NO_PARAMS, mode, limit, options?.timeoutMs ?? this.statementTimeoutMs, signal);
		} catch (error) {
			if (error instanceof StatementAborted) throw error;
			throw this.wrap(error);
		}
		return shapeResult(result, mode);
	}

	/** One statement for many parameter sets; the total of affected rows. */
	async batch(conn: C, sql: string, paramSets: readonly (readonly unknown[])[], timeoutMs: number | undefined, signal?: AbortSignal): Promise<number> {
		const ms = timeoutMs ?? this.statementTimeoutMs;
		try {
			signal?.throwIfAborted();
			const work = this.driver.runBatch(conn, sql, paramSets, ms);
			const bounded = ms === undefined ? work : withBackstop(work, ms);
			return await (signal === undefined ? bounded : this.#abortable(conn, bounded, signal));
		} catch (error) {
			if (error instanceof StatementAborted) throw error;
			throw this.wrap(error);
		}
	}

	/**
	 * The driver's run, with the client-side backstop when there is a timeout. Rejects with the
	 * driver's raw error, or with {@link StatementAborted} at once when `signal` aborts (the statement
	 * is cancelled on the server; a signal aborted before sends nothing).
	 */
	run(
		conn: C,
		sql: string,
		params: readonly unknown[],
		mode: FetchMode,
		limit: number,
		timeoutMs: number | undefined,
		signal?: AbortSignal,
	): Promise<DriverResult> {
		if (signal?.aborted) return Promise.reject(signal.reason);
		const work = this.driver.run(conn, sql, params, mode, limit, timeoutMs);
		const bounded = timeoutMs === undefined ? work : withBackstop(work, timeoutMs);
		return signal === undefined ? bounded : this.#abortable(conn, bounded, signal);
	}

	/** Settles with `work`, or rejects at once with {@link StatementAborted} when `signal` aborts, after asking the driver to stop the statement. */
	#abortable<R>(conn: C, work: Promise<R>, signal: AbortSignal): Promise<R> {
		return raceAbort(work, signal, () => {
			this.cancel(conn);
			return new StatementAborted(signal.reason, work);
		});
	}

	/** Asks the server to stop what runs on `conn` (never throws; a driver without cancel has its statement run to its end). */
	cancel(conn: C): void {
		try {
			void this.driver.cancel?.(conn)?.catch(() => {});
		} catch {
			// A cancel that cannot be sent leaves the statement to its timeout or the connection's close.
		}
	}

	/** Commits the transaction open on `conn` (the driver's commit, or a `COMMIT` statement), with the backstop. Rejects with the driver's raw error. */
	commit(conn: C, timeoutMs: number | undefined): Promise<void> {
		const driver = this.driver;
		const work =
			driver.commit === undefined ? driver.run(conn, "COMMIT", NO_PARAMS, "none", 0, timeoutMs).then(() => undefined) : driver.commit(conn, timeoutMs);
		return timeoutMs === undefined ? work : withBackstop(work, timeoutMs);
	}

	/** The typed error for a driver error. */
	wrap(error: unknown): LifeguardError {
		if (error instanceof LifeguardError) return error;
		if (this.driver.isConnectionFault(error)) return new ConnectionLostError(error);
		return new QueryFailedError(error, this.driver.sqlStateOf?.(error));
	}
}

/**
 * A running statement a caller's signal aborted: the caller gets `reason` at once, while the
 * connection stays busy until `outcome` settles (the server's answer to the cancel), so nothing
 * else runs on it before then.
 */
export class StatementAborted {
	readonly reason: unknown;
	/** Resolves with the statement's error, or undefined when it completed after all; never rejects. */
	readonly outcome: Promise<unknown>;
	constructor(reason: unknown, work: Promise<unknown>) {
		this.reason = reason;
		this.outcome = work.then(
			() => undefined,
			(error: unknown) => error,
		);
	}
}

/** True when the connection an error came from must not be reused. */
export function mustDiscard(error: unknown): boolean {
	return error instanceof ConnectionLostError || (error instanceof QueryTimeoutError && error.connectionClosed);
}

/** Rejects with a connection-closing QUERY_TIMEOUT when `work` has not settled `QUERY_TIMEOUT_GRACE_MS` after the timeout. */
function withBackstop<R>(work: Promise<R>, timeoutMs: number): Promise<R> {
	return new Promise<R>((resolve, reject) => {
		let settled = false;
		const timer = setTimeout(() => {
			settled = true;
			reject(
				new QueryTimeoutError(timeoutMs, {
					connectionClosed: true,
					reason: `nothing came back ${QUERY_TIMEOUT_GRACE_MS} ms after the timeout: the server did not answer the cancel, or the network stalled`,
				}),
			);
		}, timeoutMs + QUERY_TIMEOUT_GRACE_MS);
		work.then(
			(value) => {
				if (settled) return;
				settled = true;
				clearTimeout(timer);
				resolve(value);
			},
			(error) => {
				if (settled) return;
				settled = true;
				clearTimeout(timer);
				reject(error);
			},
		);
	});
}
