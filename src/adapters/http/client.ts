/**
 * The HTTP client: an undici `Dispatcher` whose connections live in lifeguard's keyed pool, one
 * pool per origin under one global budget and one bounded wait queue. `fetch(url, { dispatcher })`,
 * `setGlobalDispatcher(client)`, `client.request(...)` and SDKs that take a dispatcher or a fetch
 * all go through `dispatch()`, so every request is capped, queued, counted and, when asked,
 * retried, rate limited and guarded by a circuit breaker per origin.
 */
import { EventEmitter } from "node:events";
import type { Dispatcher } from "undici";
import { ConfigError, type ConfigProblem, PoolClosedError } from "../../core/errors.ts";
import { createKeyedPool, type KeyedPool } from "../../core/keyed-pool.ts";
import type { Lease } from "../../core/lease.ts";
import { LinkedSet } from "../../core/linked-set.ts";
import { type CloseOptions, closeTimeout } from "../../core/pool.ts";
import type { BreakerView, ClientPool, ManagedClient } from "../../manager/client.ts";
import { CircuitBreakers } from "../../resilience/circuit-breakers.ts";
import { Cooldowns } from "../../resilience/cooldowns.ts";
import { RequestAbortedError } from "../../resilience/errors.ts";
import { RateLimiter } from "../../resilience/rate-limiter.ts";
import { RetryPolicy } from "../../resilience/retry-policy.ts";
import { type Connector, type HttpConnection, makeConnector, openConnection, type SocketCloseReason } from "./connection.ts";
import { HttpQueueFullError } from "./errors.ts";
import { Exchange, type ExchangeHost, type HttpCallOptions, type Slot, type StreamSlot } from "./exchange.ts";
import { toLegacyHandler } from "./legacy-handler.ts";
import { callTimeoutProblem, type HttpClientOptions, phaseTimeoutProblem, type ResolvedHttpOptions, resolveHttpOptions, toOrigin } from "./options.ts";
import { type HttpClientStats, OriginCounters, type OriginStats, originStats } from "./origin-stats.ts";
import { loadUndici, type UndiciModule } from "./undici-module.ts";

/** What `request()` takes: undici's request options, an origin, and lifeguard's per-call options. */
export type HttpRequestOptions = Omit<Dispatcher.RequestOptions, "origin"> & HttpCallOptions & { origin: string | URL };

/** HTTP/2 connections of one origin currently carrying streams, and the connect every cold caller waits for. */
interface H2Origin {
	sessions: { conn: HttpConnection; lease: Lease<HttpConnection> }[];
	opening: Promise<void> | undefined;
	protocol: "http/1.1" | "h2" | undefined;
}

function dispatcherBase(): typeof Dispatcher {
	try {
		return loadUndici().Dispatcher;
	} catch {
		// Without undici the class still loads; createHttpClient throws DRIVER_MISSING.
		return EventEmitter as unknown as typeof Dispatcher;
	}
}

/** Merged into the class: it only adds an overload to undici's request(), which Dispatcher implements. */
export interface HttpClient {
	/** undici's `request()`, with lifeguard's per-call options (`timeoutMs`, `headersTimeoutMs`, `bodyTimeoutMs`, `retryable`, `tokens`…). */
	request(options: HttpRequestOptions): Promise<Dispatcher.ResponseData>;
}

// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the interface above only adds an overload of an inherited method.
export class HttpClient extends dispatcherBase() implements ManagedClient {
	readonly name: string;
	readonly kind = "http";
	readonly options: ResolvedHttpOptions;
	readonly #undici: UndiciModule;
	readonly #connector: Connector;
	readonly #pool: KeyedPool<string, HttpConnection>;
	readonly #counters = new Map<string, OriginCounters>();
	/** The origin and counters of each origin string seen, so a request costs one map lookup. */
	readonly #origins = new Map<string, { origin: string; counters: OriginCounters }>();
	readonly #h2 = new Map<string, H2Origin>();
	/** Per origin, the acquires waiting for a connect: a failed connect fails them at once rather than at their deadline. */
	readonly #connectWaiters = new Map<string, LinkedSet<AbortController>>();
	/** The calls in flight, for destroy(): a linked list, not a Set (see LinkedSet: a Set churned per request costs 40 % more CPU). */
	readonly #inflight = new LinkedSet<Exchange>();
	readonly #host: ExchangeHost;
	#closed = false;

