/**
 * The one contract every SQL adapter (PostgreSQL, MySQL/MariaDB, SQLite) gives its users, and
 * the small driver interface each backend implements so that pooling, routing, transactions,
 * connection ids and statistics are written once (in `client.ts`).
 */
import type { PoolOptions } from "../../core/options.ts";
import type { AcquireOptions, CloseOptions } from "../../core/pool.ts";
import type { PoolStats } from "../../core/stats.ts";
import type { ClientPool, ManagedClient } from "../../manager/client.ts";

export type Row = Record<string, unknown>;

/**
 * What a query returns:
 * - `all` (default): every row.
 * - `one`: the first row or `undefined`; only one row is read from the server.
 * - `many`: at most `limit` rows, read through a cursor or a stream, never by slicing a full result.
 * - `none`: the number of affected rows.
 * - `result`: a {@link StatementResult}: every row, the number of affected rows and the id the statement generated.
 */
export type FetchMode = "all" | "one" | "many" | "none" | "result";

/** What `fetch: "result"` returns. */
export interface StatementResult<R = Row> {
	/** Every row the statement returned (`RETURNING`, a `SELECT`); empty for a plain write. */
	rows: R[];
	affectedRows: number;
	/**
	 * The id the statement generated; undefined when it generated none.
	 * - MySQL/MariaDB: the AUTO_INCREMENT value of the (first) row inserted; for `ON DUPLICATE KEY UPDATE` that
	 *   updated, the updated row's id, as the server reports it.
	 * - SQLite: the rowid of the (last) row an `INSERT` or `REPLACE` inserted.
	 * - PostgreSQL: always undefined; use `RETURNING id` (it comes back in `rows`).
	 *
	 * A number, or a bigint beyond `Number.MAX_SAFE_INTEGER` (and with SQLite's `readBigInts`): never a rounded value.
	 */
	insertId: number | bigint | undefined;
}

/** What `query` resolves with when its fetch mode is known only at run time. */
export type QueryOutcome<R = Row> = R[] | R | number | StatementResult<R> | undefined;

export type IsolationLevel = "read uncommitted" | "read committed" | "repeatable read" | "serializable";

/** Where a statement runs when the client has replicas. `auto` routes only sure reads to replicas. */
export type Route = "auto" | "primary" | "replica";

export interface QueryOptions {
	fetch?: FetchMode;
	/** Row limit for `fetch: 'many'` (required there). */
	limit?: number;
	/** Statement timeout for this call; the server-side statement is cancelled, and QUERY_TIMEOUT thrown. */
	timeoutMs?: number;
	/** Override of read/write routing for this call. */
	route?: Route;
	/**
	 * Abandons the call: waiting for a connection, or the running statement, which is cancelled on the
	 * server (PostgreSQL cancel request, MySQL KILL QUERY, SQLite's host stopped). The call rejects at
	 * once with `signal.reason`; the connection goes back once the server has answered the cancel.
	 */
	signal?: AbortSignal;
}

/** Something statements can run on: the client (a pooled connection per call), a pinned connection, a transaction. */
export interface SqlExecutor {
	query<R = Row>(sql: string, params?: readonly unknown[], options?: QueryOptions & { fetch?: "all" }): Promise<R[]>;
	query<R = Row>(sql: string, params: readonly unknown[] | undefined, options: QueryOptions & { fetch: "one" }): Promise<R | undefined>;
	query<R = Row>(sql: string, params: readonly unknown[] | undefined, options: QueryOptions & { fetch: "many"; limit: number }): Promise<R[]>;
	query(sql: string, params: readonly unknown[] | undefined, options: QueryOptions & { fetch: "none" }): Promise<number>;
	query<R = Row>(sql: string, params: readonly unknown[] | undefined, options: QueryOptions & { fetch: "result" }): Promise<StatementResult<R>>;
	query<R = Row>(sql: string, params?: readonly unknown[], options?: QueryOptions): Promise<QueryOutcome<R>>;
	/** Runs one statement with many parameter sets, in one round trip where the driver allows; returns total affected rows. */
	batch(sql: string, paramSets: readonly (readonly unknown[])[], options?: Pick<QueryOptions, "timeoutMs" | "signal">): Promise<number>;
}

/** A connection pinned to one caller until released. */
export interface SqlConnection extends SqlExecutor {
	readonly connectionId: number;
	/**
	 * The driver's own connection, for what the executor does not cover: a `pg.Client` (LISTEN with
	 * `on("notification")`, COPY through pg-copy-streams), a mysql2 `Connection`. Touching it makes the
	 * release clean up everything a session can keep (PostgreSQL: listeners it added, UNLISTEN *,
	 * advisory locks; MySQL: transaction, autocommit, table and named locks). Do not close it or
	 * keep it past `release()`. SQLite has none (LEASE_INVALID).
	 */
	readonly raw: unknown;
	release(): void;
	destroy(error?: unknown): void;
	[Symbol.asyncDispose](): Promise<void>;
}

