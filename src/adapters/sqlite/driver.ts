/**
 * What SQLite (node:sqlite) teaches the generic SQL client: how to open, check, reset and run
 * statements on a {@link SqliteConnection}, and how its transactions begin.
 */
import { isolationSql } from "../kit/isolation.ts";
import type { SqlDriver, TransactionOptions } from "../sql/types.ts";
import { resolveSqliteConfig, type SqliteConfig } from "./config.ts";
import { SqliteConnection } from "./connection.ts";
import { isConnectionFault } from "./faults.ts";
import { rowidSourceOf } from "./insert-id.ts";
import { checkParameters } from "./parameters.ts";

const NO_PARAMS: readonly unknown[] = [];

/**
 * SQLite runs every transaction serializable, so each isolation level is honoured by a stronger one
 * (as the SQL standard allows): none is refused. A read-write transaction is `BEGIN IMMEDIATE`: it
 * takes the write lock first, waiting up to `busyTimeoutMs`, so it cannot fail half-way when a read
 * has to become a write (SQLITE_BUSY_SNAPSHOT). A read-only one is `BEGIN DEFERRED` plus
 * `PRAGMA query_only`, which makes writes fail; `reset` turns it off when the connection comes back.
 */
function beginSql(options: TransactionOptions): string[] {
	// Checked like the other dialects' (a misspelt level is refused), though every level runs serializable here.
	if (options.isolation !== undefined) isolationSql(options.isolation);
	return options.readOnly === true ? ["BEGIN DEFERRED", "PRAGMA query_only = ON"] : ["BEGIN IMMEDIATE"];
}

export const sqliteDriver: SqlDriver<SqliteConnection, SqliteConfig> = {
	dialect: "sqlite",
	retryLostReads: true,
	connect(config, signal) {
		const { host, settings } = resolveSqliteConfig(config);
		return SqliteConnection.open(host, settings, signal);
	},
	close: (conn) => conn.close(),
	async ping(conn, signal) {
		await conn.request({ kind: "query", sql: "SELECT 1", params: NO_PARAMS, mode: "one", limit: 1 }, { signal });
	},
	needsReset: (conn) => !conn.alive || conn.dirty,
	async reset(conn) {
		// A dead connection rejects here, so the pool closes it instead of lending it again.
		await conn.request({ kind: "reset" });
	},
	run(conn, sql, params, mode, limit, timeoutMs) {
		try {
			checkParameters(params);
		} catch (error) {
			return Promise.reject(error);
		}
		return conn.request({ kind: "query", sql, params, mode, limit, rowid: mode === "result" ? rowidSourceOf(sql) : undefined }, { timeoutMs });
	},
	async runBatch(conn, sql, paramSets, timeoutMs) {
		for (let i = 0; i < paramSets.length; i++) checkParameters(paramSets[i], i);
		return (await conn.request({ kind: "batch", sql, paramSets }, { timeoutMs })).affectedRows;
	},
	/** A running statement cannot be interrupted in node:sqlite: the host is stopped (the connection is then replaced). */
	async cancel(conn) {
		if (conn.busy) conn.stop("its statement was cancelled (a signal aborted it, or its client closed)");
	},
	beginSql,
	isConnectionFault,
	onDead: (conn, callback) => conn.onDead(callback),
};
