/**
 * Runs statements on one driver connection and turns the driver's errors into lifeguard's:
 * QUERY_TIMEOUT, CONNECTION_LOST (the connection must be discarded) or QUERY_FAILED (it is fine).
 */
import { LifeguardError } from "../../core/errors.ts";
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

	/** One statement, shaped by its fetch mode; rejects with a typed error. */
	async query(conn: C, sql: string, params: readonly unknown[] | undefined, options: QueryOptions | undefined): Promise<unknown> {
		const mode = fetchModeOf(options);
		const limit = rowLimitOf(mode, options);
		let result: DriverResult;
		try {
			result = await this.run(conn, sql, params ?? NO_PARAMS, mode, limit, options?.timeoutMs ?? this.statementTimeoutMs);
		} catch (error) {
			throw this.wrap(error);
		}
		return shapeResult(result, mode);
	}

	/** One statement for many parameter sets; the total of affected rows. */
	async batch(conn: C, sql: string, paramSets: readonly (readonly unknown[])[], timeoutMs: number | undefined): Promise<number> {
		const ms = timeoutMs ?? this.statementTimeoutMs;
		try {
			const work = this.driver.runBatch(conn, sql, paramSets, ms);
			return await (ms === undefined ? work : withBackstop(work, ms));
		} catch (error) {
			throw this.wrap(error);
		}
	}

	/** The driver's run, with the client-side backstop when there is a timeout. Rejects with the driver's raw error. */
	run(conn: C, sql: string, params: readonly unknown[], mode: FetchMode, limit: number, timeoutMs: number | undefined): Promise<DriverResult> {
		const work = this.driver.run(conn, sql, params, mode, limit, timeoutMs);
		return timeoutMs === undefined ? work : withBackstop(work, timeoutMs);
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
