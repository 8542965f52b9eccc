/**
 * mysql2's pool on the lifeguard core. Change `mysql.createPool(options)` to `createPool(options)`
 * from `lifeguard/compat/mysql2` and keep your code: the same options (every connection option
 * goes to mysql2 as it is), `getConnection()` with `release()`, `query()`, `execute()`, `end()`,
 * the events `acquire`, `connection`, `enqueue`, `release`, mysql2's error messages, and
 * `pool.promise()` (mysql2's own promise wrapper). The connections are mysql2's
 * `PoolConnection`s; the core lends them (never one to two borrowers, never more than
 * `connectionLimit`), and `pool.core` gives its statistics, health and events.
 * docs/compat-mysql2.md lists every difference and why.
 */
import { tracingChannel } from "node:diagnostics_channel";
import type { EventEmitter } from "node:events";
import { createRequire } from "node:module";
import type { ConnectionOptions, Pool as Mysql2Pool, PoolOptions as Mysql2PoolOptions, PoolConnection, Query, QueryError } from "mysql2";
import type { Pool as PromisePool } from "mysql2/promise";
import { DriverMissingError } from "../adapters/sql/errors.ts";
import { ErrorCode, LifeguardError } from "../core/errors.ts";
import type { Lease } from "../core/lease.ts";
import { type CloseOptions, type Pool as CorePool, closeTimeout, createPool as createCorePool } from "../core/pool.ts";
import { type ClientKind, ClientKind as Kind, type ManagedClient } from "../manager/client.ts";
import { CheckoutQueue } from "./checkout.ts";
import { ManagedCompatPool } from "./managed.ts";

/** mysql2's pool messages, word for word: callers match on them. */
export const Mysql2PoolMessage = {
	closed: "Pool is closed.",
	noConnections: "No connections available.",
	queueLimit: "Queue limit reached.",
} as const;

/** mysql2's pool options, plus two lifeguard extensions. Every other key is a connection option passed to mysql2. */
export interface PoolOptions extends Mysql2PoolOptions {
	/** lifeguard extension: the pool's name in errors, events and metrics (`pool.core.name`). */
	name?: string;
	/**
	 * lifeguard extension: how long `getConnection()` (and so `query()`, `execute()`) waits for a
	 * connection before failing with POOL_TIMEOUT. Default: no limit, as in mysql2.
	 */
	acquireTimeout?: number;
}

/** What the drop-in uses of mysql2's connection internals. */
interface ConnectionInternals {
	_pool: unknown;
	_released: boolean;
	_fatalError: Error | null;
	_closing?: boolean;
	lastActiveTime: number;
	_realEnd(callback: (error?: Error) => void): void;
	connect(callback: (error: Error | null) => void): void;
	reset(callback: (error: Error | null) => void): void;
	destroy(): void;
	query(command: unknown): EventEmitter;
	execute(sql: unknown, values: unknown, callback: (error: QueryError | null, rows: unknown, fields: unknown) => void): EventEmitter;
}

type Connection = PoolConnection & ConnectionInternals;
type GetConnectionCallback = (error: NodeJS.ErrnoException | null, connection?: PoolConnection) => void;

interface Mysql2Module {
	PoolConnection: new (pool: unknown, options: { config: unknown }) => Connection;
	ConnectionConfig: (new (options: ConnectionOptions) => ConnectionConfigInstance) & { parseUrl(url: string): ConnectionOptions };
	createQuery(sql: unknown, values: unknown, callback: unknown, config: unknown): Query & EventEmitter & { namedPlaceholders?: boolean; onResult?: unknown };
	format(sql: string, values: unknown, stringifyObjects?: boolean, timezone?: string): string;
	escape(value: unknown, stringifyObjects?: boolean, timezone?: string): string;
	escapeId(value: unknown, forbidQualified?: boolean): string;
}

