/**
 * node-postgres' `pg.Pool` on the lifeguard core. Change `new pg.Pool(config)` to
 * `new Pool(config)` from `lifeguard/compat/pg` and keep your code: the same options and
 * defaults, `connect()`, `query()`, `end()`, events, counters and error messages. Underneath,
 * the core lends the clients (never one to two borrowers, never more than `max`), and
 * `pool.core` gives its statistics, health and events. docs/compat-pg.md lists every
 * difference and why.
 */
import { createRequire } from "node:module";
import type {
	ClientBase,
	ClientConfig,
	Client as PgClient,
	PoolClient,
	QueryArrayConfig,
	QueryArrayResult,
	QueryConfig,
	QueryConfigValues,
	QueryResult,
	QueryResultRow,
	Submittable,
} from "pg";
import { DriverMissingError } from "../adapters/sql/errors.ts";
import { ErrorCode, LifeguardError, PoolTimeoutError } from "../core/errors.ts";
import type { Lease } from "../core/lease.ts";
import { type CloseOptions, type Pool as CorePool, closeTimeout, createPool as createCorePool } from "../core/pool.ts";
import { type ClientKind, ClientKind as Kind } from "../manager/client.ts";
import { CheckoutQueue } from "./checkout.ts";
import { ManagedCompatPool } from "./managed.ts";

/** pg-pool's messages, word for word: callers and libraries match on them. */
export const PgPoolMessage = {
	ended: "Cannot use a pool after calling end on the pool",
	endTwice: "Called end on pool more than once",
	connectTimeout: "timeout exceeded when trying to connect",
	connectionTimeout: "Connection terminated due to connection timeout",
	doubleRelease: "Release called on client which has already been released to the pool.",
	functionAsQuery: "Passing a function as the first parameter to pool.query is not supported",
} as const;

/** A client's constructor, as pg-pool takes it (`Client` option or second argument). */
export type ClientConstructor = new (config?: PoolConfig) => PgClient;

/** pg-pool's options; every other key is passed to each client (host, user, ssl, statement_timeout…). */
export interface PoolConfig extends ClientConfig {
	/** Most clients at once. Default 10 (`poolSize` is read too, as pg-pool does). */
	max?: number;
	/** Idle clients are not closed for idleness while the pool has this many or fewer. Default 0; clients are not pre-opened. */
	min?: number;
	/** An idle client above `min` is closed after this long. Default 10 000; 0 keeps idle clients forever. */
	idleTimeoutMillis?: number;
	/** How long `connect()` waits for a client (a queued wait or a new connection). Default 0: no limit on the wait (lifeguard bounds one connection attempt at 10 s). */
	connectionTimeoutMillis?: number;
	/** A client is closed after this many checkouts. Default Infinity. */
	maxUses?: number;
	/** A client is closed once this old (when idle, or when released). Default 0: no limit. */
	maxLifetimeSeconds?: number;
	/** Idle clients do not keep the process alive. Default false. */
	allowExitOnIdle?: boolean;
	/** The client class. Default pg's `Client`. */
	Client?: ClientConstructor;
	/** The Promise implementation of every promise the pool returns. Default the global Promise. */
	Promise?: PromiseConstructorLike;
	/** Debug logger, called with pg-pool's messages. Default none. */
	log?: (...messages: unknown[]) => void;
	/** Runs once on each new client before its first checkout; a rejection fails that checkout and closes the client. */
	onConnect?: (client: ClientBase) => void | Promise<void>;
	/** Checks each new client before its first checkout; an error fails that checkout and closes the client. */
	verify?: (client: PoolClient, done: (error?: Error) => void) => void;
	/** pg-pool's old name of `max`. */
	poolSize?: number;
	/** lifeguard extension: the pool's name in errors, events and metrics (`pool.core.name`). */
	name?: string;
}

/** The options after pg-pool's defaults, as `pool.options` shows them. */
export interface ResolvedPoolConfig extends PoolConfig {
	max: number;
	min: number;
	maxUses: number;
	allowExitOnIdle: boolean;
	maxLifetimeSeconds: number;
	idleTimeoutMillis: number;
}

