/**
 * The SQL client, written once for every dialect over a {@link SqlDriver}: one core Pool per
 * server (primary and replicas), read/write routing, pinned connections, transactions,
 * connection ids, statement timeouts and typed errors. See docs/adapters/sql.md.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { EventEmitter } from "node:events";
import { performance } from "node:perf_hooks";
import { durationProblem } from "../../core/duration.ts";
import { ConfigError, type ConfigProblem, LeaseError } from "../../core/errors.ts";
import type { Lease } from "../../core/lease.ts";
import { type AcquireOptions, type CloseOptions, closeTimeout, createPool, type Pool } from "../../core/pool.ts";
import { quoteValue } from "../../core/quote-value.ts";
import { type RunOnLeaseOptions, runOnLease } from "../../core/with-lease.ts";
import type { ClientPool } from "../../manager/client.ts";
import { raceAbort } from "../kit/abortable.ts";
import { ConnectionIds, type IdLease } from "./connection-ids.ts";
import { ConnectionLostError, TransactionClosedError, TransactionTimeoutError } from "./errors.ts";
import { ConnectionExecutor, type ConnectionReturn, PinnedConnection } from "./executor.ts";
import { checkBatchCall, checkCall, checkCallOptions, fetchModeOf, rowLimitOf, shapeResult } from "./fetch.ts";
import { Caller, Router } from "./router.ts";
import { mustDiscard, NO_PARAMS, StatementAborted, StatementRunner } from "./runner.ts";
import { Session, type SessionHost } from "./session.ts";
import type {
	DriverResult,
	QueryOptions,
	QueryOutcome,
	Route,
	Row,
	SqlClient,
	SqlClientEvents,
	SqlClientOptions,
	SqlClientStats,
	SqlConnection,
	SqlDialect,
	SqlDriver,
	SqlExecutor,
	SqlSession,
	TransactionOptions,
} from "./types.ts";

/** Connection ids not released within 5 minutes are reclaimed. */
export const DEFAULT_LEASE_TIMEOUT_MS = 300_000;

/**
 * One entry per option of {@link SqlClientOptions}. An object, not an array, so that `satisfies`
 * checks both ways: a key added to the type and missing here, or listed here and not in the type,
 * is a compile error.
 */
const OPTIONS = {
	primary: true,
	replicas: true,
	replicaSelection: true,
	readYourWritesMs: true,
	pool: true,
	leaseTimeoutMs: true,
	statementTimeoutMs: true,
	afterCreate: true,
} as const satisfies Record<keyof SqlClientOptions<unknown>, true>;

/** The option keys of the generic SQL client ({@link SqlClientOptions}), for adapters that take them next to their own (SQLite). */
export const SQL_CLIENT_OPTION_KEYS: readonly (keyof SqlClientOptions<unknown>)[] = Object.freeze(Object.keys(OPTIONS) as (keyof SqlClientOptions<unknown>)[]);

const CLIENT_OPTION_KEYS: ReadonlySet<string> = new Set(SQL_CLIENT_OPTION_KEYS);

class SqlClientImpl<C, Config> extends EventEmitter<SqlClientEvents> implements SqlClient, SessionHost, ConnectionReturn<C> {
	readonly name: string;
	readonly kind: SqlDialect;
	readonly dialect: SqlDialect;
	readonly #driver: SqlDriver<C, Config>;
	readonly #runner: StatementRunner<C>;
	readonly #router: Router<C>;
	readonly #pools: Pool<C>[];
	readonly #ids: ConnectionIds<C>;
	readonly #callers = new AsyncLocalStorage<Caller>();
	/** Session setup (`pool.afterCreate`, then `afterCreate`) for the driver to apply again after it clears a session; undefined without setup. */
	readonly #setUpSession: ((conn: C, signal?: AbortSignal) => Promise<void>) | undefined;
	/** The caller of calls made outside every session. */
	readonly #anyone = new Caller();
	/** close() was called: a transaction whose connection it closes fails with POOL_CLOSED. */
	#closing = false;

