import { performance } from "node:perf_hooks";
import { ConnectionChecks } from "./checks.ts";
import { ConnState, PooledConnection } from "./connection.ts";
import { externalBudget } from "./connection-budget.ts";
import { Connector } from "./connector.ts";
import { boundedSettle } from "./deadline.ts";
import { DecayingCounter, TROUBLE_HALF_LIFE_MS } from "./decay.ts";
import { Deque } from "./deque.ts";
import {
	AcquireAbortedError,
	CreateFailedError,
	LeaseError,
	messageOf,
	PoolClosedError,
	type PoolStateSnapshot,
	PoolTimeoutError,
	QueueFullError,
} from "./errors.ts";
import { AcquireFailReason, CloseReason, PoolEvent, type PoolEvents } from "./events.ts";
import { connectionHealth, medianLatency, poolHealthScore } from "./health-score.ts";
import { Housekeeper, sweepIdle } from "./housekeeper.ts";
import { type LeakReport, LeakWatch } from "./leaks.ts";
import { Lease, type LeaseOwner, LeaseState, MisuseGuard } from "./lease.ts";
import { LeaseClock } from "./lease-clock.ts";
import { DrainLatch, Once, PendingWork, StartLatch } from "./lifecycle.ts";
import { classifyWith, type ErrorClass, type PoolOptions, type ResolvedPoolOptions, resolvePoolOptions } from "./options.ts";
import {
	type AcquireOptions,
	acquireOptionsError,
	type CloseOptions,
	closeTimeout,
	describeOptions,
	fastPathAllowed,
	isPermanentCreateError,
	type PoolBudget,
	type PoolHealth,
	resizeTarget,
} from "./pool-types.ts";
import { Retirement } from "./retirement.ts";
import { PoolCounters, type PoolStats, statsSnapshot } from "./stats.ts";
import { Waiter, Waiters } from "./waiters.ts";
import { WatchedEmitter } from "./watched-emitter.ts";
import { withLease } from "./with-lease.ts";