export interface TransactionOptions {
	isolation?: IsolationLevel;
	readOnly?: boolean;
	/** Abandons the transaction: waiting for a connection, or the transaction itself (its running statement is cancelled, it is rolled back, and `transaction()` rejects at once with `signal.reason`). */
	signal?: AbortSignal;
	/**
	 * The whole transaction's deadline, from the connection's acquisition to COMMIT: past it the
	 * running statement is cancelled, the transaction rolled back, and `transaction()` rejects at once
	 * with QUERY_TIMEOUT. None by default.
	 */
	timeoutMs?: number;
}

export interface SqlClientStats {
	primary: PoolStats;
	replicas: PoolStats[];
	/** Connection-id leases currently open, and leases reclaimed because they were not released in time. */
	leases: { open: number; reclaimed: number };
	/** Routing decisions: statements, transactions, pinned connections and ids sent to the primary and to replicas. */
	routed: { primary: number; replica: number };
}

/**
 * A caller for read-your-writes: after a write through it, its reads go to the primary for
 * `readYourWritesMs`. Other callers are unaffected.
 */
export interface SqlSession extends SqlExecutor {
	/** A transaction counted as this session's write. */
	transaction<R>(fn: (tx: SqlExecutor) => Promise<R>, options?: TransactionOptions): Promise<R>;
	/** Runs `fn` with this session as the async context's caller: plain client calls inside it are this session's. */
	run<R>(fn: () => R): R;
}

/** A connection id that was not released within `leaseTimeoutMs`; its connection was closed. */
export interface LeaseReclaimedEvent {
	/** The first characters of the id, as in errors. */
	connectionId: string;
	pool: string;
	heldMs: number;
}

export interface SqlClientEvents {
	leaseReclaimed: [LeaseReclaimedEvent];
}

export interface SqlClient extends SqlExecutor, ManagedClient {
	/** The pools' name (`pool.name`, default the dialect); replicas' pools are named `<name>/replica-<n>`. */
	readonly name: string;
	/** The dialect, as the manager and metrics label the client. */
	readonly kind: SqlDialect;
	readonly dialect: SqlDialect;
	/** A new read-your-writes caller (see `readYourWritesMs`). */
	session(): SqlSession;
	on<K extends keyof SqlClientEvents>(event: K, listener: (...args: SqlClientEvents[K]) => void): this;
	off<K extends keyof SqlClientEvents>(event: K, listener: (...args: SqlClientEvents[K]) => void): this;
	/** Opens the pools' `min` connections; rejects on the first failure when `failFast`. */
	start(): Promise<void>;
	/** A pinned connection: release it, or `await using` it. */
	acquire(options?: AcquireOptions & { route?: Route }): Promise<SqlConnection>;
	/** Runs `fn` in a transaction on the primary: commit on return, rollback on throw; the connection goes back clean. */
	transaction<R>(fn: (tx: SqlExecutor) => Promise<R>, options?: TransactionOptions): Promise<R>;

	/** Connection-id API for callers that cannot hold an object (workflow engines, HTTP clients). */
	acquireId(options?: AcquireOptions & { route?: Route }): Promise<string>;
	execute<R = Row>(connectionId: string, sql: string, params?: readonly unknown[], options?: QueryOptions): Promise<QueryOutcome<R>>;
	releaseId(connectionId: string): void;

	stats(): SqlClientStats;
	/** The primary's pool labelled `primary`, then each replica's as `replica[0]`, `replica[1]`… */
	pools(): ClientPool[];
	/** Stops routing, closes connection ids' connections, lets statements in flight finish until `timeoutMs`, then closes every pool. */
	close(options?: CloseOptions): Promise<void>;
	/** `close()` with the default timeout, for `await using db = createPostgresClient(…)`. */
	[Symbol.asyncDispose](): Promise<void>;
}

export type SqlDialect = "postgres" | "mysql" | "sqlite";

/** Result of one statement at the driver level. */
export interface DriverResult {
	rows: Row[];
	affectedRows: number;
	/** The id the statement generated (see {@link StatementResult}); read by fetch mode `result`, which drivers run like `all`. */
	insertId?: number | bigint;
}

/**
 * What a backend teaches the generic SQL client. `C` is the driver's connection object.
 * Implementations import their driver (pg, mysql2, node:sqlite) lazily, inside the adapter.
 */