/** The pool's events, as pg-pool emits them. */
export interface PgPoolEvents {
	/** A new client connected (before its first `acquire`). */
	connect: [client: PoolClient];
	/** A client was checked out. */
	acquire: [client: PoolClient];
	/** A client was given back; `error` is what `release(error)` was called with. */
	release: [error: Error | boolean | undefined, client: PoolClient];
	/** A client was closed and left the pool. */
	remove: [client: PoolClient];
	/** An idle client failed (the server ended it, the network dropped); it has already left the pool. */
	error: [error: Error, client: PoolClient];
}

type Callback<R> = (error: Error | undefined, result?: R) => void;
type ConnectCallback = (error: Error | undefined, client: PoolClient | undefined, release: (error?: Error | boolean) => void) => void;

/** What lifeguard needs of a pg client beyond its public typings. */
interface ClientInternals {
	_queryable?: boolean;
	_ending?: boolean;
	_poolUseCount?: number;
	connection?: { stream: { destroy(): void } };
	release?: (error?: Error | boolean) => void;
	ref?: () => void;
	unref?: () => void;
	[IDLE_LISTENER]?: (error: Error) => void;
	/** Connected and not yet checked out: its first checkout emits `connect`. */
	[FRESH]?: boolean;
}

/** The pool's listener for an idle client's errors, kept on the client as pg-pool keeps it in its idle list. */
const IDLE_LISTENER = Symbol("lifeguard.pgIdleListener");
const FRESH = Symbol("lifeguard.pgFresh");

const NOOP = (): void => {};

/** Without `connectionTimeoutMillis`, one connection attempt is still bounded: a server that accepts but never answers must not hang its caller. */
const CONNECT_BOUND_MS = 10_000;
/** A new client's own timeout fires first (with pg's message); the core's acquire deadline is a backstop after it. */
const BACKSTOP_MS = 1_000;
/** `end()` waits for every checked-out client, as pg-pool does: the longest timer Node keeps. */
const END_WAIT_MS = 2 ** 31 - 1;

const requireCjs = createRequire(import.meta.url);

/**
 * A pg-pool `Pool` backed by a lifeguard pool (`pool.core`). Clients are pg clients, created
 * with the pool's config; checked out, they carry `release()` as with pg-pool.
 */
export class Pool extends ManagedCompatPool<PgClient> {
	/** The lifeguard pool underneath: `stats()`, `health()`, CMAP events, `PoolManager.add()`. */
	readonly core: CorePool<PgClient>;
	/** The options with pg-pool's defaults filled in; the password is not enumerable. */
	readonly options: ResolvedPoolConfig;
	readonly Client: ClientConstructor;
	readonly Promise: PromiseConstructorLike;
	readonly log: (...messages: unknown[]) => void;
	/** True once `end()` was called. */
	ending = false;
	/** True once `end()` has closed every client. */
	ended = false;
	/** The callers waiting in the core's queue; a failed connection attempt fails the first of them, as pg-pool fails its caller. */
	readonly #checkouts: CheckoutQueue<PgClient, ConnectCallback>;
	readonly #expired = new Set<PgClient>();
	readonly #connectMs: number;