	constructor(options: HttpClientOptions = {}) {
		super();
		this.#undici = loadUndici();
		const o = resolveHttpOptions(options);
		this.options = o;
		this.name = o.name;
		this.#connector = makeConnector(this.#undici, o);
		this.#pool = createKeyedPool<string, HttpConnection>({
			name: o.name,
			maxTotal: o.maxConnections,
			maxPerKey: o.maxConnectionsPerOrigin,
			maxWaiters: o.maxWaiters,
			// Origins are few and long-lived: their statistics (created, closed by reason) stay cumulative.
			keepIdleKeys: true,
			acquireTimeoutMs: o.acquireTimeoutMs,
			// The connector enforces connectTimeoutMs; the pool's deadline is a backstop for a connector that never calls back.
			createTimeoutMs: o.connectTimeoutMs + 1_000,
			idleTimeoutMs: o.keepAliveMaxTimeoutMs,
			maxLifetimeMs: o.maxLifetimeMs,
			maxLifetimeJitterMs: o.maxLifetimeMs === 0 ? 0 : Math.floor(o.maxLifetimeMs * 0.025),
			validateAfterIdleMs: 0,
			create: (origin, signal) => this.#open(origin, signal),
			destroy: (conn) => {
				// A socket that is already gone closed on its own: its close is counted with its own reason.
				if (!conn.socket.destroyed) conn.closing = true;
				return conn.client.destroy().catch(() => undefined);
			},
		});
		const retry = o.retry === undefined ? undefined : new RetryPolicy(o.retry);
		const breakers = o.circuitBreaker === undefined ? undefined : new CircuitBreakers(o.circuitBreaker);
		const limiter = o.rateLimit === undefined ? undefined : new RateLimiter(o.rateLimit);
		const cooldowns = o.cooldownOn429 ? new Cooldowns() : undefined;
		this.#host = {
			options: o,
			retry,
			breakers,
			cooldowns,
			limiter,
			acquire: (exchange, timeoutMs) => this.#acquire(exchange, timeoutMs),
			closedError: () => (this.#closed ? new PoolClosedError(this.name) : undefined),
			finished: (exchange) => {
				if (exchange.inflight !== undefined) this.#inflight.delete(exchange.inflight);
			},
		};
	}

	override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
		const user = toLegacyHandler(handler);
		let target: { origin: string; counters: OriginCounters };
		try {
			if (this.#closed) throw new PoolClosedError(this.name);
			target = this.#originOf(opts.origin);
			const call = opts as HttpCallOptions & { headersTimeout?: unknown; bodyTimeout?: unknown };
			// Most calls set no timeout of their own: nothing to check, no list to make.
			const ownTimeouts =
				call.timeoutMs !== undefined ||
				call.headersTimeoutMs !== undefined ||
				call.bodyTimeoutMs !== undefined ||
				call.headersTimeout !== undefined ||
				call.bodyTimeout !== undefined;
			if (ownTimeouts) this.#checkCallTimeouts(call);
		} catch (error) {
			user.onError?.(error as Error);
			return true;
		}
		const exchange = new Exchange(this.#host, target.origin, target.counters, opts as Dispatcher.DispatchOptions & HttpCallOptions, user);
		exchange.inflight = this.#inflight.add(exchange);
		exchange.start();
		return true;
	}

	/** A call's own timeouts: CONFIG_INVALID listing each bad one. */
	#checkCallTimeouts(call: HttpCallOptions & { headersTimeout?: unknown; bodyTimeout?: unknown }): void {
		const problems: ConfigProblem[] = [];
		const timeoutProblem = callTimeoutProblem(call.timeoutMs);
		if (timeoutProblem !== undefined) problems.push({ path: "timeoutMs", message: timeoutProblem });
		// The per-call phase timeouts (and undici's own spellings) reach undici's timers as given.
		for (const key of ["headersTimeoutMs", "bodyTimeoutMs", "headersTimeout", "bodyTimeout"] as const) {
			const problem = phaseTimeoutProblem(call[key]);
			if (problem !== undefined) problems.push({ path: key, message: problem });
		}
		if (problems.length > 0) throw new ConfigError(`http client "${this.name}": request`, problems);
	}

	/** Opens the `prewarm` origins' connections; resolves when they are open, rejects with the first connect error. */
	async start(): Promise<void> {
		await Promise.all(
			this.options.prewarm.map(async ({ origin, connections }) => {
				const leases = await Promise.allSettled(
					Array.from({ length: connections }, () => this.#pool.acquire(origin, { timeoutMs: this.options.connectTimeoutMs + 1_000 })),
				);
				for (const l of leases) if (l.status === "fulfilled") l.value.release();
				const failed = leases.find((l) => l.status === "rejected");
				if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
			}),
		);
	}

	/**
	 * Stops taking requests, lets requests in flight finish until `timeoutMs` (default 10 000),
	 * then closes every connection. Also undici's `close(callback)`.
	 */
	override close(options?: CloseOptions | (() => void)): Promise<void> {
		try {
			if (typeof options !== "function") closeTimeout("HTTP client: close", options);
		} catch (error) {
			return Promise.reject(error);
		}
		const done = this.#shutdown(typeof options === "function" ? 10_000 : (options?.timeoutMs ?? 10_000));
		if (typeof options === "function") done.then(options, options);
		return done;
	}

	/** Aborts every request in flight and closes every connection now. */
	override destroy(error?: Error | null | (() => void), callback?: () => void): Promise<void> {
		const reason = error instanceof Error ? error : new RequestAbortedError("client destroyed");
		for (const exchange of this.#inflight.values()) exchange.abort(reason);
		const done = this.#shutdown(0);
		const cb = typeof error === "function" ? error : callback;
		if (cb !== undefined) done.then(cb, cb);
		return done;
	}

	async [Symbol.asyncDispose](): Promise<void> {
		await this.close();
	}

	pools(): ClientPool[] {
		return this.#pool.keys().map((origin) => ({ label: origin, pool: this.#pool.pool(origin) }));
	}

	breakers(): BreakerView[] {
		return this.#host.breakers?.views() ?? [];
	}

	details(): Record<string, unknown> {
		return this.stats() as unknown as Record<string, unknown>;
	}

	/** Statistics per origin and over all of them. */
	stats(): HttpClientStats {
		const origins: Record<string, OriginStats> = {};
		let requests = 0;
		let errors = 0;
		let sends = 0;
		let reused = 0;
		let active = 0;
		const breakerStats = this.#host.breakers?.stats();
		for (const [origin, c] of this.#counters) {
			const pool = this.#pool.pool(origin).stats();
			origins[origin] = originStats(origin, c, pool, this.#host.cooldowns?.remainingMs(origin) ?? 0, breakerStats?.[origin]);
			requests += c.requests;
			errors += c.errors;
			sends += c.sends;
			reused += c.reusedSends;
			active += pool.active;
		}
		const o = this.options;
		return {
			name: this.name,
			maxConnections: o.maxConnections,
			maxConnectionsPerOrigin: o.maxConnectionsPerOrigin,
			maxWaiters: o.maxWaiters,
			connections: this.#pool.size,
			pending: this.#pool.pendingCount,
			requests,
			errors,
			reuseRatio: sends === 0 ? 0 : reused / sends,
			utilization: active / o.maxConnections,
			origins,
		};
	}

	resetStats(): void {
		this.#pool.resetStats();
	}

	/** The rate limiter, when `rateLimit` is set (LLM clients settle token reservations through it). */
	get rateLimiter(): RateLimiter | undefined {
		return this.#host.limiter;
	}

	// --- connections ---

	async #open(origin: string, signal: AbortSignal): Promise<HttpConnection> {
		try {
			const conn = await openConnection(this.#undici, this.#connector, new URL(origin), this.options, signal, (c, reason, error) =>
				this.#socketClosed(c, reason, error),
			);
			this.#countersOf(origin).protocol = conn.protocol;
			return conn;
		} catch (error) {
			if (!signal.aborted) {
				const waiters = this.#connectWaiters.get(origin);
				if (waiters !== undefined) for (const w of waiters.values()) w.abort(error);
			}
			throw error;
		}
	}

	#socketClosed(conn: HttpConnection, reason: SocketCloseReason, error: Error | undefined): void {
		this.#countersOf(conn.origin).socketClosedBy[reason]++;
		const h2 = this.#h2.get(conn.origin);
		if (h2 !== undefined) {
			const i = h2.sessions.findIndex((s) => s.conn === conn);
			if (i >= 0) {
				const [session] = h2.sessions.splice(i, 1);
				// Streams still running on it end with errors and release their slots; the lease goes once they have.
				if (conn.streams === 0) session.lease.destroy(error);
			}
		}
		if (this.#pool.has(conn.origin)) this.#pool.pool(conn.origin).invalidate(conn, error);
	}

	/** See ExchangeHost.acquire: the client's closed state comes back as an error, never thrown through the callbacks. */
	#acquire(exchange: Exchange, timeoutMs: number): Error | undefined {
		// Closed (the keyed pool closes only after this flag is set): the same error on every path, which no retry policy sees.
		if (this.#closed) return new PoolClosedError(this.name);
		const origin = exchange.origin;
		if (this.options.allowH2 && origin.startsWith("https:")) {
			deliverTo(exchange, this.#acquireH2(origin, timeoutMs, exchange.signal));
			return undefined;
		}
		// An idle connection that is ready is lent at once, with no promise: no wait to abort, no connect to fail,
		// no queue to be full. Anything else (nothing idle, or the idle ones retired or sent to validation on the
		// way) waits through #lease, tied to the call's signal and to failed connects.
		const lease = this.#pool.pool(origin).tryAcquire();
		if (lease !== undefined) exchange.slotReady(lease);
		else deliverTo(exchange, this.#lease(origin, timeoutMs, exchange));
		return undefined;
	}

	/** A connection for a caller that may have to wait: a failed connect fails it at once (see #connectWaiters). */
	#lease(origin: string, timeoutMs: number, waiter: { readonly signal: AbortSignal }): Promise<Lease<HttpConnection>> {
		const signal = waiter.signal;
		const controller = new AbortController();
		const onAbort = () => controller.abort(signal.reason);
		signal.addEventListener("abort", onAbort, { once: true });
		let waiters = this.#connectWaiters.get(origin);
		if (waiters === undefined) this.#connectWaiters.set(origin, (waiters = new LinkedSet()));
		const entry = waiters.add(controller);
		const done = () => {
			signal.removeEventListener("abort", onAbort);
			waiters.delete(entry);
		};
		return this.#pool.acquire(origin, { timeoutMs, signal: controller.signal }).then(
			(lease) => {
				done();
				return lease;
			},
			(error) => {
				done();
				return this.#mapAcquireError(origin, error);
			},
		);
	}

	#mapAcquireError(origin: string, error: unknown): never {
		if ((error as { code?: string }).code === "POOL_QUEUE_FULL") {
			const pool = this.#pool.pool(origin);
			throw new HttpQueueFullError(this.name, {
				connections: this.#pool.size,
				maxConnections: this.options.maxConnections,
				waiters: this.#pool.pendingCount,
				maxWaiters: this.options.maxWaiters,
				origin,
				originConnections: pool.size,
				originBusy: pool.activeCount,
				maxConnectionsPerOrigin: this.options.maxConnectionsPerOrigin,
			});
		}
		throw error;
	}

	/**
	 * HTTP/2: streams share a connection. A caller takes a stream on a connection with room; when
	 * none has room, one caller opens (or borrows from the pool) another while the rest wait for
	 * it, so a cold burst opens one socket, not one per request. A connection whose streams have
	 * all ended goes back to the pool as idle.
	 */
	async #acquireH2(origin: string, timeoutMs: number, signal: AbortSignal): Promise<Slot> {
		let state = this.#h2.get(origin);
		if (state === undefined) this.#h2.set(origin, (state = { sessions: [], opening: undefined, protocol: undefined }));
		const deadline = Date.now() + timeoutMs;
		for (;;) {
			if (signal.aborted) throw signal.reason;
			const max = this.options.maxConcurrentStreams;
			const session = state.sessions.find((s) => s.conn.streams < max && !s.conn.closed && !s.conn.socket.destroyed);
			if (session !== undefined) return this.#streamSlot(state, session);
			if (state.protocol === "http/1.1") return await this.#lease(origin, Math.max(1, deadline - Date.now()), { signal });
			if (state.opening !== undefined) {
				await waitFor(state.opening, deadline, signal);
				continue;
			}
			let opened!: () => void;
			state.opening = new Promise<void>((resolve) => (opened = resolve));
			try {
				const lease = await this.#lease(origin, Math.max(1, deadline - Date.now()), { signal });
				state.protocol = lease.resource.protocol;
				if (lease.resource.protocol !== "h2") return lease;
				const entry = { conn: lease.resource, lease };
				state.sessions.push(entry);
				return this.#streamSlot(state, entry);
			} finally {
				state.opening = undefined;
				opened();
			}
		}
	}

	#streamSlot(state: H2Origin, session: { conn: HttpConnection; lease: Lease<HttpConnection> }): StreamSlot {
		const conn = session.conn;
		conn.streams++;
		const c = this.#countersOf(conn.origin);
		c.streamsRunning++;
		c.streamsTotal++;
		if (c.streamsRunning > c.streamsPeak) c.streamsPeak = c.streamsRunning;
		let released = false;
		return {
			conn,
			release: (broken, error) => {
				if (released) return;
				released = true;
				conn.streams--;
				c.streamsRunning--;
				if (conn.streams > 0) return;
				const i = state.sessions.indexOf(session);
				if (i >= 0) state.sessions.splice(i, 1);
				if (broken || conn.closed) session.lease.destroy(error);
				else session.lease.release();
			},
		};
	}

	// --- bookkeeping ---

	#originOf(value: string | URL | undefined): { origin: string; counters: OriginCounters } {
		if (value === undefined) throw new TypeError(`http client "${this.name}": the request has no origin`);
		const text = typeof value === "string" ? value : value.href;
		let target = this.#origins.get(text);
		if (target === undefined) {
			const origin = toOrigin(value);
			target = { origin, counters: this.#countersOf(origin) };
			// Bounded: a caller passing full URLs as origins must not grow this without end.
			if (this.#origins.size < 10_000) this.#origins.set(text, target);
		}
		return target;
	}

	#countersOf(origin: string): OriginCounters {
		let c = this.#counters.get(origin);
		if (c === undefined) this.#counters.set(origin, (c = new OriginCounters()));
		return c;
	}

	async #shutdown(timeoutMs: number): Promise<void> {
		this.#closed = true;
		// Calls waiting to be sent (a retry's backoff, a cooldown, a rate limit) end now: their origin's pool is closing.
		// Those that start such a wait later (a retry decided after this) fail as they start it (Exchange.closedError).
		for (const exchange of this.#inflight.values()) exchange.endWait(() => new PoolClosedError(this.name));
		await this.#pool.close({ timeoutMs });
	}
}

