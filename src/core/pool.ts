import { Backoff } from "./backoff.ts";
import { ConnState, FAULTLESS_MIN_SCORE, PooledConnection } from "./connection.ts";
import { externalBudget } from "./connection-budget.ts";
import { isThenable, settleBySignal, withDeadline } from "./deadline.ts";
import { DecayingCounter, TROUBLE_HALF_LIFE_MS } from "./decay.ts";
import { Deque } from "./deque.ts";
import { type DurationRules, durationProblem, MAX_DURATION_MS } from "./duration.ts";
import {
	AcquireAbortedError,
	ConfigError,
	CreateFailedError,
	CreateTimeoutError,
	ErrorCode,
	LeaseError,
	LifeguardError,
	messageOf,
	PoolClosedError,
	type PoolStateSnapshot,
	PoolTimeoutError,
	QueueFullError,
	ValidationFailedError,
} from "./errors.ts";
import { AcquireFailReason, CloseReason, PoolEvent, type PoolEvents } from "./events.ts";
import { medianLatency, poolHealthScore } from "./health-score.ts";
import { Housekeeper } from "./housekeeper.ts";
import { Lease, type LeaseOwner, LeaseState } from "./lease.ts";
import { LeaseClock } from "./lease-clock.ts";
import { checkCloseOptions, type ErrorClass, type PoolOptions, type ResolvedPoolOptions, resolvePoolOptions } from "./options.ts";
import { quoteValue } from "./quote-value.ts";
import { PoolCounters, type PoolStats, statsSnapshot } from "./stats.ts";
import { Waiter, Waiters } from "./waiters.ts";
import { WatchedEmitter } from "./watched-emitter.ts";
import { withLease } from "./with-lease.ts";

export interface AcquireOptions {
	/** Abandons the wait when aborted (rejects with ACQUIRE_ABORTED). */
	signal?: AbortSignal;
	/** Overrides `acquireTimeoutMs` for this call. */
	timeoutMs?: number;
	/** 0 (default) is the most urgent; must be below `priorityLevels`. */
	priority?: number;
}

export interface CloseOptions {
	/** How long leases may run before their connections are destroyed. Default 30 000 ms. */
	timeoutMs?: number;
}

export interface ConnectionHealth {
	connectionId: number;
	state: "idle" | "active" | "busy";
	score: number;
	/** Smoothed validation round trip; NaN until the connection has been validated. */
	latencyMs: number;
	ageMs: number;
	uses: number;
	faults: number;
}

export interface PoolHealth {
	score: number;
	connections: ConnectionHealth[];
}

/**
 * How a keyed pool shares one connection budget among its per-key pools. @internal
 */
export interface PoolBudget {
	/** Asks for one connection slot; false when the global budget is spent. */
	tryReserve(): boolean;
	/** Gives a slot back (a connection closed or a create failed). */
	release(): void;
	/** The pool has waiters it cannot create for because the budget is spent. */
	blocked(pool: Pool<unknown>): void;
	/** A connection went idle: the budget may take it for another key's waiter. */
	idle(pool: Pool<unknown>): void;
	/** True while the budget wants slots back: a returning connection is closed rather than reused. */
	overdrawn?(): boolean;
	/** The pool may hold nothing now (no connection, no waiter): the keyed pool may forget it. */
	empty(pool: Pool<unknown>): void;
	/** A new resource arrived; false when another key's pool holds it already (a factory returning one object twice). */
	claim(resource: unknown): boolean;
	/** A resource the pool claimed is closed. */
	unclaim(resource: unknown): void;
}

const CLOSE_TIMEOUT_MS = 30_000;
/** Infinity waits for as long as it takes; 0 is refused: it used to time out at once, which nobody means. */
const ACQUIRE_TIMEOUT_RULES: DurationRules = { allowInfinity: true };
const CLOSE_TIMEOUT_RULES: DurationRules = { allowInfinity: true, allowZero: true };

/**
 * A pool of reusable resources. See docs/design.md for the contract and its invariants, and
 * docs/core.md ("Reading acquire → release") for a guided path through this file: the hot path
 * is `acquire` → `#lend` and `release` → `#offer`.
 */
export class Pool<T> extends WatchedEmitter<PoolEvents> {
	readonly name: string;
	readonly options: ResolvedPoolOptions<T>;
	readonly #all = new Set<PooledConnection<T>>();
	readonly #idle = new Deque<PooledConnection<T>>();
	readonly #byResource = new Map<T, PooledConnection<T>>();
	readonly #invalidatedEarly = new WeakSet<object>();
	readonly #waiters: Waiters<Lease<T>>;
	readonly #counters = new PoolCounters();
	readonly #backoff: Backoff;
	readonly #owner: LeaseOwner<T>;
	#budget: PoolBudget | undefined;
	readonly #lifo: boolean;
	/** Creates in flight; they count toward `max`. */
	#creating = 0;
	/** Connections being validated or reset: already counted, soon offered. */
	#returning = 0;
	#active = 0;
	#generation = 0;
	#nextId = 0;
	#started = false;
	#announced = false;
	#state: "open" | "closing" | "closed" = "open";
	#closePromise: Promise<void> | undefined;
	#drainedWaiters: (() => void)[] = [];
	#startWaiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
	#retryAt = 0;
	#retryTimer: NodeJS.Timeout | undefined;
	readonly #housekeeper: Housekeeper;
	readonly #createControllers = new Set<AbortController>();
	readonly #pendingWork = new Set<Promise<unknown>>();
	#lastCreateError: unknown;
	#createFailing = false;
	#pumping = false;
	#pumpAgain = false;
	#misuseWarned = false;
	/** Failed creates, timed-out acquires, connections lost to errors: what lowers the pool's health beyond its connections'. */
	readonly #trouble = new DecayingCounter(TROUBLE_HALF_LIFE_MS);
	readonly #clock: LeaseClock;
	readonly #mustTime: boolean;
	readonly #validateAfterMs: number;