	constructor(config?: PoolConfig, Client?: ClientConstructor) {
		super();
		this.options = resolveConfig(config);
		this.log = this.options.log ?? NOOP;
		this.Client = this.options.Client ?? Client ?? loadClient();
		this.Promise = this.options.Promise ?? Promise;
		const o = this.options;
		this.#connectMs = o.connectionTimeoutMillis || CONNECT_BOUND_MS;
		this.core = createCorePool<PgClient>({
			name: o.name,
			create: (signal) => this.#connectClient(signal),
			destroy: (client) => this.#endClient(client),
			ref: (client) => (client as ClientInternals).ref?.(),
			unref: (client) => (client as ClientInternals).unref?.(),
			allowExitOnIdle: o.allowExitOnIdle,
			min: Math.min(o.min, o.max),
			max: o.max,
			// pg-pool opens a client per caller at once and fails the caller whose attempt failed (CheckoutQueue); the
			// backoff starts at 1 ms so a lone failure costs no latency, and still grows when every attempt fails.
			maxConnecting: o.max,
			createRetryInitialMs: 1,
			createTimeoutMs: this.#connectMs + BACKSTOP_MS,
			acquireTimeoutMs: Number.POSITIVE_INFINITY,
			idleTimeoutMs: Math.max(Number(o.idleTimeoutMillis) || 0, 0),
			maxLifetimeMs: o.maxLifetimeSeconds > 0 ? o.maxLifetimeSeconds * 1000 : 0,
			maxLifetimeJitterMs: 0,
			idleOrder: "lifo",
		});
		this.#checkouts = new CheckoutQueue<PgClient, ConnectCallback>(this.core, {
			handOut: (lease, callback) => this.#handOut(lease, callback),
			// pg-pool hands a released client to the next caller inside release().
			handOffInRelease: true,
			fail: (callback, error) => callback(error, undefined, NOOP),
			translate,
		});
	}

	/** Typed listeners for pg-pool's events; any other event name is accepted as EventEmitter accepts it. */
	override on<K extends keyof PgPoolEvents>(event: K, listener: (...args: PgPoolEvents[K]) => void): this;
	override on(event: string | symbol, listener: (...args: never[]) => void): this;
	override on(event: string | symbol, listener: (...args: never[]) => void): this {
		return super.on(event, listener as (...args: unknown[]) => void);
	}

	// ── counters ─────────────────────────────────────────────────────────────────────────────

	/** Clients in the pool: checked out, idle or connecting. */
	get totalCount(): number {
		return this.core.size;
	}

	/** Idle clients ready to check out. */
	get idleCount(): number {
		return this.core.idleCount;
	}

	/** Callers waiting for a client to be released (not those whose new client is connecting). */
	get waitingCount(): number {
		return this.#checkouts.waiting;
	}

	/** Clients past `maxLifetimeSeconds`, closed when next idle or released. */
	get expiredCount(): number {
		return this.#expired.size;
	}

	// ── checkout ─────────────────────────────────────────────────────────────────────────────

	/** Checks out a client: resolves with it (or calls `callback(err, client, release)`); give it back with `client.release()`. */
	connect(): Promise<PoolClient>;
	connect(callback: ConnectCallback): void;
	connect(callback?: ConnectCallback): Promise<PoolClient> | void {
		if (this.ending) {
			const error = new Error(PgPoolMessage.ended);
			if (callback) return callback(error, undefined, NOOP);
			return this.#reject(error) as Promise<PoolClient>;
		}
		if (callback) return this.#checkout(callback);
		const [cb, result] = this.#promisify<PoolClient>();
		this.#checkout(cb as ConnectCallback);
		return result;
	}

	/**
	 * Runs one query on a client checked out for it. Takes what `client.query` takes: text and
	 * values, a query config, or a submittable (pg-cursor, pg-query-stream), which is read through
	 * the object you passed while the promise (or callback) settles when it ends.
	 */
	// The overloads are @types/pg's Pool.query, so that the drop-in type-checks wherever a pg.Pool is expected. Like
	// pg-pool (and unlike those typings), a submittable resolves the returned promise when it ends.
	query<T extends Submittable>(queryStream: T): T;
	query<R extends unknown[] = unknown[], I = unknown[]>(queryConfig: QueryArrayConfig<I>, values?: QueryConfigValues<I>): Promise<QueryArrayResult<R>>;
	query<R extends QueryResultRow = QueryResultRow, I = unknown[]>(queryConfig: QueryConfig<I>): Promise<QueryResult<R>>;
	query<R extends QueryResultRow = QueryResultRow, I = unknown[]>(
		queryTextOrConfig: string | QueryConfig<I>,
		values?: QueryConfigValues<I>,
	): Promise<QueryResult<R>>;
	query<R extends unknown[] = unknown[], I = unknown[]>(queryConfig: QueryArrayConfig<I>, callback: (err: Error, result: QueryArrayResult<R>) => void): void;
	query<R extends QueryResultRow = QueryResultRow, I = unknown[]>(
		queryTextOrConfig: string | QueryConfig<I>,
		callback: (err: Error, result: QueryResult<R>) => void,
	): void;
	query<R extends QueryResultRow = QueryResultRow, I = unknown[]>(
		queryText: string,
		values: QueryConfigValues<I>,
		callback: (err: Error, result: QueryResult<R>) => void,
	): void;
	query(text: unknown, values?: unknown, callback?: unknown): unknown {
		if (typeof text === "function") {
			const [cb, result] = this.#promisify<QueryResult>(text as Callback<QueryResult>);
			setImmediate(() => cb(new Error(PgPoolMessage.functionAsQuery)));
			return result;
		}
		if (typeof values === "function") {
			callback = values as Callback<QueryResult>;
			values = undefined;
		}
		const [cb, result] = this.#promisify<QueryResult>(callback as Callback<QueryResult> | undefined);
		const run: ConnectCallback = (error, client) => {
			if (error !== undefined || client === undefined) return cb(error);
			let released = false;
			// A client that fails mid-query emits 'error' (no listener would crash the process); the query then fails with it.
			const onError = (err: Error) => {
				if (released) return;
				released = true;
				client.release(err);
				cb(err);
			};
			client.once("error", onError);
			this.log("dispatching query");
			try {
				(client as unknown as { query(t: unknown, v: unknown, c: (e: Error | undefined, r: QueryResult) => void): void }).query(text, values, (err, res) => {
					this.log("query dispatched");
					client.removeListener("error", onError);
					if (released) return;
					released = true;
					client.release(err ?? undefined);
					if (err) return cb(err);
					cb(undefined, res);
				});
			} catch (err) {
				client.release(err as Error);
				cb(err as Error);
			}
		};
		if (this.ending) run(new Error(PgPoolMessage.ended), undefined, NOOP);
		else this.#checkout(run);
		return result;
	}

	// ── shutdown ─────────────────────────────────────────────────────────────────────────────

	/**
	 * Closes the pool: idle clients now, checked-out ones when released; resolves (or calls
	 * `callback`) once every client is closed. Callers still waiting for a client fail with
	 * "Cannot use a pool after calling end on the pool".
	 */
	end(): Promise<void>;
	end(callback: (error?: Error) => void): void;
	end(callback?: (error?: Error) => void): Promise<void> | void {
		this.log("ending");
		if (this.ending) {
			const error = new Error(PgPoolMessage.endTwice);
			if (callback) return callback(error);
			return this.#reject(error) as Promise<void>;
		}
		this.ending = true;
		const [cb, result] = this.#promisify<void>(callback as Callback<void> | undefined);
		this.core.close({ timeoutMs: END_WAIT_MS }).then(() => {
			this.ended = true;
			cb(undefined);
		});
		return result;
	}

	// ── ManagedClient: what the manager, metrics and health endpoints read ───────────────────

	get kind(): ClientKind {
		return Kind.postgres;
	}

	/** `end()` with a deadline: clients still checked out after `timeoutMs` are closed under their borrowers. */
	async close(options?: CloseOptions): Promise<void> {
		closeTimeout("pg pool: close", options);
		if (!this.ending) {
			this.ending = true;
			await this.core.close(options);
			this.ended = true;
		}
		await this.core.close();
	}

	// ── internals ────────────────────────────────────────────────────────────────────────────

	#checkout(callback: ConnectCallback): void {
		const core = this.core;
		const o = this.options;
		// An idle client and nobody ahead: lent at once, nothing to fail. With a lifetime the idle client may be retired on
		// the way out, and the caller then waits like any other.
		if (core.idleCount > 0 && core.pendingCount === 0 && o.maxLifetimeSeconds === 0) return this.#checkouts.lendIdle(callback);
		// Behind a full pool the caller waits for a release; a connection attempt that fails fails the caller that has
		// waited longest (see CheckoutQueue).
		const full = core.size >= o.max;
		// A caller that starts a connection gets the connection's own timeout error (pg's message); one that queues gets
		// the queue's. Without connectionTimeoutMillis the core's own acquire timeout (none) applies.
		const timeoutMs = o.connectionTimeoutMillis
			? full || core.idleCount > 0
				? o.connectionTimeoutMillis
				: o.connectionTimeoutMillis + BACKSTOP_MS
			: undefined;
		this.#checkouts.wait(callback, full, timeoutMs);
	}

	#handOut(lease: Lease<PgClient>, callback: ConnectCallback): void {
		const client = lease.resource as PgClient & ClientInternals;
		const isNew = client[FRESH] === true;
		if (isNew) {
			client[FRESH] = false;
			this.emit("connect", client as PoolClient);
		}
		this.emit("acquire", client as PoolClient);
		const release = this.#releaseOnce(client, lease);
		client.release = release;
		const idle = client[IDLE_LISTENER];
		if (idle !== undefined) client.removeListener("error", idle);
		const verify = this.options.verify;
		if (isNew && verify !== undefined) {
			verify(client as PoolClient, (error) => {
				if (error) {
					release(error);
					return callback(error, undefined, NOOP);
				}
				callback(undefined, client as PoolClient, release);
			});
			return;
		}
		callback(undefined, client as PoolClient, release);
	}

	#releaseOnce(client: PgClient & ClientInternals, lease: Lease<PgClient>): (error?: Error | boolean) => void {
		let released = false;
		return (error) => {
			if (released) throw new Error(PgPoolMessage.doubleRelease);
			released = true;
			this.#release(client, lease, error);
		};
	}

	#release(client: PgClient & ClientInternals, lease: Lease<PgClient>, error: Error | boolean | undefined): void {
		const idle = client[IDLE_LISTENER];
		if (idle !== undefined) client.on("error", idle);
		client._poolUseCount = (client._poolUseCount ?? 0) + 1;
		this.emit("release", error, client as PoolClient);
		if (client._poolUseCount >= this.options.maxUses) this.log("remove expended client");
		if (error || this.ending || client._queryable === false || client._ending || client._poolUseCount >= this.options.maxUses || this.#expired.has(client)) {
			// release(true) asks for a fresh client, it reports no fault; an Error lowers the pool's health.
			lease.destroy(error instanceof Error ? error : undefined);
			return;
		}
		lease.release();
	}

	/** One connection attempt: pg's connect, its timeout, `onConnect`; a failure fails the first caller still waiting. */
	#connectClient(signal: AbortSignal): Promise<PgClient> {
		const client = new this.Client(this.options) as PgClient & ClientInternals;
		this.log("connecting new client");
		return new Promise<PgClient>((resolve, reject) => {
			let timedOut = false;
			const kill = () => {
				this.log("ending client due to timeout");
				timedOut = true;
				if (client.connection) client.connection.stream.destroy();
				else client.end().catch(NOOP);
			};
			const timer = setTimeout(kill, this.#connectMs);
			signal.addEventListener("abort", kill, { once: true });
			const failed = (error: Error) => {
				this.#checkouts.connectFailed(error);
				reject(error);
			};
			client.connect((err?: Error) => {
				clearTimeout(timer);
				signal.removeEventListener("abort", kill);
				if (err) {
					this.log("client failed to connect", err);
					return failed(timedOut ? new Error(PgPoolMessage.connectionTimeout, { cause: err }) : err);
				}
				this.log("new client connected");
				// Listening from here on, as pg-pool does: an error while onConnect runs must not crash the process either.
				this.#watchIdle(client);
				const ready = () => {
					client[FRESH] = true;
					this.#watchLifetime(client);
					resolve(client);
				};
				const onConnect = this.options.onConnect;
				if (onConnect === undefined) return ready();
				new Promise<void>((res) => res(onConnect(client))).then(ready, (hookError: unknown) => {
					const listener = client[IDLE_LISTENER];
					if (listener !== undefined) client.removeListener("error", listener);
					client.on("error", NOOP);
					client.end().then(
						() => failed(hookError as Error),
						() => failed(hookError as Error),
					);
				});
			});
		});
	}

	/** An idle client's error (server restart, network drop) is the pool's: the client leaves, the pool emits `error`. */
	#watchIdle(client: PgClient & ClientInternals): void {
		const listener = (error: Error) => {
			(error as Error & { client?: PgClient }).client = client;
			client.removeListener("error", listener);
			client.on("error", () => this.log("additional client error after disconnection due to error", error));
			this.core.invalidate(client, error);
			// pg-pool's emit would throw (and crash the process) without a listener; lifeguard warns instead.
			if (this.listenerCount("error") > 0) this.emit("error", error, client as PoolClient);
			else process.emitWarning(`pg compat pool: an idle client failed and was removed: ${error.message}`, { code: "LIFEGUARD_IDLE_CLIENT_ERROR" });
		};
		client[IDLE_LISTENER] = listener;
		client.on("error", listener);
	}

	#watchLifetime(client: PgClient): void {
		const seconds = this.options.maxLifetimeSeconds;
		if (seconds <= 0) return;
		const timer = setTimeout(() => {
			this.log("ending client due to expired lifetime");
			this.#expired.add(client);
		}, seconds * 1000);
		timer.unref();
		client.once("end", () => clearTimeout(timer));
	}

	#endClient(client: PgClient): Promise<void> {
		this.#expired.delete(client);
		return new Promise<void>((resolve) => {
			(client as unknown as { end(cb: () => void): void }).end(() => {
				this.emit("remove", client as PoolClient);
				resolve();
			});
		});
	}

	/** pg-pool's promisify: a callback, or a promise of the configured Promise type that rejects with a stack pointing at the caller. */
	#promisify<R>(callback?: Callback<R>): [Callback<R>, Promise<R>] {
		if (callback) return [callback, undefined as unknown as Promise<R>];
		let resolve!: (value: R) => void;
		let reject!: (error: Error) => void;
		const P = this.Promise as PromiseConstructor;
		const result = new P<R>((res, rej) => {
			resolve = res;
			reject = rej;
		}).catch((error: Error) => {
			Error.captureStackTrace(error);
			throw error;
		});
		return [(error, value) => (error ? reject(error) : resolve(value as R)), result];
	}

	#reject(error: Error): Promise<never> {
		const P = this.Promise as PromiseConstructor;
		return P.reject(error);
	}
}