interface ConnectionConfigInstance {
	pool?: unknown;
	connectTimeout: number;
	namedPlaceholders?: boolean;
	stringifyObjects?: boolean;
	timezone?: string;
	trace?: boolean;
	database?: string;
	socketPath?: string;
	host?: string;
	port?: number;
}

/** mysql2's pool settings after its defaults, as `pool.config` shows them. */
export interface PoolConfig {
	connectionConfig: ConnectionConfigInstance;
	waitForConnections: boolean;
	connectionLimit: number;
	maxIdle: number;
	idleTimeout: number;
	queueLimit: number;
	resetOnRelease: boolean;
}

/** mysql2's pool events. */
export interface Mysql2PoolEvents {
	/** A connection was handed out (from the idle list, or new). */
	acquire: [connection: PoolConnection];
	/** A new connection was opened. */
	connection: [connection: PoolConnection];
	/** A caller had to wait: every connection is in use. */
	enqueue: [];
	/** A released connection went back to the idle list (one handed straight to a waiting caller emits nothing, as in mysql2). */
	release: [connection: PoolConnection];
}

/** mysql2 checks idle connections this often (its idle-removal timer). */
const IDLE_CHECK_MS = 1_000;
/** mysql2's own connectTimeout fires first with its error; the core's create deadline is a backstop just after it. */
const BACKSTOP_MS = 1_000;
/** mysql2 leaves unlimited pools unlimited; the core needs a number. */
const UNLIMITED = Number.MAX_SAFE_INTEGER;
const LIFEGUARD_OPTIONS = new Set(["name", "acquireTimeout"]);

const requireCjs = createRequire(import.meta.url);

/**
 * mysql2's tracing channel for a pool checkout (its lib/tracing.js): APM code subscribed to it
 * sees the drop-in's checkouts as it sees mysql2's. The connections' own channels
 * (`mysql2:query`, `mysql2:execute`, `mysql2:connect`) are mysql2's already.
 */
const poolConnectChannel = tracingChannel<unknown, PoolConnectContext>("mysql2:pool:connect");

/** What mysql2 puts in a `mysql2:pool:connect` context. */
interface PoolConnectContext {
	database: string;
	serverAddress: string;
	serverPort: number | undefined;
}

let mysql2Module: Mysql2Module | undefined;

function loadMysql2(): Mysql2Module {
	if (mysql2Module !== undefined) return mysql2Module;
	try {
		mysql2Module = requireCjs("mysql2") as Mysql2Module;
		return mysql2Module;
	} catch (error) {
		throw new DriverMissingError("mysql2", "compat/mysql2", error);
	}
}

/**
 * mysql2's callback `Pool` backed by a lifeguard pool (`pool.core`). `pool.promise()` returns
 * mysql2's own `PromisePool` around it.
 */
export class Pool extends ManagedCompatPool<Connection> {
	/** The lifeguard pool underneath: `stats()`, `health()`, CMAP events, `PoolManager.add()`. */
	readonly core: CorePool<Connection>;
	/** The pool settings, as mysql2's `pool.config`. */
	readonly config: PoolConfig;
	/** True once `end()` was called. */
	_closed = false;
	readonly #mysql2: Mysql2Module;
	/** The callers waiting in the core's queue; a failed connection attempt fails the first of them, as mysql2 fails its caller. */
	readonly #checkouts: CheckoutQueue<Connection, GetConnectionCallback>;
	/** Idle connections, oldest first: the order of the core's idle list (released last in, lent last in first out). */
	readonly #idle = new Set<Connection>();
	/**
	 * Opened and not yet handed out: the first handout emits `connection`. Kept here, not on the
	 * connection: a property of ours would give our connections another hidden class than
	 * mysql2's own, and mysql2's code would turn polymorphic in a process that has both.
	 */
	readonly #fresh = new Set<Connection>();
	readonly #acquireTimeout: number | undefined;
	readonly #max: number;
	/** Idle connections are tracked only for mysql2's idle removal, which runs when `maxIdle < connectionLimit`. */
	readonly #trackIdle: boolean;
	#idleTimer: NodeJS.Timeout | undefined;