	constructor(options: PoolOptions<T>, budget?: PoolBudget) {
		const resolved = resolvePoolOptions(options);
		super(Object.values(PoolEvent), `pool "${resolved.name}"`);
		this.options = resolved;
		this.name = this.options.name;
		this.#budget = budget;
		this.#lifo = this.options.idleOrder === "lifo";
		this.#mustTime = this.options.validate !== undefined || this.options.leakDetectionMs > 0 || this.options.reclaimAfterMs > 0;
		this.#clock = new LeaseClock(this.#mustTime);
		this.#validateAfterMs = this.options.validate !== undefined ? this.options.validateAfterIdleMs : Number.POSITIVE_INFINITY;
		this.#backoff = new Backoff(this.options.createRetryInitialMs, this.options.createRetryMaxMs);
		this.#waiters = new Waiters<Lease<T>>(this.options.priorityLevels, (w, now) => this.#expireWaiter(w, now));
		this.#housekeeper = new Housekeeper(this.options as ResolvedPoolOptions<unknown>, () => this.#housekeep());
		this.#owner = {
			release: (lease) => this.#release(lease, undefined, false),
			destroy: (lease, error) => this.#release(lease, error, true),
			reportError: (lease, error) => this.#reportError(lease, error),
			misuse: (lease, what) => this.#misuse(lease, what),
		};
		if (budget === undefined && this.options.budget !== undefined) this.#budget = externalBudget(this.options.budget, this as Pool<unknown>);
		// Deferred so that listeners attached right after construction see it.
		process.nextTick(() => this.#announceCreated());
	}

	#announceCreated(): void {
		if (this.#announced) return;
		this.#announced = true;
		if (this.watching.poolCreated) this.#emit(PoolEvent.poolCreated, { pool: this.name, options: describeOptions(this.options) });
	}

	// ── public API ────────────────────────────────────────────────────────────────────────────