export default { Pool };

function resolveConfig(config: PoolConfig | undefined): ResolvedPoolConfig {
	const options = { ...config } as ResolvedPoolConfig;
	if (config != null && "password" in config) {
		// Hidden from console.log and stack traces, as pg-pool hides it.
		Object.defineProperty(options, "password", { configurable: true, enumerable: false, writable: true, value: config.password });
	}
	options.max = options.max || options.poolSize || 10;
	options.min = options.min || 0;
	options.maxUses = options.maxUses || Number.POSITIVE_INFINITY;
	options.allowExitOnIdle = options.allowExitOnIdle || false;
	options.maxLifetimeSeconds = options.maxLifetimeSeconds || 0;
	if (options.idleTimeoutMillis === undefined) options.idleTimeoutMillis = 10_000;
	return options;
}

function loadClient(): ClientConstructor {
	try {
		return (requireCjs("pg") as { Client: ClientConstructor }).Client;
	} catch (error) {
		throw new DriverMissingError("pg", "compat/pg", error);
	}
}

/** The core's errors in pg-pool's words. */
function translate(error: unknown): Error {
	if (error instanceof PoolTimeoutError) return new Error(PgPoolMessage.connectTimeout, { cause: error });
	if (error instanceof LifeguardError && error.code === ErrorCode.POOL_CLOSED) return new Error(PgPoolMessage.ended);
	return error instanceof Error ? error : new Error(String(error));
}