	constructor(options: PoolOptions | string) {
		super();
		this.#mysql2 = loadMysql2();
		const parsed = typeof options === "string" ? this.#mysql2.ConnectionConfig.parseUrl(options) : options;
		const connectionOptions = Object.fromEntries(Object.entries(parsed).filter(([key]) => !LIFEGUARD_OPTIONS.has(key))) as ConnectionOptions;
		this.config = resolveConfig(parsed, new this.#mysql2.ConnectionConfig(connectionOptions));
		this.config.connectionConfig.pool = this;
		this.#acquireTimeout = (parsed as PoolOptions).acquireTimeout;
		const c = this.config;
		const max = c.connectionLimit === 0 ? UNLIMITED : c.connectionLimit;
		this.#max = max;
		this.#trackIdle = c.maxIdle < c.connectionLimit;
		this.core = createCorePool<Connection>({
			name: (parsed as PoolOptions).name,
			create: (signal) => this.#open(signal),
			destroy: (connection) => this.#close(connection),
			reset: c.resetOnRelease ? (connection) => this.#reset(connection) : undefined,
			max,
			// mysql2 opens a connection per caller at once and fails the caller whose connection failed (CheckoutQueue).
			maxConnecting: max,
			createRetryInitialMs: 1,
			createTimeoutMs: c.connectionConfig.connectTimeout + BACKSTOP_MS,
			acquireTimeoutMs: this.#acquireTimeout ?? Number.POSITIVE_INFINITY,
			// mysql2's idle removal runs on its own timer (below); the core does not evict, nor retire for age.
			idleTimeoutMs: 0,
			maxLifetimeMs: 0,
			idleOrder: "lifo",
		});
		this.#checkouts = new CheckoutQueue<Connection, GetConnectionCallback>(this.core, {
			handOut: (lease, callback, queued) => this.#handOut(lease, callback, queued),
			// mysql2 hands a released connection to the next caller on the next tick.
			handOffInRelease: false,
			fail: (callback, error) => callback(error),
			translate,
		});
		if (this.#trackIdle) this.#scheduleIdleRemoval();
	}

	// ── borrowing ────────────────────────────────────────────────────────────────────────────