	/**
	 * Borrows a connection: an idle one at once, else a new one (up to `max`), else the next
	 * one released, first come first served. Rejects with POOL_TIMEOUT at the deadline,
	 * ACQUIRE_ABORTED when the signal aborts, POOL_QUEUE_FULL or POOL_CLOSED at once.
	 */
	acquire(options?: AcquireOptions): Promise<Lease<T>> {
		if (this.watching.acquireStarted) this.#emit(PoolEvent.acquireStarted, { pool: this.name });
		if (this.#state !== "open") return this.#rejectNow(AcquireFailReason.poolClosed, new PoolClosedError(this.name), performance.now());
		const stack = this.options.leakDetectionMs > 0 ? new Error("lease acquired here").stack : undefined;
		if (this.#waiters.length === 0 && (options === undefined || this.#fastPathAllowed(options))) {
			const now = this.#clock.sample(this.#counters.acquiredOk);
			const conn = this.#takeIdle(now);
			if (conn !== undefined) return Promise.resolve(this.#lend(conn, now, now === undefined ? undefined : 0, stack));
			return this.#enqueue(options, now ?? performance.now(), stack);
		}
		return this.#enqueue(options, performance.now(), stack);
	}

	/** Runs `fn` with a connection and releases it after; a connection fault (see `classifyError`) destroys it instead. See {@link withLease}. */
	use<R>(fn: (resource: T) => R | Promise<R>, options?: AcquireOptions): Promise<R> {
		return withLease(this, fn, options);
	}

	/** Gives back a lease (same as `lease.release()`); throws LEASE_INVALID for anything that is not a lease of this pool. */
	release(lease: Lease<T>): void {
		this.#checkOwn(lease);
		lease.release();
	}

	/** Destroys a lease's connection (same as `lease.destroy(error)`). */
	destroy(lease: Lease<T>, error?: unknown): void {
		this.#checkOwn(lease);
		lease.destroy(error);
	}

	/**
	 * Starts keeping `min` connections warm and resolves once `min` are open. With `failFast`
	 * it rejects on the first failed create; otherwise it keeps retrying with backoff.
	 */
	start(): Promise<void> {
		if (this.#state !== "open") return Promise.reject(new PoolClosedError(this.name));
		if (!this.#started) {
			this.#started = true;
			// CMAP's order: the pool is marked ready first, then its min connections are created.
			if (this.watching.poolReady) this.#emit(PoolEvent.poolReady, { pool: this.name });
		}
		this.#ensureHousekeeping();
		const ready = new Promise<void>((resolve, reject) => this.#startWaiters.push({ resolve, reject }));
		this.#pump();
		this.#checkStarted();
		return ready;
	}

	/**
	 * Changes `min` and/or `max` while running (checked like the options; CONFIG_INVALID lists
	 * every problem). Growing serves waiters at once; shrinking closes idle connections above the
	 * new `max` now and leased ones when they come back (reason `idle`), so the pool never lends
	 * above the new `max`. Emits `poolResized` with the old and new sizes and `reason`
	 * (default "manual").
	 */
	resize(sizes: { min?: number; max?: number; reason?: string }): void {
		const subject = `pool "${this.name}": resize`;
		if (sizes === null || typeof sizes !== "object") throw new ConfigError(subject, [{ path: "sizes", message: "expected an object { min?, max? }" }]);
		if (this.#state !== "open") throw new PoolClosedError(this.name);
		const from = { min: this.options.min, max: this.options.max };
		const problems: { path: string; message: string }[] = [];
		const size = (key: "min" | "max", floor: number): number => {
			const v = sizes[key];
			if (v === undefined) return from[key];
			if (typeof v !== "number" || !Number.isInteger(v) || v < floor) {
				problems.push({ path: key, message: `must be an integer >= ${floor}, got ${quoteValue(v)}` });
				return from[key];
			}
			return v;
		};
		const to = { min: size("min", 0), max: size("max", 1) };
		if (problems.length === 0 && to.min > to.max) problems.push({ path: "min", message: `min (${to.min}) is greater than max (${to.max})` });
		if (sizes.reason !== undefined && typeof sizes.reason !== "string") problems.push({ path: "reason", message: "must be a string" });
		if (problems.length > 0) throw new ConfigError(subject, problems);
		if (to.min === from.min && to.max === from.max) return;
		const mutable = this.options as { min: number; max: number };
		mutable.min = to.min;
		mutable.max = to.max;
		if (this.watching.poolResized) this.#emit(PoolEvent.poolResized, { pool: this.name, from, to, reason: sizes.reason ?? "manual" });
		while (this.size > to.max && this.evictOneIdle()) {}
		this.#pump();
	}

	/** Retires every connection: idle ones now, leased ones when released (reason `stale`). */
	clear(): void {
		if (this.#state !== "open") return;
		this.#generation++;
		if (this.watching.poolCleared) this.#emit(PoolEvent.poolCleared, { pool: this.name, generation: this.#generation });
		let conn = this.#idle.shift();
		while (conn !== undefined) {
			this.#retire(conn, CloseReason.stale);
			conn = this.#idle.shift();
		}
		this.#pump();
	}

	/**
	 * Stops taking work: waiters and new acquires reject with POOL_CLOSED, idle connections
	 * close now, leases may finish until `timeoutMs`, then their connections are destroyed.
	 * Resolves when nothing is left open. Idempotent.
	 */
	close(options?: CloseOptions): Promise<void> {
		let timeoutMs: number;
		try {
			timeoutMs = closeTimeout(`pool "${this.name}": close`, options);
		} catch (error) {
			return Promise.reject(error);
		}
		if (this.#closePromise === undefined) {
			// The promise exists before any work: a close() from a listener during this one gets the same promise.
			let done: () => void = () => {};
			this.#closePromise = new Promise<void>((resolve) => (done = resolve));
			// The pool's timers are unref'd, so an awaited close() with only them left would end the
			// process mid-await (exit code 13): this handle keeps it alive until close settles.
			const keepAlive = setInterval(() => {}, MAX_DURATION_MS);
			void this.#close(timeoutMs).finally(() => {
				clearInterval(keepAlive);
				done();
			});
		}
		return this.#closePromise;
	}

	/** `await using pool = createPool(…)` closes the pool at scope exit. */
	[Symbol.asyncDispose](): Promise<void> {
		return this.close();
	}

	/** Alias of `close()`, for generic-pool and tarn users. */
	drain(options?: CloseOptions): Promise<void> {
		return this.close(options);
	}

	get closed(): boolean {
		return this.#state !== "open";
	}

	/** Connections open or being opened. */
	get size(): number {
		return this.#all.size + this.#creating;
	}

	get idleCount(): number {
		return this.#idle.length;
	}

	get activeCount(): number {
		return this.#active;
	}

	get pendingCount(): number {
		return this.#waiters.length;
	}

	get creatingCount(): number {
		return this.#creating;
	}

	/**
	 * Takes a lease back from a borrower that will not return it (an id-based API's expired
	 * lease, a stuck job): its connection is destroyed with reason `leaked` and counted as a leak;
	 * the borrower's late release is a no-op.
	 */
	reclaim(lease: Lease<T>, error?: unknown): void {
		this.#checkOwn(lease);
		if (!lease.active) return;
		this.#countLeak(lease);
		this.#retire(lease.conn, CloseReason.leaked, error);
		this.#notifyIfDrained();
	}

	/** True while the pool has no connection and its creates are failing: the backend looks down. */
	get unavailable(): boolean {
		return this.#createFailing && this.#all.size === 0;
	}

	/**
	 * Tells the pool a connection is dead (its socket closed, the server ended it), typically from
	 * the driver's 'error' or 'end' event. Idle: closed now (reason `error`); leased or busy:
	 * closed when it comes back. Unknown or already closed resources are ignored.
	 */
	invalidate(resource: T, error?: unknown): void {
		const conn = this.#byResource.get(resource);
		if (conn === undefined) {
			// Not known yet: it may still be in create/afterCreate (a socket that died during setup).
			if (typeof resource === "object" && resource !== null) this.#invalidatedEarly.add(resource);
			return;
		}
		if (conn.dead) return;
		conn.dead = true;
		conn.recordFault(performance.now());
		if (conn.state === ConnState.idle && this.#idle.remove(conn)) this.#retire(conn, CloseReason.error, error);
	}

	/** The resource's current lease, when `resource` is leased from this pool. */
	leaseOf(resource: T): Lease<T> | undefined {
		return this.#byResource.get(resource)?.lease ?? undefined;
	}

	stats(): PoolStats {
		return statsSnapshot(
			{
				name: this.name,
				state: this.#state,
				generation: this.#generation,
				min: this.options.min,
				max: this.options.max,
				total: this.size,
				active: this.#active,
				idle: this.#idle.length,
				creating: this.#creating,
				pending: this.#waiters.length,
				healthScore: this.#healthScore(performance.now()),
				lastCreateError: this.#lastCreateError === undefined ? undefined : messageOf(this.#lastCreateError),
			},
			this.#counters,
		);
	}

	/** Starts a new statistics window (histograms, peaks). Cumulative counters keep counting. */
	resetStats(): void {
		this.#counters.resetWindow(this.size, this.#active, this.#waiters.length);
	}

	/** Health 0-100 of the pool and of each connection. */
	health(): PoolHealth {
		const now = performance.now();
		const reference = medianLatency(this.#all);
		const connections: ConnectionHealth[] = [];
		for (const conn of this.#all) {
			connections.push({
				connectionId: conn.id,
				state: conn.state === ConnState.idle ? "idle" : conn.state === ConnState.leased ? "active" : "busy",
				score: conn.healthScore(now, reference),
				latencyMs: conn.latencyMs,
				ageMs: now - conn.createdAt,
				uses: conn.uses,
				faults: conn.faults,
			});
		}
		return { score: this.#healthScore(now, reference), connections };
	}

	// ── acquire ───────────────────────────────────────────────────────────────────────────────

	/** Options that must take the slow path: an aborted signal, a priority to check, a timeout to refuse. */
	#fastPathAllowed(options: AcquireOptions): boolean {
		return (
			options.signal?.aborted !== true &&
			options.priority === undefined &&
			(options.timeoutMs === undefined || durationProblem(options.timeoutMs, ACQUIRE_TIMEOUT_RULES) === undefined)
		);
	}

	/** Events cost nothing when nobody listens: callers check `watching` before building a payload. */
	#emit<E extends keyof PoolEvents>(event: E, ...payload: PoolEvents[E]): void {
		// poolCreated is deferred a tick for late listeners, yet must still come first when work starts sooner.
		if (!this.#announced) this.#announceCreated();
		this.emitSafely(event, ...payload);
	}

	protected override watchChanged(): void {
		this.#clock.always = this.#mustTime || this.watching.acquired;
	}

	#enqueue(options: AcquireOptions | undefined, now: number, stack: string | undefined): Promise<Lease<T>> {
		// `=== undefined`, not `??`: a null timeout is a mistake to report, not a request for the default.
		const timeoutMs = options?.timeoutMs === undefined ? this.options.acquireTimeoutMs : options.timeoutMs;
		const priority = options?.priority ?? 0;
		// The defaults were checked at construction: only a caller's own values need checking on each wait.
		if (options !== undefined) {
			const timeoutProblem = options.timeoutMs === undefined ? undefined : durationProblem(timeoutMs, ACQUIRE_TIMEOUT_RULES);
			if (timeoutProblem !== undefined)
				return Promise.reject(new ConfigError(`pool "${this.name}": acquire`, [{ path: "timeoutMs", message: timeoutProblem }]));
			if (!Number.isInteger(priority) || priority < 0 || priority >= this.options.priorityLevels) {
				return Promise.reject(
					new ConfigError(`pool "${this.name}": acquire`, [
						{ path: "priority", message: `must be an integer from 0 to ${this.options.priorityLevels - 1} (priorityLevels), got ${quoteValue(priority)}` },
					]),
				);
			}
		}
		const signal = options?.signal;
		if (signal?.aborted) return this.#rejectNow(AcquireFailReason.aborted, new AcquireAbortedError(this.name, signal.reason), now);
		// generic-pool's rule: only callers with nothing idle and no room to create count against maxWaiters.
		if (this.#waiters.length >= this.options.maxWaiters && this.#idle.length === 0 && this.size >= this.options.max) {
			return this.#rejectNow(AcquireFailReason.queueFull, new QueueFullError(this.name, this.options.maxWaiters, this.#snapshot()), now);
		}
		return new Promise<Lease<T>>((resolve, reject) => {
			const waiter = new Waiter<Lease<T>>(resolve, reject, now, now + timeoutMs);
			waiter.priority = priority;
			waiter.stack = stack;
			if (signal !== undefined) {
				waiter.signal = signal;
				waiter.onAbort = () => {
					if (waiter.settled) return;
					this.#waiters.cancel(waiter);
					this.#fail(waiter, AcquireFailReason.aborted, new AcquireAbortedError(this.name, signal.reason), performance.now());
				};
				signal.addEventListener("abort", waiter.onAbort, { once: true });
			}
			this.#waiters.push(waiter);
			if (this.#waiters.length > this.#counters.peakPending) this.#counters.peakPending = this.#waiters.length;
			// With nothing idle only creation can help: skip the full pump (and its clock read).
			if (this.#idle.length > 0 || this.#pumping) this.#pump();
			else this.#fill(now);
		});
	}

	/**
	 * Takes an idle connection that is ready to lend; retires perished ones, starts validation of
	 * long-idle ones. `now` is undefined on an untimed borrow: the housekeeper then catches
	 * expired connections instead.
	 */
	#takeIdle(now: number | undefined): PooledConnection<T> | undefined {
		for (;;) {
			const conn = this.#lifo ? this.#idle.pop() : this.#idle.shift();
			if (conn === undefined) return undefined;
			const reason = this.#retireReason(conn, now);
			if (reason !== undefined) this.#retire(conn, reason);
			else if (now !== undefined && conn.idleSince !== undefined && now - conn.idleSince > this.#validateAfterMs) this.#validate(conn);
			else return conn;
		}
	}

	/**
	 * Whether a connection must be closed rather than lent or kept, and why: the one decision
	 * every path (borrow, return, arrival, housekeeping) asks. `now` undefined skips the checks
	 * that need the time (an untimed borrow); the housekeeper marks expired connections then.
	 */
	#retireReason(conn: PooledConnection<T>, now: number | undefined, referenceLatencyMs = Number.NaN): CloseReason | undefined {
		if (conn.dead) return CloseReason.error;
		if (this.#state !== "open") return CloseReason.poolClosed;
		if (conn.generation !== this.#generation) return CloseReason.stale;
		if (conn.expired || (now !== undefined && now >= conn.retireAt)) return CloseReason.lifetime;
		// Without faults a connection scores at least FAULTLESS_MIN_SCORE: the score, which costs a few
		// Math.pow, is only worth computing when it could fall below the threshold.
		if (conn.faults > 0 || this.options.unhealthyThreshold > FAULTLESS_MIN_SCORE) {
			if (conn.healthScore(now ?? performance.now(), referenceLatencyMs) < this.options.unhealthyThreshold) return CloseReason.unhealthy;
		}
		return undefined;
	}
	/** `acquiredAt` is undefined for an untimed lease, `waitMs` when the wait was not timed. */
	#lend(conn: PooledConnection<T>, acquiredAt: number | undefined, waitMs: number | undefined, stack: string | undefined): Lease<T> {
		conn.state = ConnState.leased;
		conn.uses++;
		if (this.options.allowExitOnIdle) this.options.ref?.(conn.resource);
		const lease = new Lease<T>(this.#owner, conn, acquiredAt, this);
		conn.lease = lease;
		const c = this.#counters;
		if (++this.#active > c.peakActive) c.peakActive = this.#active;
		c.acquiredOk++;
		if (waitMs === 0) c.wait.recordZero();
		else if (waitMs !== undefined) c.wait.record(waitMs);
		lease.stack = stack;
		if (this.watching.acquired) this.#emit(PoolEvent.acquired, { pool: this.name, connectionId: conn.id, durationMs: waitMs ?? Number.NaN });
		return lease;
	}

	/** `now`: the time if the caller has read it (the pump has; an untimed release has not). */
	#lendTo(waiter: Waiter<Lease<T>>, conn: PooledConnection<T>, now: number | undefined): void {
		waiter.settle();
		const acquiredAt = this.#clock.sample(this.#counters.acquiredOk, now);
		const known = acquiredAt ?? now;
		waiter.resolve(this.#lend(conn, acquiredAt, known === undefined ? undefined : known - waiter.startedAt, waiter.stack));
	}

	#rejectNow(reason: AcquireFailReason, error: Error, now: number): Promise<Lease<T>> {
		this.#countFailure(reason, error, now, now);
		return Promise.reject(error);
	}

	#fail(waiter: Waiter<Lease<T>>, reason: AcquireFailReason, error: Error, now: number): void {
		this.#countFailure(reason, error, waiter.startedAt, now);
		waiter.reject(error);
		if (this.#budget !== undefined) this.#reportIfEmpty(this.#budget);
	}

	#countFailure(reason: AcquireFailReason, error: Error, startedAt: number, now: number): void {
		const c = this.#counters;
		if (reason === AcquireFailReason.timeout || reason === AcquireFailReason.createError) {
			c.timeouts++;
			this.#trouble.bump(now);
		} else if (reason === AcquireFailReason.aborted) c.aborted++;
		else if (reason === AcquireFailReason.queueFull) c.queueFull++;
		else c.closedRejects++;
		if (this.watching.acquireFailed) this.#emit(PoolEvent.acquireFailed, { pool: this.name, reason, durationMs: now - startedAt, error });
	}

	#expireWaiter(waiter: Waiter<Lease<T>>, now: number): void {
		const cause = this.#createFailing ? this.#lastCreateError : undefined;
		// The expired waiters have already left the queue; count this one among those waiting.
		const state = this.#snapshot();
		state.waiters++;
		const error = new PoolTimeoutError(this.name, now - waiter.startedAt, state, cause);
		this.#fail(waiter, cause === undefined ? AcquireFailReason.timeout : AcquireFailReason.createError, error, now);
	}

	// ── release ───────────────────────────────────────────────────────────────────────────────

	#release(lease: Lease<T>, error: unknown, destroy: boolean): void {
		lease.state = LeaseState.released;
		const conn = lease.conn;
		conn.lease = null;
		this.#active--;
		// An untimed lease is released untimed too: undefined flows into the checks below as "unknown".
		let now = lease.acquiredAt === undefined ? undefined : performance.now();
		if (now !== undefined) this.#counters.use.record(now - (lease.acquiredAt as number));
		if (this.watching.released) this.#emit(PoolEvent.released, { pool: this.name, connectionId: conn.id });
		if (destroy) {
			if (error !== undefined) conn.recordFault((now ??= performance.now()));
			this.#retire(conn, error === undefined ? CloseReason.destroyed : CloseReason.error, error);
		} else {
			const reason = this.#retireReason(conn, now) ?? this.#surplusReason();
			if (reason !== undefined) this.#retire(conn, reason);
			else if (this.options.reset !== undefined) this.#resetThenOffer(conn, now);
			else this.#offer(conn, now);
		}
		this.#notifyIfDrained();
	}
	/** Above `max` after a shrink, or owed to an overdrawn budget: the connection goes rather than stays. */
	#surplusReason(): CloseReason | undefined {
		if (this.size > this.options.max || this.#budget?.overdrawn?.() === true) return CloseReason.idle;
		return undefined;
	}

	/** Hands a free connection to the first waiter, or makes it idle. */
	#offer(conn: PooledConnection<T>, now: number | undefined): void {
		const waiter = this.#waiters.shift();
		if (waiter !== undefined) return this.#lendTo(waiter, conn, now);
		conn.state = ConnState.idle;
		// Undefined when untimed: the housekeeper stamps it on its next run (idle eviction can only be late, never early).
		conn.idleSince = now;
		this.#idle.push(conn);
		if (this.options.allowExitOnIdle) this.options.unref?.(conn.resource);
		this.#budget?.idle(this as Pool<unknown>);
	}

	#reportError(lease: Lease<T>, error: unknown): ErrorClass {
		const kind = this.#classify(error);
		if (kind === "connection" && lease.active) lease.conn.recordFault(performance.now());
		return kind;
	}

	#classify(error: unknown): ErrorClass {
		const classify = this.options.classifyError;
		if (classify === undefined) return "caller";
		try {
			return classify(error);
		} catch {
			return "connection";
		}
	}

	#misuse(lease: Lease<T>, what: "release" | "destroy"): void {
		// Ended by the pool (close deadline, reclaim): the borrower's first release is expected, not misuse.
		if (lease.state === LeaseState.reclaimed) {
			lease.state = LeaseState.released;
			return;
		}
		if (this.#misuseWarned) return;
		this.#misuseWarned = true;
		process.emitWarning(
			`pool "${this.name}": ${what}() called on a lease that was already released, destroyed or reclaimed (connection ${lease.conn.id}); the call was ignored. This warning is shown once per pool.`,
			{ code: "LIFEGUARD_DOUBLE_RELEASE" },
		);
	}
	#checkOwn(lease: Lease<T>): void {
		// A finished lease of this pool is fine whatever became of its connection: the call is then a no-op.
		if (lease instanceof Lease && lease.state !== LeaseState.active && lease.pool === this) return;
		if (!(lease instanceof Lease) || !this.#all.has(lease.conn) || lease.conn.lease !== lease) {
			throw new LeaseError(`pool "${this.name}": release/destroy got something that is not a lease of this pool; pass the object acquire() resolved with`);
		}
	}

	// ── the pump: serve waiters, create connections ──────────────────────────────────────────

	/** Serves waiters from idle connections, then starts the creates still needed. Re-entrant calls fold into one. */
	#pump(): void {
		if (this.#pumping) {
			this.#pumpAgain = true;
			return;
		}
		this.#pumping = true;
		try {
			do {
				this.#pumpAgain = false;
				if (this.#state !== "open") return;
				const now = performance.now();
				while (this.#waiters.length > 0) {
					const conn = this.#takeIdle(now);
					if (conn === undefined) break;
					const waiter = this.#waiters.shift();
					if (waiter === undefined) {
						this.#offer(conn, now);
						break;
					}
					this.#lendTo(waiter, conn, now);
				}
				this.#fill(now);
			} while (this.#pumpAgain);
		} finally {
			this.#pumping = false;
		}
	}

	#fill(now: number): void {
		const o = this.options;
		const forWaiters = this.#waiters.length - this.#creating - this.#returning;
		const forMin = this.#started ? o.min - this.size : 0;
		let wanted = Math.max(forWaiters, forMin);
		while (wanted > 0 && this.size < o.max && this.#creating < o.maxConnecting) {
			if (now < this.#retryAt) {
				this.#armRetry();
				return;
			}
			if (this.#budget !== undefined && !this.#budget.tryReserve()) {
				if (forWaiters > 0) this.#budget.blocked(this as Pool<unknown>);
				return;
			}
			this.#startCreate();
			wanted--;
		}
	}

	#armRetry(): void {
		if (this.#retryTimer !== undefined) return;
		this.#retryTimer = setTimeout(
			() => {
				this.#retryTimer = undefined;
				this.#pump();
			},
			Math.max(0, this.#retryAt - performance.now()) + 1,
		);
		// Background warming alone never keeps the process alive; a pending start() does.
		if (this.#startWaiters.length === 0) this.#retryTimer.unref();
	}

	// ── create ────────────────────────────────────────────────────────────────────────────────

	#startCreate(): void {
		this.#creating++;
		const size = this.size;
		if (size > this.#counters.peakTotal) this.#counters.peakTotal = size;
		const id = ++this.#nextId;
		const generation = this.#generation;
		if (this.watching.connectionCreated) this.#emit(PoolEvent.connectionCreated, { pool: this.name, connectionId: id });
		const started = performance.now();
		const controller = new AbortController();
		this.#createControllers.add(controller);
		const timer = setTimeout(() => controller.abort(new CreateTimeoutError(this.name, this.options.createTimeoutMs)), this.options.createTimeoutMs);
		timer.unref();
		const work = this.#attemptCreate(controller.signal).then(
			(resource) => {
				clearTimeout(timer);
				this.#createControllers.delete(controller);
				this.#created(id, resource, generation, started);
			},
			(error) => {
				clearTimeout(timer);
				this.#createControllers.delete(controller);
				this.#createFailed(id, error);
			},
		);
		this.#track(work);
	}

	/** create + afterCreate, settled by the signal even when the factory ignores it; a late resource is destroyed. */
	#attemptCreate(signal: AbortSignal): Promise<T> {
		const { create, afterCreate } = this.options;
		const attempt = (async () => {
			const resource = await create(signal);
			if (afterCreate !== undefined) {
				try {
					await afterCreate(resource, signal);
				} catch (error) {
					this.#destroyResource(resource);
					throw error;
				}
			}
			return resource;
		})();
		return settleBySignal(attempt, signal, (late) => this.#destroyResource(late));
	}

	#created(id: number, resource: T, generation: number, started: number): void {
		const twin = this.#byResource.get(resource);
		// Lending it would give one connection to two borrowers; it belongs to its twin, so it is not destroyed either.
		if (twin !== undefined || (this.#budget !== undefined && !this.#budget.claim(resource))) {
			const where = twin !== undefined ? `already in the pool (connection ${twin.id})` : "already in another key's pool";
			const problem = `create() returned an object ${where}; it must return a new connection each time`;
			return this.#createFailed(id, new CreateFailedError(this.name, new Error(problem)), true);
		}
		this.#creating--;
		const now = performance.now();
		this.#backoff.succeed();
		this.#createFailing = false;
		this.#retryAt = 0;
		this.#counters.created++;
		this.#counters.create.record(now - started);
		const jitter = this.options.maxLifetimeJitterMs * Math.random();
		const conn = new PooledConnection(id, resource, generation, now, this.options.maxLifetimeMs > 0 ? this.options.maxLifetimeMs - jitter : 0);
		this.#all.add(conn);
		this.#byResource.set(resource, conn);
		this.#ensureHousekeeping();
		if (this.watching.connectionReady) this.#emit(PoolEvent.connectionReady, { pool: this.name, connectionId: id, durationMs: now - started });
		// A socket that died during setup was reported before the pool knew it.
		if (typeof resource === "object" && resource !== null && this.#invalidatedEarly.has(resource)) conn.dead = true;
		const reason = this.#retireReason(conn, now) ?? (this.size > this.options.max ? CloseReason.idle : undefined);
		if (reason !== undefined) this.#retire(conn, reason);
		else {
			// Handed straight to a waiter, it serves an acquire no existing connection could (see reuseRatio).
			if (this.#waiters.length > 0) this.#counters.lentFresh++;
			this.#offer(conn, now);
		}
		this.#checkStarted();
		this.#pump();
	}

	/** `permanent`: no retry can fix it, so waiters fail now rather than at their deadline. */
	#createFailed(id: number, error: unknown, permanent = isPermanentCreateError(error)): void {
		this.#creating--;
		this.#budget?.release();
		if (this.#state !== "open") return;
		const now = performance.now();
		this.#lastCreateError = error;
		this.#createFailing = true;
		this.#counters.createFailures++;
		this.#trouble.bump(now);
		this.#retryAt = now + this.#backoff.fail();
		if (this.watching.connectionClosed) this.#emit(PoolEvent.connectionClosed, { pool: this.name, connectionId: id, reason: CloseReason.error, error });
		if ((this.options.failFast || permanent) && this.#startWaiters.length > 0) {
			const waiting = this.#startWaiters;
			this.#startWaiters = [];
			for (const w of waiting) w.reject(error instanceof Error ? error : new Error(messageOf(error)));
		}
		// No retry will fix a missing driver or an invalid configuration: waiters learn it now, not at their deadline.
		if (permanent) {
			const failure = error instanceof CreateFailedError ? error : new CreateFailedError(this.name, error);
			this.#waiters.drain((w) => this.#fail(w, AcquireFailReason.createError, failure, now));
		}
		if (this.#budget !== undefined) this.#reportIfEmpty(this.#budget);
		this.#pump();
	}

	#checkStarted(): void {
		if (this.#startWaiters.length === 0 || this.#all.size < this.options.min) return;
		const waiting = this.#startWaiters;
		this.#startWaiters = [];
		for (const w of waiting) w.resolve();
	}

	// ── validation, reset, retirement ─────────────────────────────────────────────────────────

	#validate(conn: PooledConnection<T>): void {
		const validate = this.options.validate;
		if (validate === undefined) return;
		conn.state = ConnState.busy;
		this.#returning++;
		const timeoutMs = this.options.validateTimeoutMs;
		const started = performance.now();
		const work = withDeadline(
			(signal) => validate(conn.resource, signal),
			timeoutMs,
			() => new ValidationFailedError(this.name, new Error(`no answer within validateTimeoutMs (${timeoutMs} ms)`)),
		).then(
			(ok) => {
				this.#returning--;
				if (ok === false) return this.#validationFailed(conn, new ValidationFailedError(this.name));
				conn.checkedAt = performance.now();
				conn.recordLatency(conn.checkedAt - started);
				this.#returnToService(conn);
			},
			(error) => {
				this.#returning--;
				this.#validationFailed(conn, error instanceof ValidationFailedError ? error : new ValidationFailedError(this.name, error));
			},
		);
		this.#track(work);
	}

	#validationFailed(conn: PooledConnection<T>, error: ValidationFailedError): void {
		this.#counters.validationFailures++;
		conn.recordFault(performance.now());
		this.#retire(conn, CloseReason.error, error);
		this.#afterReturn();
	}

	/**
	 * Runs the reset hook; a failed reset destroys the connection. A reset that finishes
	 * synchronously (nothing to clean) offers the connection at once: the deadline machinery
	 * (a timer, a controller, promises) cost a quarter of the throughput of a trivial reset.
	 * An asynchronous one is bounded by validateTimeoutMs.
	 */
	#resetThenOffer(conn: PooledConnection<T>, now: number | undefined): void {
		const reset = this.options.reset;
		if (reset === undefined) return;
		let result: void | Promise<void>;
		try {
			result = reset(conn.resource);
		} catch (error) {
			conn.recordFault(performance.now());
			this.#retire(conn, CloseReason.error, error);
			return;
		}
		if (!isThenable(result)) return this.#offer(conn, now);
		conn.state = ConnState.busy;
		this.#returning++;
		const timeoutMs = this.options.validateTimeoutMs;
		const work = withDeadline(
			() => result,
			timeoutMs,
			() => new Error(`reset took longer than validateTimeoutMs (${timeoutMs} ms)`),
		).then(
			() => {
				this.#returning--;
				this.#returnToService(conn);
			},
			(error) => {
				this.#returning--;
				conn.recordFault(performance.now());
				this.#retire(conn, CloseReason.error, error);
				this.#afterReturn();
			},
		);
		this.#track(work);
	}

	#returnToService(conn: PooledConnection<T>): void {
		const now = performance.now();
		const reason = this.#retireReason(conn, now);
		if (reason !== undefined) this.#retire(conn, reason);
		else this.#offer(conn, now);
		this.#afterReturn();
	}