/** A connection that comes later, to the exchange that waits for it. */
function deliverTo(exchange: Exchange, slot: Promise<Slot>): void {
	slot.then(
		(s) => exchange.slotReady(s),
		(error) => exchange.slotFailed(error),
	);
}

/** Waits for `promise` until `deadline` or the signal; a timeout rejects like a pool timeout would. */
function waitFor(promise: Promise<void>, deadline: number, signal: AbortSignal): Promise<void> {
	return new Promise((resolve, reject) => {
		const onAbort = () => finish(() => reject(signal.reason));
		// acquireTimeoutMs may be Infinity: no timer then (Node would fire it after 1 ms).
		const timer = Number.isFinite(deadline)
			? setTimeout(
					() => finish(() => reject(Object.assign(new Error("timed out waiting for an HTTP/2 connection to open"), { code: "POOL_TIMEOUT" }))),
					Math.max(1, deadline - Date.now()),
				)
			: undefined;
		timer?.unref();
		const finish = (then: () => void) => {
			clearTimeout(timer);
			signal.removeEventListener("abort", onAbort);
			then();
		};
		signal.addEventListener("abort", onAbort, { once: true });
		promise.then(() => finish(resolve));
	});
}

/** Creates an HTTP client (see {@link HttpClientOptions}); DRIVER_MISSING when undici is not installed. */
export function createHttpClient(options?: HttpClientOptions): HttpClient {
	return new HttpClient(options);
}