	constructor(driver: SqlDriver<C, Config>, options: SqlClientOptions<Config>) {
		super({ captureRejections: false });
		checkOptions(options);
		this.dialect = driver.dialect;
		this.kind = driver.dialect;
		this.#driver = driver;
		this.#runner = new StatementRunner<C>(driver as SqlDriver<C, unknown>, options.statementTimeoutMs);
		this.#setUpSession = this.#sessionSetup(options);
		const name = options.pool?.name ?? driver.dialect;
		this.name = name;
		const primary = this.#makePool(options, options.primary, name);
		const replicas = (options.replicas ?? []).map((config, i) => this.#makePool(options, config, `${name}/replica-${i + 1}`));
		this.#pools = [primary, ...replicas];
		this.#router = new Router(primary, replicas, driver.dialect, options.replicaSelection === "least-busy", options.readYourWritesMs ?? 0);
		this.#ids = new ConnectionIds<C>(options.leaseTimeoutMs ?? DEFAULT_LEASE_TIMEOUT_MS, (entry) => this.#reclaimed(entry));
	}

	/**
	 * The session setup of a new connection: the raw `pool.afterCreate`, then `afterCreate` with a
	 * session executor; undefined when there is none. Also what a session reset applies again,
	 * bounded by `validateTimeoutMs` like the rest of the reset.
	 */
	#sessionSetup(options: SqlClientOptions<Config>): ((conn: C, signal?: AbortSignal) => Promise<void>) | undefined {
		const setup = options.afterCreate;
		const rawSetup = options.pool?.afterCreate;
		if (setup === undefined && rawSetup === undefined) return undefined;
		return async (conn, signal = AbortSignal.timeout(this.#router.primary.options.validateTimeoutMs)) => {
			await rawSetup?.(conn, signal);
			await setup?.(new ConnectionExecutor(this.#runner, conn, undefined, "session setup"));
		};
	}

	#makePool(options: SqlClientOptions<Config>, config: Config, name: string): Pool<C> {
		const driver = this.#driver;
		const setUpSession = this.#setUpSession;
		const pool: Pool<C> = createPool<C>({
			...options.pool,
			name,
			create: async (signal) => {
				const conn = await driver.connect(config, signal);
				driver.onDead(conn, (error) => pool.invalidate(conn, error));
				return conn;
			},
			destroy: (conn) => driver.close(conn),
			validate: async (conn, signal) => {
				await driver.ping(conn, signal);
				return true;
			},
			afterCreate: setUpSession,
			// The one reset path: the core runs it on every release, bounded by validateTimeoutMs, and closes a connection it fails on.
			reset:
				driver.needsReset === undefined
					? (conn) => driver.reset(conn, setUpSession)
					: (conn) => (driver.needsReset?.(conn) ? driver.reset(conn, setUpSession) : undefined),
			classifyError: (error) => (driver.isConnectionFault(error) ? "connection" : "caller"),
		});
		return pool;
	}

	// ── statements on a pooled connection per call ────────────────────────────────────────────

	// biome-ignore lint/suspicious/noExplicitAny: one implementation behind the typed overloads of SqlExecutor.
	query<R = Row>(sql: string, params?: readonly unknown[], options?: QueryOptions): Promise<any> {
		return this.queryAs(this.#currentCaller(), sql, params, options) as Promise<QueryOutcome<R>>;
	}

	batch(sql: string, paramSets: readonly (readonly unknown[])[], options?: Pick<QueryOptions, "timeoutMs" | "signal">): Promise<number> {
		return this.batchAs(this.#currentCaller(), sql, paramSets, options);
	}

	/**
	 * @internal The hot path: acquire, then the core's runOnLease (release after, destroy when the
	 * statement's error means the connection is lost). An aborted statement keeps its lease until
	 * the server has answered the cancel (`stillRunning` in `#perCall`); a statement never
	 * sent runs once more, on another connection.
	 */
	async queryAs(
		caller: Caller | undefined,
		sql: string,
		params: readonly unknown[] | undefined,
		options: QueryOptions | undefined,
		retried = false,
	): Promise<unknown> {
		if (!retried) checkCall("query", sql, params, options);
		const mode = fetchModeOf(options);
		const limit = rowLimitOf(mode, options);
		const router = this.#router;
		const pool = router.route(sql, options?.route, caller);
		const lease = await router.acquire(pool, options?.route, options?.signal);
		const runner = this.#runner;
		const timeoutMs = options?.timeoutMs ?? runner.statementTimeoutMs;
		let result: DriverResult;
		try {
			result = await runOnLease(
				lease,
				(conn) => {
					// A driver that throws synchronously is wrapped (and classified) like one that rejects.
					let work: Promise<DriverResult>;
					try {
						work = runner.run(conn, sql, params ?? NO_PARAMS, mode, limit, timeoutMs, options?.signal);
					} catch (error) {
						work = Promise.reject(error);
					}
					return work.catch(this.#typed);
				},
				this.#perCall,
			);
		} catch (error) {
			if (error instanceof StatementAborted) throw error.reason;
			// A connection found dead before the statement was sent (its death not yet seen by the pool): nothing ran, so it runs once more, on another; so does a sure read where the driver says reads lost with their connection are safe to repeat.
			if (!retried && !this.#closing && error instanceof ConnectionLostError && (!error.sent || (this.#driver.retryLostReads === true && router.isRead(sql)))) {
				return this.queryAs(caller, sql, params, options, true);
			}
			// The write may have taken effect even though the call failed: its caller reads from the primary either way.
			if (caller !== undefined) this.#noteWrite(caller, pool, sql);
			throw error;
		}
		if (caller !== undefined) this.#noteWrite(caller, pool, sql);
		return shapeResult(result, mode);
	}

	/** @internal */
	async batchAs(
		caller: Caller | undefined,
		sql: string,
		paramSets: readonly (readonly unknown[])[],
		options: Pick<QueryOptions, "timeoutMs" | "signal"> | undefined,
	): Promise<number> {
		checkBatchCall(sql, paramSets, options);
		if (paramSets.length === 0) return 0;
		const router = this.#router;
		const pool = router.route(sql, undefined, caller);
		const lease = await router.acquire(pool, undefined, options?.signal);
		const runner = this.#runner;
		let affected: number;
		try {
			affected = await runOnLease(lease, (conn) => runner.batch(conn, sql, paramSets, options?.timeoutMs, options?.signal), this.#perCall);
		} catch (error) {
			if (error instanceof StatementAborted) throw error.reason;
			if (caller !== undefined) this.#noteWrite(caller, pool, sql);
			throw error;
		}
		if (caller !== undefined) this.#noteWrite(caller, pool, sql);
		return affected;
	}

	/** A driver's raw error as the client's typed one; an aborted statement stays as it is (runOnLease keeps its lease). */
	readonly #typed = (error: unknown): never => {
		throw error instanceof StatementAborted ? error : this.#runner.wrap(error);
	};

	/**
	 * How a per-call statement's lease ends: destroyed when the error means the connection is lost
	 * (mustDiscard, not the pool's classifyError: a statement timeout that closed the connection is
	 * one too), kept while an aborted statement's cancel is unanswered. A late error arrives raw,
	 * hence the wrap (which keeps a typed one as it is).
	 */
	readonly #perCall: RunOnLeaseOptions<C> = {
		isConnectionFault: (error) => mustDiscard(this.#runner.wrap(error)),
		stillRunning: (error) => (error instanceof StatementAborted ? error.outcome : undefined),
	};

	/** A statement that ran on the primary and is not a sure read counts as its caller's write (again at its end: it may have run long). */
	#noteWrite(caller: Caller, pool: Pool<C>, sql: string): void {
		if (pool === this.#router.primary && !this.#router.isRead(sql)) caller.wrote();
	}

	/** The caller whose writes are tracked, or undefined when nothing is tracked (no replicas or no window). */
	#currentCaller(): Caller | undefined {
		return this.#router.tracksWrites ? (this.#callers.getStore() ?? this.#anyone) : undefined;
	}

	// ── pinned connections and transactions ───────────────────────────────────────────────────

	async acquire(options?: AcquireOptions & { route?: Route }): Promise<SqlConnection> {
		const caller = this.#currentCaller();
		const pool = this.#router.routeConnection(options?.route);
		const lease = await pool.acquire(options);
		// A pinned primary connection may write anything: its caller reads from the primary from now on, for the window.
		if (caller !== undefined && pool === this.#router.primary) caller.wrote();
		return new PinnedConnection(this.#runner, lease, this);
	}

	transaction<R>(fn: (tx: SqlExecutor) => Promise<R>, options?: TransactionOptions): Promise<R> {
		return this.transactionAs(this.#currentCaller(), fn, options);
	}

	/** @internal */
	async transactionAs<R>(caller: Caller | undefined, fn: (tx: SqlExecutor) => Promise<R>, options: TransactionOptions | undefined): Promise<R> {
		// Before a connection is taken and BEGIN sent: a TypeError from calling it would come only after that, with no code.
		if (typeof fn !== "function") throw new ConfigError("transaction", [{ path: "fn", message: `must be a function (tx) => …, got ${quoteValue(fn)}` }]);
		checkTransactionOptions(options);
		const timeoutMs = options?.timeoutMs;
		const deadline = timeoutMs === undefined ? undefined : new AbortController();
		const timer = deadline === undefined ? undefined : setTimeout(() => deadline.abort(new TransactionTimeoutError(timeoutMs as number)), timeoutMs);
		const own = options?.signal;
		const signal = deadline === undefined ? own : own === undefined ? deadline.signal : AbortSignal.any([own, deadline.signal]);
		try {
			return await this.#transact(caller, fn, options, signal);
		} catch (error) {
			// Cut by close(): its timeout closed the connection under the transaction, which the server rolled back.
			if (this.#closing && (error instanceof ConnectionLostError || error instanceof LeaseError)) throw new TransactionClosedError(this.name, error);
			throw error;
		} finally {
			clearTimeout(timer);
		}
	}

	async #transact<R>(
		caller: Caller | undefined,
		fn: (tx: SqlExecutor) => Promise<R>,
		options: TransactionOptions | undefined,
		signal: AbortSignal | undefined,
	): Promise<R> {
		const pool = this.#router.routeConnection("primary");
		const lease = await pool.acquire(signal === undefined ? undefined : { signal }).catch((error: unknown) => {
			// The core reports an aborted wait as ACQUIRE_ABORTED "by its signal"; when the signal is the transaction's own deadline, the caller set a timeout, not a signal.
			const reason: unknown = signal?.reason;
			if (reason instanceof TransactionTimeoutError) throw new TransactionTimeoutError(reason.timeoutMs, { waiting: true, cause: error });
			throw error;
		});
		const conn = lease.resource;
		const runner = this.#runner;
		try {
			for (const sql of this.#driver.beginSql(options ?? {})) await runner.run(conn, sql, NO_PARAMS, "none", 0, runner.statementTimeoutMs, signal);
		} catch (error) {
			if (error instanceof StatementAborted) throw this.#abandoned(lease, error);
			const wrapped = runner.wrap(error);
			this.#afterFailure(lease, wrapped);
			throw wrapped;
		}
		const tx = new ConnectionExecutor(runner, conn, lease, "transaction", true, signal);
		let result: R;
		try {
			result = await (signal === undefined ? fn(tx) : untilAborted(fn(tx), signal));
		} catch (error) {
			if (signal?.aborted) {
				// Answered at once; the rollback follows once the statements fn issued have settled (their cancel answered).
				void tx.settled().then(() => {
					tx.close();
					return this.#rollback(lease);
				});
				throw signal.reason;
			}
			tx.close();
			// close() took the connection (its timeout passed, the statement was cancelled and the socket cut): the server rolled back.
			const cut = this.#closing && !lease.active;
			await this.#rollback(lease);
			throw cut ? new TransactionClosedError(this.name, error) : error;
		}
		// Statements fn issued without awaiting them run first, as they were issued before the COMMIT (whose timeout must not count their time).
		await tx.settled();
		tx.close();
		const ended = tx.ended ?? (signal?.aborted ? signal.reason : undefined);
		if (ended !== undefined) {
			// The session left the transaction (fn caught that statement's error), or the deadline passed while fn's last statements ran: nothing is committed.
			await this.#rollback(lease);
			if (caller !== undefined && options?.readOnly !== true) caller.wrote();
			throw ended;
		}
		try {
			// COMMIT gets the ordinary statement timeout, not a short one: a long commit (deferred checks, synchronous replication) is legitimate.
			await runner.commit(conn, runner.statementTimeoutMs);
		} catch (error) {
			// A failed COMMIT (serialization failure, deferred constraint, a transaction the server had already aborted) ended the transaction; reset rolls back whatever is left.
			const wrapped = runner.wrap(error);
			this.#afterFailure(lease, wrapped);
			throw wrapped;
		} finally {
			if (caller !== undefined && options?.readOnly !== true) caller.wrote();
		}
		this.giveBack(lease);
		return result;
	}

	/** Rolls back and returns the connection; a connection that cannot roll back (in validateTimeoutMs) is closed. */
	async #rollback(lease: Lease<C>): Promise<void> {
		try {
			await this.#runner.run(lease.resource, "ROLLBACK", NO_PARAMS, "none", 0, this.#router.primary.options.validateTimeoutMs);
		} catch (error) {
			if (lease.active) lease.destroy(error);
			return;
		}
		this.giveBack(lease);
	}

	// ── connection ids ────────────────────────────────────────────────────────────────────────

	async acquireId(options?: AcquireOptions & { route?: Route }): Promise<string> {
		const pool = this.#router.routeConnection(options?.route);
		const lease = await pool.acquire(options);
		return this.#ids.add(lease, pool, new ConnectionExecutor(this.#runner, lease.resource, lease, "connection id"));
	}

	async execute<R = Row>(connectionId: string, sql: string, params?: readonly unknown[], options?: QueryOptions): Promise<QueryOutcome<R>> {
		const { executor } = this.#ids.get(connectionId);
		return executor.query<R>(sql, params, options);
	}

	releaseId(connectionId: string): void {
		const entry = this.#ids.take(connectionId);
		entry.executor.close();
		this.giveBack(entry.lease);
	}

	#reclaimed(entry: IdLease<C>): void {
		entry.executor.close();
		const heldMs = performance.now() - entry.acquiredAt;
		// Closed, not returned (the holder may still be using it), and counted as the pool's leak (reason `leaked`).
		// Inactive when a connection fault already closed it: the pool no longer knows that lease.
		if (entry.lease.active) entry.pool.reclaim(entry.lease, new LeaseError("connection id not released within leaseTimeoutMs; its connection was closed"));
		const event = { connectionId: `${entry.id.slice(0, 8)}…`, pool: entry.pool.name, heldMs };
		if (this.listenerCount("leaseReclaimed") > 0) this.emit("leaseReclaimed", event);
		else {
			process.emitWarning(
				`pool "${event.pool}": connection id ${event.connectionId} was not released within leaseTimeoutMs (held ${Math.round(heldMs)} ms); its connection was closed. Call releaseId() when done.`,
				{ code: "LIFEGUARD_LEASE_RECLAIMED" },
			);
		}
	}

	// ── sessions (read-your-writes callers) ───────────────────────────────────────────────────

	session(): SqlSession {
		return new Session(this);
	}

	/** @internal */
	runAs<R>(caller: Caller, fn: () => R): R {
		return this.#callers.run(caller, fn);
	}

	// ── returning connections ─────────────────────────────────────────────────────────────────

	/** @internal Returns a connection; the pool's reset hook (the driver's reset, when it says one is needed) makes it clean first, and closes it if that fails. */
	giveBack(lease: Lease<C>): void {
		if (lease.active) lease.release();
	}

	/** A statement its caller's signal aborted: the connection goes back (or is closed) once the server has answered the cancel; the caller gets the signal's reason now. */
	#abandoned(lease: Lease<C>, aborted: StatementAborted): unknown {
		void aborted.outcome.then((error) => (error === undefined ? this.giveBack(lease) : this.#afterFailure(lease, this.#runner.wrap(error))));
		return aborted.reason;
	}

	/** After a failed statement on a per-call lease: a dead connection is closed, a healthy one returned. */
	#afterFailure(lease: Lease<C>, error: unknown): void {
		if (mustDiscard(error)) {
			if (lease.active) lease.destroy(error);
		} else this.giveBack(lease);
	}

	// ── lifecycle ─────────────────────────────────────────────────────────────────────────────

	async start(): Promise<void> {
		await Promise.all(this.#pools.map((pool) => pool.start()));
	}

	pools(): ClientPool[] {
		const router = this.#router;
		return [{ label: "primary", pool: router.primary }, ...router.replicas.map((pool, i) => ({ label: `replica[${i}]`, pool }))];
	}

	stats(): SqlClientStats {
		const router = this.#router;
		return {
			primary: router.primary.stats(),
			replicas: router.replicas.map((pool) => pool.stats()),
			leases: { open: this.#ids.size, reclaimed: this.#ids.reclaimed },
			routed: { ...router.routed },
		};
	}

	[Symbol.asyncDispose](): Promise<void> {
		return this.close();
	}

	async close(options?: CloseOptions): Promise<void> {
		// Checked before anything is stopped: a close() refused for its options must leave the client as it was (connection ids kept, replicas checked).
		closeTimeout(`SQL client ${JSON.stringify(this.name)}: close`, options);
		this.#closing = true;
		this.#router.stop();
		// Nobody can release an id once the client is closing: their connections are closed now rather than waited for.
		for (const entry of this.#ids.clear()) {
			entry.executor.close();
			if (entry.lease.active) entry.lease.destroy();
		}
		await Promise.all(this.#pools.map((pool) => pool.close(options)));
	}
}

const TRANSACTION_KEYS = { isolation: true, readOnly: true, signal: true, timeoutMs: true } as const satisfies Record<keyof TransactionOptions, true>;
const TRANSACTION_OPTION_KEYS: ReadonlySet<string> = new Set(Object.keys(TRANSACTION_KEYS));

function checkTransactionOptions(options: TransactionOptions | undefined): void {
	checkCallOptions("transaction", options, TRANSACTION_OPTION_KEYS);
}

/** Settles with `work`, or rejects with the signal's reason as soon as it aborts. */
function untilAborted<R>(work: Promise<R>, signal: AbortSignal): Promise<R> {
	return raceAbort(work, signal, () => {
		// fn's own rejection, once the abort has been answered, is nobody's to handle.
		work.catch(() => {});
		return signal.reason;
	});
}

function checkOptions<Config>(options: SqlClientOptions<Config>): void {
	const problems: ConfigProblem[] = [];
	if (options === null || typeof options !== "object")
		throw new ConfigError("createSqlClient", [{ path: "options", message: "expected an object with `primary`" }]);
	for (const key of Object.keys(options)) {
		if (!CLIENT_OPTION_KEYS.has(key) && (options as unknown as Record<string, unknown>)[key] !== undefined) {
			problems.push({ path: key, message: `unknown option; known: ${[...CLIENT_OPTION_KEYS].join(", ")}` });
		}
	}
	if (options.primary === undefined || options.primary === null) problems.push({ path: "primary", message: "required: how to reach the primary server" });
	if (options.replicas !== undefined && !Array.isArray(options.replicas)) problems.push({ path: "replicas", message: "must be an array of server configs" });
	if (options.replicaSelection !== undefined && options.replicaSelection !== "round-robin" && options.replicaSelection !== "least-busy") {
		problems.push({ path: "replicaSelection", message: `must be "round-robin" or "least-busy", got ${quoteValue(options.replicaSelection)}` });
	}
	const durations = [
		["readYourWritesMs", options.readYourWritesMs, true],
		["leaseTimeoutMs", options.leaseTimeoutMs, false],
		["statementTimeoutMs", options.statementTimeoutMs, false],
	] as const;
	for (const [path, value, allowZero] of durations) {
		const problem = value === undefined ? undefined : durationProblem(value, { allowZero });
		if (problem !== undefined) problems.push({ path, message: problem });
	}
	if (options.afterCreate !== undefined && typeof options.afterCreate !== "function")
		problems.push({ path: "afterCreate", message: "must be a function (session) => Promise" });
	if (problems.length > 0) throw new ConfigError("createSqlClient", problems);
}

/**
 * Creates a SQL client over a dialect's driver. Adapters call this (`createPostgresClient`,
 * `createMysqlClient`, …); users normally call the adapter's function.
 */
export function createSqlClient<C, Config>(driver: SqlDriver<C, Config>, options: SqlClientOptions<Config>): SqlClient {
	return new SqlClientImpl<C, Config>(driver, options);
}