	#afterReturn(): void {
		this.#notifyIfDrained();
		this.#pump();
	}

	/** Closes a connection for good. The caller has already taken it out of the idle list. */
	#retire(conn: PooledConnection<T>, reason: CloseReason, error?: unknown): void {
		if (conn.state === ConnState.closed) return;
		if (conn.lease !== null) {
			conn.lease.state = LeaseState.reclaimed;
			conn.lease = null;
			this.#active--;
		}
		conn.state = ConnState.closed;
		this.#all.delete(conn);
		this.#byResource.delete(conn.resource);
		const c = this.#counters;
		c.destroyed++;
		c.destroyedByReason[reason]++;
		if (reason === CloseReason.error || reason === CloseReason.unhealthy) this.#trouble.bump(performance.now());
		if (this.watching.connectionClosed) this.#emit(PoolEvent.connectionClosed, { pool: this.name, connectionId: conn.id, reason, error });
		this.#destroyResource(conn.resource);
		if (this.#budget !== undefined) {
			this.#budget.unclaim(conn.resource);
			this.#budget.release();
			this.#reportIfEmpty(this.#budget);
		}
		if (this.#state === "open") this.#pump();
	}

	#reportIfEmpty(budget: PoolBudget): void {
		if (this.#all.size === 0 && this.#creating === 0 && this.#waiters.length === 0) budget.empty(this as Pool<unknown>);
	}

	/** Destroys a resource, bounded by destroyTimeoutMs; its errors are swallowed, never unhandled. */
	#destroyResource(resource: T): void {
		const destroy = this.options.destroy;
		if (destroy === undefined) return;
		const attempt = (async () => destroy(resource))().catch(() => {});
		let timer: NodeJS.Timeout | undefined;
		const bounded = Promise.race([attempt, new Promise<void>((resolve) => (timer = setTimeout(resolve, this.options.destroyTimeoutMs).unref()))]).then(() =>
			clearTimeout(timer),
		);
		this.#track(bounded);
	}

	#track(work: Promise<unknown>): void {
		this.#pendingWork.add(work);
		work.finally(() => this.#pendingWork.delete(work)).catch(() => {});
	}

	// ── housekeeping: idle eviction, lifetime, keepalive, leaks, min ──────────────────────────

	#ensureHousekeeping(): void {
		if (this.#state === "open") this.#housekeeper.start();
	}

	#housekeep(): void {
		const o = this.options;
		const now = performance.now();
		if (this.#idle.length > 0) {
			// Collect first, act after: retiring pumps, and the pump must not see the idle list mid-filter.
			const retired: [PooledConnection<T>, CloseReason][] = [];
			const due: PooledConnection<T>[] = [];
			let excess = this.size - o.min;
			const keepalive = o.healthCheckIntervalMs > 0 && o.validate !== undefined;
			const reference = medianLatency(this.#all);
			this.#idle.filter((conn) => {
				conn.idleSince ??= now;
				const reason = this.#retireReason(conn, now, reference);
				if (reason !== undefined) retired.push([conn, reason]);
				else if (o.idleTimeoutMs > 0 && excess > 0 && now - conn.idleSince >= o.idleTimeoutMs) {
					excess--;
					retired.push([conn, CloseReason.idle]);
				} else if (keepalive && now - conn.checkedAt >= o.healthCheckIntervalMs) due.push(conn);
				else return true;
				return false;
			});
			for (const [conn, reason] of retired) this.#retire(conn, reason);
			for (const conn of due) this.#validate(conn);
		}
		for (const conn of this.#all) if (now >= conn.retireAt) conn.expired = true;
		if (o.leakDetectionMs > 0 || o.reclaimAfterMs > 0) this.#checkLeaks(now);
		this.#pump();
	}

	#checkLeaks(now: number): void {
		const o = this.options;
		for (const conn of this.#all) {
			const lease = conn.lease;
			if (lease === null) continue;
			// Leak detection times every lease (LeaseClock.always), so acquiredAt is known.
			const heldMs = now - (lease.acquiredAt ?? now);
			if (o.leakDetectionMs > 0 && heldMs >= o.leakDetectionMs && this.#countLeak(lease)) {
				if (this.watching.leakDetected) {
					this.#emit(PoolEvent.leakDetected, { pool: this.name, connectionId: conn.id, heldMs, stack: lease.stack });
				} else {
					process.emitWarning(
						`pool "${this.name}": connection ${conn.id} has been leased for ${Math.round(heldMs)} ms (leakDetectionMs ${o.leakDetectionMs}); borrower's stack:\n${lease.stack ?? "(not captured)"}`,
						{
							code: "LIFEGUARD_LEAK",
						},
					);
				}
			}
			if (o.reclaimAfterMs > 0 && heldMs >= o.reclaimAfterMs) {
				this.#countLeak(lease);
				this.#retire(conn, CloseReason.leaked);
			}
		}
		this.#notifyIfDrained();
	}

	/** Counts a lease as leaked once, whichever of leak detection and reclaim sees it first; true the first time. */
	#countLeak(lease: Lease<T>): boolean {
		if (lease.leakReported) return false;
		lease.leakReported = true;
		this.#counters.leaks++;
		return true;
	}

	// ── close ─────────────────────────────────────────────────────────────────────────────────

	async #close(timeoutMs: number): Promise<void> {
		this.#state = "closing";
		const now = performance.now();
		this.#waiters.drain((w) => this.#fail(w, AcquireFailReason.poolClosed, new PoolClosedError(this.name), now));
		const starting = this.#startWaiters;
		this.#startWaiters = [];
		for (const w of starting) w.reject(new PoolClosedError(this.name));
		for (const controller of this.#createControllers) controller.abort(new PoolClosedError(this.name));
		this.#housekeeper.stop();
		clearTimeout(this.#retryTimer);
		let conn = this.#idle.shift();
		while (conn !== undefined) {
			this.#retire(conn, CloseReason.poolClosed);
			conn = this.#idle.shift();
		}
		// CMAP's order: marked closed once the idle connections are gone, before the leased ones come back.
		if (this.watching.poolClosed) this.#emit(PoolEvent.poolClosed, { pool: this.name });
		if (this.#active > 0 || this.#returning > 0) {
			let timer: NodeJS.Timeout | undefined;
			await Promise.race([
				new Promise<void>((resolve) => this.#drainedWaiters.push(resolve)),
				new Promise<void>((resolve) => {
					if (timeoutMs !== Number.POSITIVE_INFINITY) timer = setTimeout(resolve, timeoutMs).unref();
				}),
			]);
			clearTimeout(timer);
			for (const leased of [...this.#all]) this.#retire(leased, CloseReason.poolClosed);
		}
		while (this.#pendingWork.size > 0) await Promise.allSettled([...this.#pendingWork]);
		// A connection that finished validation or reset during the wait is closed here.
		for (const left of [...this.#all]) this.#retire(left, CloseReason.poolClosed);
		while (this.#pendingWork.size > 0) await Promise.allSettled([...this.#pendingWork]);
		this.#state = "closed";
	}

	/** Wakes close() once no lease is out and nothing is being validated or reset. */
	#notifyIfDrained(): void {
		if (this.#active > 0 || this.#returning > 0 || this.#drainedWaiters.length === 0) return;
		const waiting = this.#drainedWaiters;
		this.#drainedWaiters = [];
		for (const resolve of waiting) resolve();
	}

	// ── health ────────────────────────────────────────────────────────────────────────────────

	/**
	 * Pool health 0-100 (see poolHealthScore), and 0 while every create fails and no connection
	 * is open, or once closed.
	 */
	#healthScore(now: number, reference = medianLatency(this.#all)): number {
		if (this.#state === "closed") return 0;
		if (this.#createFailing && this.#all.size === 0) return 0;
		return poolHealthScore(this.#all, now, reference, this.#trouble.valueAt(now));
	}

	#snapshot(): PoolStateSnapshot {
		return {
			size: this.size,
			idle: this.#idle.length,
			inUse: this.#active,
			creating: this.#creating,
			waiters: this.#waiters.length,
			max: this.options.max,
			lastCreateError: this.#createFailing ? messageOf(this.#lastCreateError) : undefined,
		};
	}

	// ── keyed-pool hooks ──────────────────────────────────────────────────────────────────────

	/** @internal Closes one idle connection to free budget for another key; false when none is idle. */
	evictOneIdle(): boolean {
		const conn = this.#idle.shift();
		if (conn === undefined) return false;
		this.#retire(conn, CloseReason.idle);
		return true;
	}

	/** @internal Asks the pool to serve its waiters again (budget freed). */
	poke(): void {
		this.#pump();
	}
}

/** Create errors that retrying cannot fix (the adapter says so through the error's code; ). */
function isPermanentCreateError(error: unknown): boolean {
	return error instanceof LifeguardError && (error.code === ErrorCode.DRIVER_MISSING || error.code === ErrorCode.CONFIG_INVALID);
}

/** The options without functions, for the poolCreated event. */
function describeOptions<T>(o: ResolvedPoolOptions<T>): Record<string, unknown> {
	return Object.fromEntries(Object.entries(o).filter(([k, v]) => typeof v !== "function" && k !== "budget"));
}

/** The deadline `close(options)` gives leases; throws CONFIG_INVALID for a bad one (0 destroys them at once, Infinity waits). @internal */
export function closeTimeout(subject: string, options: CloseOptions | undefined): number {
	const timeoutMs = options?.timeoutMs === undefined ? CLOSE_TIMEOUT_MS : options.timeoutMs;
	const problem = durationProblem(timeoutMs, CLOSE_TIMEOUT_RULES);
	checkCloseOptions(subject, options, problem);
	return timeoutMs;
}

/** Creates a pool. See {@link PoolOptions} for every option and its default. */
export function createPool<T>(options: PoolOptions<T>): Pool<T> {
	const pool = new Pool<T>(options);
	return pool;
}