	/** Hands a connection to `callback(err, connection)`; give it back with `connection.release()`. */
	getConnection(callback: GetConnectionCallback): void {
		// As mysql2: traced only while someone subscribes (a getter per checkout otherwise).
		if (!poolConnectChannel.hasSubscribers) return this.#getConnection(callback);
		const c = this.config.connectionConfig;
		const context: PoolConnectContext = c.socketPath
			? { database: c.database || "", serverAddress: c.socketPath, serverPort: undefined }
			: { database: c.database || "", serverAddress: c.host || "localhost", serverPort: c.port || 3306 };
		poolConnectChannel.traceCallback(this.#getConnection, 0, context, this, callback);
	}

	/** getConnection without the tracing: mysql2's `_getConnection`. */
	#getConnection(callback: GetConnectionCallback): void {
		if (this._closed) {
			process.nextTick(() => callback(new Error(Mysql2PoolMessage.closed)));
			return;
		}
		const core = this.core;
		const idle = core.idleCount > 0 && core.pendingCount === 0;
		if (!idle && core.size >= this.#max) {
			if (!this.config.waitForConnections) {
				process.nextTick(() => callback(new Error(Mysql2PoolMessage.noConnections)));
				return;
			}
			if (this.config.queueLimit && this.#checkouts.waiting >= this.config.queueLimit) return callback(new Error(Mysql2PoolMessage.queueLimit));
			this.emit("enqueue");
			return this.#checkouts.wait(callback, true);
		}
		if (idle) return this.#checkouts.lendIdle(callback);
		this.#checkouts.wait(callback, false);
	}

	/** Called by `connection.release()`: the connection goes back to the pool (reset first with `resetOnRelease`). */
	releaseConnection(connection: PoolConnection): void {
		const conn = connection as Connection;
		const lease = this.core.leaseOf(conn);
		if (lease === undefined || !lease.active) return;
		if (!conn._pool) return lease.destroy(conn._fatalError ?? undefined);
		const idleBefore = this.core.idleCount;
		lease.release();
		// Handed straight to a waiting caller, or still being reset: not idle, so no `release` (mysql2 emits it only for the idle list).
		if (this.core.idleCount > idleBefore) {
			if (this.#trackIdle) this.#idle.add(conn);
			this.emit("release", conn);
		}
	}

	/**
	 * Runs one query on a connection taken for it; returns mysql2's Query (an event emitter with
	 * `.stream()`), as mysql2 does. A read-only error (failover) destroys the connection.
	 */
	query(sql: unknown, values?: unknown, callback?: unknown): Query {
		const command = this.#mysql2.createQuery(sql, values, callback, this.config.connectionConfig);
		if (command.namedPlaceholders === undefined) command.namedPlaceholders = this.config.connectionConfig.namedPlaceholders;
		this.getConnection((error, connection) => {
			const onResult = command.onResult as ((error: unknown) => void) | undefined;
			if (error || connection === undefined) {
				if (typeof onResult === "function") onResult(error);
				else command.emit("error", error);
				return;
			}
			const conn = connection as Connection;
			try {
				let queryError: unknown = null;
				if (typeof onResult === "function") {
					command.onResult = (err: unknown, rows: unknown, fields: unknown) => {
						queryError = err || null;
						(onResult as (e: unknown, r: unknown, f: unknown) => void)(err, rows, fields);
					};
				} else {
					command.once("error", (err: unknown) => (queryError = err));
				}
				conn.query(command).once("end", () => {
					if (isReadOnlyError(queryError)) conn.destroy();
					else conn.release();
				});
			} catch (err) {
				conn.release();
				if (typeof command.onResult === "function") (command.onResult as (e: unknown) => void)(err);
				else command.emit("error", err);
			}
		});
		return command;
	}

	/** Runs one prepared statement on a connection taken for it, as mysql2's `pool.execute`. */
	execute(sql: unknown, values?: unknown, callback?: unknown): void {
		if (typeof values === "function") {
			callback = values;
			values = [];
		}
		const cb = callback as (error: unknown, rows?: unknown, fields?: unknown) => void;
		this.getConnection((error, connection) => {
			if (error || connection === undefined) return cb(error);
			const conn = connection as Connection;
			try {
				conn
					.execute(sql, values, (err, rows, fields) => {
						if (isReadOnlyError(err)) conn.destroy();
						cb(err, rows, fields);
					})
					.once("end", () => conn.release());
			} catch (err) {
				conn.release();
				cb(err);
			}
		});
	}

	/**
	 * Closes the pool: waiting callers fail with "Pool is closed.", every connection is ended
	 * (QUIT after its current command, as mysql2 does), then `callback` runs.
	 */
	end(callback?: (error?: Error | null) => void): void {
		this._closed = true;
		clearTimeout(this.#idleTimer);
		const cb =
			typeof callback === "function"
				? callback
				: (error?: Error | null) => {
						if (error) throw error;
					};
		// mysql2 ends checked-out connections too: their borrowers' next command fails, their release is a no-op.
		this.core.close({ timeoutMs: 1 }).then(() => cb(null));
	}

	/** mysql2's promise wrapper around this pool (`PromisePool`), with the given Promise implementation. */
	promise(promiseImpl?: PromiseConstructor): PromisePool {
		const wrapper = (requireCjs("mysql2/promise") as { PromisePool: new (pool: Pool, p?: PromiseConstructor) => PromisePool }).PromisePool;
		return new wrapper(this, promiseImpl);
	}

	format(sql: string, values?: unknown): string {
		return this.#mysql2.format(sql, values, this.config.connectionConfig.stringifyObjects, this.config.connectionConfig.timezone);
	}

	escape(value: unknown): string {
		return this.#mysql2.escape(value, this.config.connectionConfig.stringifyObjects, this.config.connectionConfig.timezone);
	}

	escapeId(value: unknown): string {
		return this.#mysql2.escapeId(value, false);
	}

	[Symbol.dispose](): void {
		if (!this._closed) this.end();
	}

	// ── ManagedClient: what the manager, metrics and health endpoints read ───────────────────

	get kind(): ClientKind {
		return Kind.mysql;
	}

	/**
	 * `end()` with a deadline: unlike `end()`, connections checked out may finish their work
	 * until `timeoutMs` before they are ended.
	 */
	close(options?: CloseOptions): Promise<void> {
		try {
			closeTimeout("mysql2 pool: close", options);
		} catch (error) {
			return Promise.reject(error);
		}
		this._closed = true;
		clearTimeout(this.#idleTimer);
		return this.core.close(options);
	}

	/** Called by a connection that failed, ended or was destroyed: it leaves the pool now (idle) or when its borrower is done. */
	_removeConnection(connection: PoolConnection): void {
		const conn = connection as Connection;
		this.#idle.delete(conn);
		const lease = this.core.leaseOf(conn);
		if (lease !== undefined) lease.destroy(conn._fatalError ?? undefined);
		else this.core.invalidate(conn, conn._fatalError ?? undefined);
	}

	// ── internals ────────────────────────────────────────────────────────────────────────────

	#handOut(lease: Lease<Connection>, callback: GetConnectionCallback, queued: boolean): void {
		const conn = lease.resource;
		if (this.#trackIdle) this.#idle.delete(conn);
		const isNew = this.#fresh.size > 0 && this.#fresh.delete(conn);
		if (isNew) this.emit("connection", conn);
		// mysql2 emits `acquire` for an idle or a new connection, not for one a release hands straight to a waiting caller.
		if (isNew || !queued) this.emit("acquire", conn);
		conn._released = false;
		callback(null, conn);
	}

	#open(signal: AbortSignal): Promise<Connection> {
		const c = this.config.connectionConfig;
		// A copy per connection: commands such as changeUser mutate their connection's config (mysql2 does the same).
		const config = Object.create(Object.getPrototypeOf(c), Object.getOwnPropertyDescriptors(c));
		const conn = new this.#mysql2.PoolConnection(this, { config });
		return new Promise<Connection>((resolve, reject) => {
			const abort = () => conn.destroy();
			signal.addEventListener("abort", abort, { once: true });
			conn.connect((error) => {
				signal.removeEventListener("abort", abort);
				if (error) {
					this.#checkouts.connectFailed(error);
					return reject(error);
				}
				if (this._closed) return reject(new Error(Mysql2PoolMessage.closed));
				this.#fresh.add(conn);
				resolve(conn);
			});
		});
	}

	#close(conn: Connection): Promise<void> {
		this.#idle.delete(conn);
		this.#fresh.delete(conn);
		// Detached first, so that its 'end' does not come back to the pool.
		conn._pool = null;
		if (!this._closed) {
			conn.destroy();
			return Promise.resolve();
		}
		return new Promise<void>((resolve) => conn._realEnd(() => resolve()));
	}

	#reset(conn: Connection): Promise<void> {
		return new Promise<void>((resolve, reject) =>
			conn.reset((error) => {
				if (error) return reject(error);
				// Once reset it goes to the next caller or the idle list: only the latter is mysql2's `release`.
				queueMicrotask(() => {
					if (this.core.leaseOf(conn) !== undefined || this._closed) return;
					if (this.#trackIdle) this.#idle.add(conn);
					this.emit("release", conn);
				});
				resolve();
			}),
		);
	}

	/** mysql2's idle removal: every second, close the oldest idle connections beyond `maxIdle` or idle longer than `idleTimeout`. */
	#scheduleIdleRemoval(): void {
		this.#idleTimer = setTimeout(() => {
			const { maxIdle, idleTimeout } = this.config;
			for (;;) {
				const oldest = this.#idle.values().next().value;
				if (oldest === undefined) break;
				if (this.#idle.size <= maxIdle && Date.now() - oldest.lastActiveTime <= idleTimeout) break;
				this.#idle.delete(oldest);
				// The core's idle list has the same order: its oldest is this one.
				if (!this.core.evictOneIdle()) break;
			}
			this.#scheduleIdleRemoval();
		}, IDLE_CHECK_MS);
		this.#idleTimer.unref();
	}
}