export type { AcquireOptions, CloseOptions, ConnectionHealth, PoolBudget, PoolHealth } from "./pool-types.ts";
export { closeTimeout } from "./pool-types.ts";

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
	readonly #owner: LeaseOwner<T>;
	#budget: PoolBudget | undefined;
	readonly #lifo: boolean;
	/** The one decision whether a connection retires (and the pool's generation). */
	readonly #retirement: Retirement;
	/** Opens connections: creates in flight (they count toward `max`), backoff, create deadline. */
	readonly #connector: Connector<T>;
	/** Validation and reset: connections in them are counted, soon offered. */
	readonly #checks: ConnectionChecks<T>;
	readonly #leaks: LeakWatch;
	readonly #housekeeper: Housekeeper;
	readonly #pending = new PendingWork();
	readonly #drained = new DrainLatch();
	readonly #closing = new Once();
	#active = 0;
	#nextId = 0;
	#started = false;
	#announced = false;
	#state: "open" | "closing" | "closed" = "open";
	readonly #starting = new StartLatch();
	#pumping = false;
	#pumpAgain = false;
	readonly #misuse: MisuseGuard;
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
		this.#retirement = new Retirement(this.options.unhealthyThreshold);
		this.#waiters = new Waiters<Lease<T>>(this.options.priorityLevels, (w, now) => this.#expireWaiter(w, now));
		this.#housekeeper = new Housekeeper(this.options as ResolvedPoolOptions<unknown>, () => this.#housekeep());
		this.#misuse = new MisuseGuard(this.name);
		this.#leaks = new LeakWatch(this.name, this.options, this.#counters);
		const track = (work: Promise<unknown>) => this.#pending.track(work);
		this.#connector = new Connector<T>(this.options, {
			opening: (id) => this.#opening(id),
			created: (id, resource, generation, started) => this.#created(id, resource, generation, started),
			createFailed: (id, error) => this.#createFailed(id, error),
			destroyResource: (resource) => this.#destroyResource(resource),
			track,
			retry: () => this.#pump(),
			starting: () => this.#starting.pending,
		});
		this.#checks = new ConnectionChecks<T>(this.options, {
			returnToService: (conn) => this.#returnToService(conn),
			offer: (conn, now) => this.#offer(conn, now),
			retire: (conn, reason, error) => this.#retire(conn, reason, error),
			settled: () => this.#afterReturn(),
			track,
			validationFailed: () => this.#counters.validationFailures++,
		});
		this.#owner = {
			release: (lease) => this.#release(lease, undefined, false),
			destroy: (lease, error) => this.#release(lease, error, true),
			reportError: (lease, error) => this.#reportError(lease, error),
			misuse: (lease, what) => this.#misuse.ended(lease, what),
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
		if (this.#state !== "open") return Promise.reject(this.#failNow(AcquireFailReason.poolClosed, new PoolClosedError(this.name), performance.now()));
		const stack = this.options.leakDetectionMs > 0 ? new Error("lease acquired here").stack : undefined;
		// The sampler decides here, once per acquire, whether this one is timed: its wait, if it waits, and its lease.
		const now = this.#clock.sample(this.#counters.acquiredOk);
		if (this.#waiters.length === 0 && (options === undefined || fastPathAllowed(options))) {
			const conn = this.#takeIdle(now);
			if (conn !== undefined) return Promise.resolve(this.#lend(conn, now, now === undefined ? undefined : 0, stack));
		}
		return this.#enqueue(options, now, stack);
	}

	/**
	 * `acquire()` without a promise, for adapters that hand connections to callbacks (the
	 * drop-ins): `onLease(lease, context)` or `onError(error, context)` runs exactly once, with
	 * the same rules, deadlines and errors as `acquire()`. It may run before this call returns
	 * (an idle connection, an error found at once) or inside the `release()` that frees a
	 * connection for it, like an event listener: a caller that owes its own callers an
	 * asynchronous answer defers it. `context` is handed back as it is, so that handlers can be
	 * made once instead of a closure per call. Saves the promise, its reactions and their
	 * microtask on every checkout.
	 */
	acquireWith<C>(onLease: (lease: Lease<T>, context: C) => void, onError: (error: Error, context: C) => void, context: C, options?: AcquireOptions): void {
		// acquire()'s steps, answered through the callbacks. Kept apart, not shared through a helper: the
		// fast path of acquire() loses a sixth of its speed to one more call (measured, one caller).
		if (this.watching.acquireStarted) this.#emit(PoolEvent.acquireStarted, { pool: this.name });
		if (this.#state !== "open") return onError(this.#failNow(AcquireFailReason.poolClosed, new PoolClosedError(this.name), performance.now()), context);
		const stack = this.options.leakDetectionMs > 0 ? new Error("lease acquired here").stack : undefined;
		const now = this.#clock.sample(this.#counters.acquiredOk);
		if (this.#waiters.length === 0 && (options === undefined || fastPathAllowed(options))) {
			const conn = this.#takeIdle(now);
			if (conn !== undefined) return onLease(this.#lend(conn, now, now === undefined ? undefined : 0, stack), context);
		}
		const resolve = onLease as (lease: Lease<T>, context: unknown) => void;
		this.#wait(options, now, stack, resolve, onError as (error: Error, context: unknown) => void, context);
	}

	/**
	 * A lease of an idle connection that is ready now, or undefined: never waits, never creates,
	 * never queues. Undefined when the pool is not open, when callers are already waiting (they
	 * come first), or when no idle connection passes the checks (perished ones are retired and
	 * long-idle ones sent to validation on the way, as `acquire()` does). For adapters whose
	 * waiting path differs from their idle path (the HTTP client ties a wait to its call's signal
	 * and to failed connects): try this, and `acquire()` when it gives nothing.
	 * Unlike `acquire()` it counts and emits only a lend (`acquireStarted` then `acquired`): an
	 * undefined answer is no failure, and the `acquire()` that follows emits its own start, after
	 * any retirements this call made. When it finds nothing after all, the lease-timing sample it
	 * drew is spent (the next borrow is timed a turn later).
	 */
	tryAcquire(): Lease<T> | undefined {
		if (this.#state !== "open" || this.#waiters.length > 0 || this.#idle.length === 0) return undefined;
		const now = this.#clock.sample(this.#counters.acquiredOk);
		const conn = this.#takeIdle(now);
		if (conn === undefined) return undefined;
		if (this.watching.acquireStarted) this.#emit(PoolEvent.acquireStarted, { pool: this.name });
		const stack = this.options.leakDetectionMs > 0 ? new Error("lease acquired here").stack : undefined;
		return this.#lend(conn, now, now === undefined ? undefined : 0, stack);
	}

	/**
	 * Fails the acquire that has waited longest with `error`, counted and emitted as a create
	 * error; false when nobody waits. For adapters whose drivers fail the caller whose connection
	 * attempt failed (pg-pool, mysql2, MongoDB's CMAP) instead of letting it wait for the next
	 * attempt: `create` calls it as its attempt fails. The other waiters keep waiting.
	 */
	failOldestWaiter(error: Error): boolean {
		const waiter = this.#waiters.shift();
		if (waiter === undefined) return false;
		waiter.settle();
		this.#fail(waiter, AcquireFailReason.createError, error, performance.now());
		return true;
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
		const ready = this.#starting.wait();
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
		const from = { min: this.options.min, max: this.options.max };
		// The shape is checked before the state: a call that could never work says so even on a closed pool.
		if (sizes === null || typeof sizes !== "object") resizeTarget(this.name, sizes, from);
		if (this.#state !== "open") throw new PoolClosedError(this.name);
		const to = resizeTarget(this.name, sizes, from);
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
		const generation = ++this.#retirement.generation;
		if (this.watching.poolCleared) this.#emit(PoolEvent.poolCleared, { pool: this.name, generation });
		this.#retireIdle(CloseReason.stale);
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
		return this.#closing.run(() => this.#close(timeoutMs));
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
		return this.#all.size + this.#connector.creating;
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
		return this.#connector.creating;
	}

	/**
	 * Takes a lease back from a borrower that will not return it (an id-based API's expired
	 * lease, a stuck job): its connection is destroyed with reason `leaked` and counted as a leak;
	 * the borrower's late release is a no-op.
	 */
	reclaim(lease: Lease<T>, error?: unknown): void {
		this.#checkOwn(lease);
		if (!lease.active) return;
		this.#leaks.count(lease);
		this.#retire(lease.conn, CloseReason.leaked, error);
		this.#notifyIfDrained();
	}

	/** True while the pool has no connection and its creates are failing: the backend looks down. */
	get unavailable(): boolean {
		return this.#connector.failing && this.#all.size === 0;
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
		const lastCreateError = this.#connector.lastError;
		return statsSnapshot(
			{
				name: this.name,
				state: this.#state,
				generation: this.#retirement.generation,
				min: this.options.min,
				max: this.options.max,
				total: this.size,
				active: this.#active,
				idle: this.#idle.length,
				creating: this.#connector.creating,
				pending: this.#waiters.length,
				healthScore: this.#healthScore(performance.now()),
				lastCreateError: lastCreateError === undefined ? undefined : messageOf(lastCreateError),
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
		return { score: this.#healthScore(now, reference), connections: [...this.#all].map((conn) => connectionHealth(conn, now, reference)) };
	}

	// ── acquire ───────────────────────────────────────────────────────────────────────────────

	/** Events cost nothing when nobody listens: callers check `watching` before building a payload. */
	#emit<E extends keyof PoolEvents>(event: E, ...payload: PoolEvents[E]): void {
		// poolCreated is deferred a tick for late listeners, yet must still come first when work starts sooner.
		if (!this.#announced) this.#announceCreated();
		this.emitSafely(event, ...payload);
	}

	protected override watchChanged(): void {
		this.#clock.always = this.#mustTime || this.watching.acquired;
	}

	/** The waiting acquire() as a promise. A method of its own: a closure in acquire() would cost every acquire a context, the fast path's too. */
	#enqueue(options: AcquireOptions | undefined, now: number | undefined, stack: string | undefined): Promise<Lease<T>> {
		return new Promise<Lease<T>>((resolve, reject) => this.#wait(options, now, stack, resolve, reject, undefined));
	}

	/**
	 * Queues the caller (or fails it at once: bad options, aborted signal, full queue); `resolve` or
	 * `reject` runs exactly once. `sampled`: the time when the sampler chose to time this acquire,
	 * else undefined; an untimed wait with no deadline reads no clock at all, here or when it is served.
	 */
	#wait(
		options: AcquireOptions | undefined,
		sampled: number | undefined,
		stack: string | undefined,
		resolve: (lease: Lease<T>, context: unknown) => void,
		reject: (error: Error, context: unknown) => void,
		context: unknown,
	): void {
		// `=== undefined`, not `??`: a null timeout is a mistake to report, not a request for the default.
		const timeoutMs = options?.timeoutMs === undefined ? this.options.acquireTimeoutMs : options.timeoutMs;
		// The defaults were checked at construction: only a caller's own values need checking on each wait.
		if (options !== undefined) {
			const invalid = acquireOptionsError(this.name, options, this.options.priorityLevels);
			if (invalid !== undefined) return reject(invalid, context);
		}
		const signal = options?.signal;
		if (signal?.aborted) {
			return reject(this.#failNow(AcquireFailReason.aborted, new AcquireAbortedError(this.name, signal.reason), sampled ?? performance.now()), context);
		}
		// generic-pool's rule: only callers with nothing idle and no room to create count against maxWaiters.
		if (this.#waiters.length >= this.options.maxWaiters && this.#idle.length === 0 && this.size >= this.options.max) {
			return reject(
				this.#failNow(AcquireFailReason.queueFull, new QueueFullError(this.name, this.options.maxWaiters, this.#snapshot()), sampled ?? performance.now()),
				context,
			);
		}
		// A deadline needs the start; so does a failure event's duration. Otherwise an untimed wait starts at an unknown time (NaN).
		const bounded = timeoutMs !== Number.POSITIVE_INFINITY;
		const now = sampled ?? (bounded || this.watching.acquireFailed ? performance.now() : Number.NaN);
		const waiter = new Waiter<Lease<T>>(resolve, reject, context, now, bounded ? now + timeoutMs : Number.POSITIVE_INFINITY, sampled !== undefined);
		waiter.priority = options?.priority ?? 0;
		waiter.stack = stack;
		if (signal !== undefined) {
			waiter.watch(signal, () => {
				this.#waiters.cancel(waiter);
				this.#fail(waiter, AcquireFailReason.aborted, new AcquireAbortedError(this.name, signal.reason), performance.now());
			});
		}
		this.#waiters.push(waiter);
		if (this.#waiters.length > this.#counters.peakPending) this.#counters.peakPending = this.#waiters.length;
		// With nothing idle only creation can help: skip the full pump (and its clock read).
		if (this.#idle.length > 0 || this.#pumping) this.#pump();
		else this.#fill(Number.isNaN(now) ? undefined : now);
	}

	/**
	 * Takes an idle connection that is ready to lend; retires perished ones (the one
	 * {@link Retirement} decision), starts validation of long-idle ones. `now` is undefined on an
	 * untimed borrow: the housekeeper then catches expired connections instead.
	 */
	#takeIdle(now: number | undefined): PooledConnection<T> | undefined {
		for (;;) {
			const conn = this.#lifo ? this.#idle.pop() : this.#idle.shift();
			if (conn === undefined) return undefined;
			const reason = this.#retirement.reason(conn, now);
			if (reason !== undefined) this.#retire(conn, reason);
			else if (now !== undefined && conn.idleSince !== undefined && now - conn.idleSince > this.#validateAfterMs) this.#checks.validate(conn);
			else return conn;
		}
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

	/**
	 * `now`: the time if the caller has read it (the pump has; an untimed release has not). The
	 * lease is timed when the wait was (the sampler chose at the acquire), or when every lease must
	 * be and the wait began before that was so (its wait then goes unmeasured).
	 */
	#lendTo(waiter: Waiter<Lease<T>>, conn: PooledConnection<T>, now: number | undefined): void {
		waiter.settle();
		let acquiredAt: number | undefined;
		let waitMs: number | undefined;
		if (waiter.timed) {
			acquiredAt = now ?? performance.now();
			waitMs = acquiredAt - waiter.startedAt;
		} else if (this.#clock.always) acquiredAt = now ?? performance.now();
		const lease = this.#lend(conn, acquiredAt, waitMs, waiter.stack);
		// An acquireWith handler runs inside the core's own work (a release, the pump, close): what it throws must not unwind it.
		try {
			waiter.resolve(lease, waiter.context);
		} catch (error) {
			process.nextTick(rethrow, error);
		}
	}

	#failNow(reason: AcquireFailReason, error: Error, now: number): Error {
		this.#countFailure(reason, error, now, now);
		return error;
	}

	#fail(waiter: Waiter<Lease<T>>, reason: AcquireFailReason, error: Error, now: number): void {
		this.#countFailure(reason, error, waiter.startedAt, now);
		try {
			waiter.reject(error, waiter.context);
		} catch (thrown) {
			process.nextTick(rethrow, thrown);
		}
		this.#reportIfEmpty();
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
		const cause = this.#connector.failing ? this.#connector.lastError : undefined;
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
			const reason = this.#retirement.reason(conn, now) ?? this.#surplusReason();
			const reset = this.options.reset;
			if (reason !== undefined) this.#retire(conn, reason);
			else if (reset !== undefined) this.#checks.resetThenOffer(conn, now, reset);
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

	/** After a validation or reset: the connection is retired or offered, by the same decision as on release. */
	#returnToService(conn: PooledConnection<T>): void {
		const now = performance.now();
		const reason = this.#retirement.reason(conn, now);
		if (reason !== undefined) this.#retire(conn, reason);
		else this.#offer(conn, now);
		this.#afterReturn();
	}

	#afterReturn(): void {
		this.#notifyIfDrained();
		this.#pump();
	}

	#reportError(lease: Lease<T>, error: unknown): ErrorClass {
		const kind = classifyWith(this.options.classifyError, error);
		if (kind === "connection" && lease.active) lease.conn.recordFault(performance.now());
		return kind;
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

	/** Starts the creates still needed: for waiters no create or check in flight will serve, and up to `min` once started. */
	#fill(now: number | undefined): void {
		const o = this.options;
		// A full pool creates nothing: the common case under load, decided before the counting below.
		if (this.size >= o.max) return;
		const connector = this.#connector;
		const forWaiters = this.#waiters.length - connector.creating - this.#checks.inFlight;
		const forMin = this.#started ? o.min - this.size : 0;
		let wanted = Math.max(forWaiters, forMin);
		while (wanted > 0 && this.size < o.max && connector.creating < o.maxConnecting) {
			if (connector.backingOff((now ??= performance.now()))) return;
			if (this.#budget !== undefined && !this.#budget.tryReserve()) {
				if (forWaiters > 0) this.#budget.blocked(this as Pool<unknown>);
				return;
			}
			connector.start(++this.#nextId, this.#retirement.generation);
			wanted--;
		}
	}

	// ── create ────────────────────────────────────────────────────────────────────────────────

	/** A create is counted and about to run. */
	#opening(id: number): void {
		const size = this.size;
		if (size > this.#counters.peakTotal) this.#counters.peakTotal = size;
		if (this.watching.connectionCreated) this.#emit(PoolEvent.connectionCreated, { pool: this.name, connectionId: id });
	}

	#created(id: number, resource: T, generation: number, started: number): void {
		const twin = this.#byResource.get(resource);
		// Lending it would give one connection to two borrowers; it belongs to its twin, so it is not destroyed either.
		if (twin !== undefined || (this.#budget !== undefined && !this.#budget.claim(resource))) {
			const where = twin !== undefined ? `already in the pool (connection ${twin.id})` : "already in another key's pool";
			const problem = `create() returned an object ${where}; it must return a new connection each time`;
			return this.#createFailed(id, new CreateFailedError(this.name, new Error(problem)), true);
		}
		const now = performance.now();
		this.#connector.succeeded();
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
		const reason = this.#retirement.reason(conn, now) ?? (this.size > this.options.max ? CloseReason.idle : undefined);
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
		this.#budget?.release();
		if (this.#state !== "open") return;
		const now = performance.now();
		this.#connector.failed(now, error);
		this.#counters.createFailures++;
		this.#trouble.bump(now);
		if (this.watching.connectionClosed) this.#emit(PoolEvent.connectionClosed, { pool: this.name, connectionId: id, reason: CloseReason.error, error });
		if (this.options.failFast || permanent) this.#starting.reject(error instanceof Error ? error : new Error(messageOf(error)));
		// No retry will fix a missing driver or an invalid configuration: waiters learn it now, not at their deadline.
		if (permanent) {
			const failure = error instanceof CreateFailedError ? error : new CreateFailedError(this.name, error);
			this.#waiters.drain((w) => this.#fail(w, AcquireFailReason.createError, failure, now));
		}
		this.#reportIfEmpty();
		this.#pump();
	}

	#checkStarted(): void {
		if (this.#all.size >= this.options.min) this.#starting.resolve();
	}

	// ── retirement ────────────────────────────────────────────────────────────────────────────

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
			this.#reportIfEmpty();
		}
		if (this.#state === "open") this.#pump();
	}

	/** Retires every idle connection (clear, close). */
	#retireIdle(reason: CloseReason): void {
		let conn = this.#idle.shift();
		while (conn !== undefined) {
			this.#retire(conn, reason);
			conn = this.#idle.shift();
		}
	}

	#reportIfEmpty(): void {
		const budget = this.#budget;
		if (budget !== undefined && this.#all.size === 0 && this.#connector.creating === 0 && this.#waiters.length === 0) budget.empty(this as Pool<unknown>);
	}

	/** Destroys a resource, bounded by destroyTimeoutMs; its errors are swallowed, never unhandled. */
	#destroyResource(resource: T): void {
		const destroy = this.options.destroy;
		if (destroy !== undefined) this.#pending.track(boundedSettle(() => destroy(resource), this.options.destroyTimeoutMs));
	}

	// ── housekeeping: idle eviction, lifetime, keepalive, leaks, min ──────────────────────────

	#ensureHousekeeping(): void {
		if (this.#state === "open") this.#housekeeper.start();
	}

	#housekeep(): void {
		const o = this.options;
		const now = performance.now();
		if (this.#idle.length > 0) {
			const reference = medianLatency(this.#all);
			const sweep = sweepIdle(this.#idle, now, o, this.size - o.min, (conn) => this.#retirement.reason(conn, now, reference));
			for (const [conn, reason] of sweep.retired) this.#retire(conn, reason);
			for (const conn of sweep.due) this.#checks.validate(conn);
		}
		// Untimed borrows and releases skip the lifetime check: this marks what they missed.
		for (const conn of this.#all) if (now >= conn.retireAt) conn.expired = true;
		if (this.#leaks.enabled) {
			const report = this.watching.leakDetected ? (leak: LeakReport) => this.#emit(PoolEvent.leakDetected, { pool: this.name, ...leak }) : undefined;
			this.#leaks.check(this.#all, now, report, (conn) => this.#retire(conn, CloseReason.leaked));
			this.#notifyIfDrained();
		}
		this.#pump();
	}

	// ── close ─────────────────────────────────────────────────────────────────────────────────

	async #close(timeoutMs: number): Promise<void> {
		this.#state = "closing";
		this.#retirement.poolClosed = true;
		const now = performance.now();
		this.#waiters.drain((w) => this.#fail(w, AcquireFailReason.poolClosed, new PoolClosedError(this.name), now));
		this.#starting.reject(new PoolClosedError(this.name));
		this.#connector.stop(new PoolClosedError(this.name));
		this.#housekeeper.stop();
		this.#retireIdle(CloseReason.poolClosed);
		// CMAP's order: marked closed once the idle connections are gone, before the leased ones come back.
		if (this.watching.poolClosed) this.#emit(PoolEvent.poolClosed, { pool: this.name });
		if (this.#active > 0 || this.#checks.inFlight > 0) {
			await this.#drained.wait(timeoutMs);
			for (const leased of [...this.#all]) this.#retire(leased, CloseReason.poolClosed);
		}
		await this.#pending.settle();
		// A connection that finished validation or reset during the wait is closed here.
		for (const left of [...this.#all]) this.#retire(left, CloseReason.poolClosed);
		await this.#pending.settle();
		this.#state = "closed";
	}

	/** Wakes close() once no lease is out and nothing is being validated or reset. */
	#notifyIfDrained(): void {
		if (this.#active === 0 && this.#checks.inFlight === 0) this.#drained.notify();
	}

	// ── health ────────────────────────────────────────────────────────────────────────────────

	/**
	 * Pool health 0-100 (see poolHealthScore), and 0 while every create fails and no connection
	 * is open, or once closed.
	 */
	#healthScore(now: number, reference = medianLatency(this.#all)): number {
		if (this.#state === "closed") return 0;
		if (this.unavailable) return 0;
		return poolHealthScore(this.#all, now, reference, this.#trouble.valueAt(now));
	}

	#snapshot(): PoolStateSnapshot {
		return {
			size: this.size,
			idle: this.#idle.length,
			inUse: this.#active,
			creating: this.#connector.creating,
			waiters: this.#waiters.length,
			max: this.options.max,
			lastCreateError: this.#connector.failing ? messageOf(this.#connector.lastError) : undefined,
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

function rethrow(error: unknown): never {
	throw error;
}

/** Creates a pool. See {@link PoolOptions} for every option and its default. */
export function createPool<T>(options: PoolOptions<T>): Pool<T> {
	return new Pool<T>(options);
}