export interface SqlDriver<C, Config> {
	readonly dialect: SqlDialect;
	/** Opens a connection; honours `signal` (connect timeout): the socket is destroyed when it aborts. */
	connect(config: Config, signal: AbortSignal): Promise<C>;
	close(conn: C): Promise<void>;
	/** Cheap liveness check (`SELECT 1`, COM_PING). */
	ping(conn: C, signal: AbortSignal): Promise<void>;
	/**
	 * Makes a returned connection clean (rollback of an open transaction, session reset); throws if
	 * it cannot. A driver that clears the whole session (MySQL `resetSession`) then calls
	 * `setUpSession` (given when the client has session setup: `afterCreate`), so that setup is
	 * applied again instead of silently lost.
	 */
	reset(conn: C, setUpSession?: (conn: C) => Promise<void>): Promise<void>;
	/**
	 * Runs one statement. For `many`, reads at most `limit` rows through a cursor or stream.
	 * With `timeoutMs`, the driver cancels the statement on the server when it elapses and rejects
	 * with `QueryTimeoutError` (./errors.ts); the client closes the connection if no answer comes
	 * within `QUERY_TIMEOUT_GRACE_MS` after that.
	 */
	run(conn: C, sql: string, params: readonly unknown[], mode: FetchMode, limit: number, timeoutMs: number | undefined): Promise<DriverResult>;
	/** Runs one statement for many parameter sets; returns affected rows. */
	runBatch(conn: C, sql: string, paramSets: readonly (readonly unknown[])[], timeoutMs: number | undefined): Promise<number>;
	/** SQL that begins a transaction with these options, in this dialect. */
	beginSql(options: TransactionOptions): string[];
	/**
	 * Optional: commits the transaction open on `conn`, and rejects when the server ended it without
	 * committing (PostgreSQL answers COMMIT in a failed transaction with a rollback, not an error).
	 * Absent: `COMMIT` runs as a statement, for servers that fail a COMMIT they cannot honour.
	 */
	commit?(conn: C, timeoutMs: number | undefined): Promise<void>;
	/** True when the error means the connection is dead (terminated, socket closed, protocol error). */
	isConnectionFault(error: unknown): boolean;
	/** Called for an idle connection's errors: the pool must learn it is dead, and nothing may crash. */
	onDead(conn: C, callback: (error: unknown) => void): void;
	/**
	 * Optional fast path: false when a returned connection is already clean, so `reset` is skipped
	 * (most releases). Absent: `reset` runs on every release.
	 */
	needsReset?(conn: C): boolean;
	/**
	 * Optional: whether the session is inside a transaction now, from what the server reported after
	 * the last statement (PostgreSQL's ReadyForQuery status, MySQL's status flags). A transaction
	 * handle checks it after every statement: a session that left the transaction is refused further work.
	 */
	inTransaction?(conn: C): boolean;
	/**
	 * Optional: asks the server to stop the statement running on `conn` (PostgreSQL's cancel request,
	 * MySQL's KILL QUERY; SQLite stops its host). The statement then fails as the server reports it.
	 * Used when a caller's signal aborts, a transaction times out, and before a busy connection is closed.
	 */
	cancel?(conn: C): Promise<void>;
	/** Optional: the driver's own connection object for a pinned connection's `raw`; the driver then cleans up after what its holder did. */
	raw?(conn: C): unknown;
	/**
	 * Optional: a sure read (see the router) on a per-call connection that is lost runs once more on a
	 * fresh one. SQLite sets it: a host killed from outside is only seen dead after the next request
	 * went to it, and a read repeated on a local file has no effect to duplicate.
	 */
	readonly retryLostReads?: boolean;
	/** Optional: the server's SQLSTATE of a query error (`23505`), shown in QueryFailedError. */
	sqlStateOf?(error: unknown): string | undefined;
}

/** Options every SQL client takes, on top of the backend's own connection config. */
export interface SqlClientOptions<Config> {
	/** The primary (writes, transactions, locking reads). */
	primary: Config;
	/** Read replicas; empty or absent: everything goes to the primary. */
	replicas?: Config[];
	/** How reads pick a replica. Default `round-robin`. */
	replicaSelection?: "round-robin" | "least-busy";
	/** After a caller's write, send that caller's reads to the primary for this long (read-your-writes). 0 (default) disables. */
	readYourWritesMs?: number;
	/** Pool options for each pool (name, min, max, timeouts…); `create`/`destroy`/`validate` are the adapter's. */
	pool?: Omit<PoolOptions<unknown>, "create" | "destroy" | "validate" | "reset" | "classifyError">;
	/** Connection ids not released within this long are reclaimed (connection destroyed, reported as a leak). Default 300 000 ms. */
	leaseTimeoutMs?: number;
	/** Default statement timeout. None by default. */
	statementTimeoutMs?: number;
	/** Session setup on every new connection (search_path, timezone); a throw fails the connection. */
	afterCreate?: (session: SqlExecutor) => Promise<void>;
}