/**
 * What `createPool` returns, typed as mysql2's own `Pool` (so that it goes wherever a mysql2 pool
 * is expected: Kysely's MysqlDialect, drizzle({ client })), plus `core` and the ManagedClient
 * members (`name`, `kind`, `pools()`, `start()`, `close({ timeoutMs })`, `Symbol.asyncDispose`).
 */
export type CompatPool = Mysql2Pool &
	ManagedClient & {
		/** The lifeguard pool underneath: `stats()`, `health()`, CMAP events, `PoolManager.add()`. */
		readonly core: CorePool<PoolConnection>;
	};

/** Creates a pool with mysql2's API on the lifeguard core: `createPool(options)`, as `mysql.createPool`. */
export function createPool(options: PoolOptions | string): CompatPool {
	return new Pool(options) as unknown as CompatPool;
}

/** mysql2's own helpers, so that code using them through the same import keeps working. */
export function format(sql: string, values?: unknown, stringifyObjects?: boolean, timezone?: string): string {
	return loadMysql2().format(sql, values, stringifyObjects, timezone);
}

function escapeValue(value: unknown, stringifyObjects?: boolean, timezone?: string): string {
	return loadMysql2().escape(value, stringifyObjects, timezone);
}

export { escapeValue as escape };

export function escapeId(value: unknown, forbidQualified?: boolean): string {
	return loadMysql2().escapeId(value, forbidQualified);
}

/** mysql2's `createConnection`: a single connection is not pooled, so it is mysql2's own. */
export function createConnection(options: ConnectionOptions | string): ReturnType<typeof import("mysql2").createConnection> {
	return (loadMysql2() as unknown as typeof import("mysql2")).createConnection(options as ConnectionOptions);
}

export default { createPool, Pool, createConnection, format, escape: escapeValue, escapeId };

/** mysql2's PoolConfig rules: `isNaN` fallbacks and `Boolean` coercions, word for word in effect. */
function resolveConfig(options: PoolOptions, connectionConfig: ConnectionConfigInstance): PoolConfig {
	const number = (value: unknown, fallback: number) => (Number.isNaN(Number(value)) || value === undefined ? fallback : Number(value));
	const connectionLimit = number(options.connectionLimit, 10);
	return {
		connectionConfig,
		waitForConnections: options.waitForConnections === undefined ? true : Boolean(options.waitForConnections),
		connectionLimit,
		maxIdle: number(options.maxIdle, connectionLimit),
		idleTimeout: number(options.idleTimeout, 60_000),
		queueLimit: number(options.queueLimit, 0),
		resetOnRelease: options.resetOnRelease === undefined ? false : Boolean(options.resetOnRelease),
	};
}

/** mysql2's read-only errors (a failover promoted another server): the connection is destroyed, not reused. */
function isReadOnlyError(error: unknown): boolean {
	const errno = (error as { errno?: number } | null)?.errno;
	// ER_OPTION_PREVENTS_STATEMENT, ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION, ER_READ_ONLY_MODE
	return errno === 1290 || errno === 1792 || errno === 1836;
}

function translate(error: unknown): Error {
	if (error instanceof LifeguardError && error.code === ErrorCode.POOL_CLOSED) return new Error(Mysql2PoolMessage.closed);
	return error instanceof Error ? error : new Error(String(error));
}
