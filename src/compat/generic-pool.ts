/**
 * generic-pool v3's API on the lifeguard core. Change `from "generic-pool"` to
 * `from "lifeguard/compat/generic-pool"` and keep your code: same factory, options, defaults,
 * methods, counters, events and error messages. Underneath, the core's invariants hold (never
 * more than `max`, a resource never lent twice, creation retried with backoff instead of a busy
 * loop). docs/compat-generic-pool.md lists every place where the behaviour differs and why.
 */
import { EventEmitter } from "node:events";
import { ConfigError, type ConfigProblem, ErrorCode, LifeguardError, type PoolStateSnapshot, PoolTimeoutError } from "../core/errors.ts";
import type { Lease } from "../core/lease.ts";
import { LinkedSet } from "../core/linked-set.ts";
import { POOL_DEFAULTS, type PoolOptions } from "../core/options.ts";
import { type Pool as CorePool, createPool as createCorePool } from "../core/pool.ts";

/** What generic-pool calls a factory: how to make, destroy and (optionally) check one resource. */
export interface Factory<T> {
	/** Makes a resource; a rejection (or throw) emits `factoryCreateError` and the pool retries. */
	create(): T | PromiseLike<T>;
	/** Destroys a resource; a rejection (or timeout) emits `factoryDestroyError`. */
	destroy(resource: T): unknown;
	/** Resolves false when the resource is no longer usable (used by testOnBorrow). */
	validate?(resource: T): boolean | PromiseLike<boolean>;
}

/** generic-pool v3's options, with its defaults. */
export interface Options {
	/** Most resources at once. Default 1. */
	max?: number;
	/** Resources kept in the pool once started. Default 0; set to `max` when larger. */
	min?: number;
	/** Most queued acquires when the pool is full; more are rejected. Default: no limit. */
	maxWaitingClients?: number;
	/** Validate with `factory.validate` before lending an idle resource. Default false. */
	testOnBorrow?: boolean;
	/** Accepted and ignored, as generic-pool 3.9 ignores it: a released resource is kept without a check. Default false. */
	testOnReturn?: boolean;
	/** How long `acquire` waits before rejecting with TimeoutError. Default: no limit. */
	acquireTimeoutMillis?: number;
	/** How long `factory.destroy` may take before `factoryDestroyError` ("destroy timed out"). Default: no limit (lifeguard bounds it at 5 s). */
	destroyTimeoutMillis?: number;
	/** true: the oldest idle resource is lent first; false: the most recently released. Default true. */
	fifo?: boolean;
	/** Number of priority levels for `acquire(priority)`; 0 is the most urgent. Default 1. */
	priorityRange?: number;
	/** Start (create `min`, run the evictor) at construction; otherwise at `start()` or the first `acquire()`. Default true. */
	autostart?: boolean;
	/** Idle eviction runs only when this is above 0. Default 0 (no eviction). */
	evictionRunIntervalMillis?: number;
	/** How many idle resources each eviction run looks at, continuing where the last run stopped. Default 3. */
	numTestsPerEvictionRun?: number;
	/** Idle time after which a resource is evicted while more than `min` are idle. Default -1 (off). */
	softIdleTimeoutMillis?: number;
	/** Idle time after which a resource is evicted, even below `min` (the pool then recreates up to `min`). Default 30 000. */
	idleTimeoutMillis?: number;
	/** The Promise implementation of every promise the pool returns. Default: the global Promise. */
	Promise?: PromiseConstructorLike;
	/** lifeguard extension: the pool's name in errors, events and metrics (`pool.core.name`). */
	name?: string;
	/** lifeguard extension: a `create` still pending after this long is abandoned, reported as `factoryCreateError` and retried. Default 10 000. */
	createTimeoutMillis?: number;
}

/** The pool's events, as in generic-pool. */
export interface GenericPoolEvents {
	factoryCreateError: [error: unknown];
	factoryDestroyError: [error: unknown];
}

/** generic-pool's messages, kept word for word because callers match on them. */
export const GenericPoolMessage = {
	timeout: "ResourceRequest timed out",
	draining: "pool is draining and cannot accept work",
	queueFull: "max waitingClients count exceeded",
	notBorrowed: "Resource not currently part of this pool",
	destroyTimeout: "destroy timed out",
} as const;

/** An acquire waited `acquireTimeoutMillis` in vain. `cause` is the last create error while creates were failing. */
export class TimeoutError extends LifeguardError {
	/** The pool's state when the wait ended (size, idle, in use, waiters, last create error). */
	readonly state: PoolStateSnapshot;
	constructor(core: PoolTimeoutError) {
		super(ErrorCode.POOL_TIMEOUT, GenericPoolMessage.timeout, core.cause === undefined ? undefined : { cause: core.cause });
		this.state = core.state;
	}
}

/** `acquire()` after `drain()`. */
export class PoolDrainingError extends LifeguardError {
	constructor() {
		super(ErrorCode.POOL_CLOSED, GenericPoolMessage.draining);
	}
}

/** `acquire()` when the pool is full and `maxWaitingClients` callers already wait. */
export class WaitingClientsExceededError extends LifeguardError {
	constructor() {
		super(ErrorCode.POOL_QUEUE_FULL, GenericPoolMessage.queueFull);
	}
}

/** `release()` or `destroy()` of something that is not currently borrowed from this pool. */
export class NotBorrowedError extends LifeguardError {
	constructor() {
		super(ErrorCode.LEASE_INVALID, GenericPoolMessage.notBorrowed);
	}
}

const DEFAULTS = {
	max: 1,
	min: 0,
	fifo: true,
	priorityRange: 1,
	testOnBorrow: false,
	testOnReturn: false,
	autostart: true,
	evictionRunIntervalMillis: 0,
	numTestsPerEvictionRun: 3,
	softIdleTimeoutMillis: -1,
	idleTimeoutMillis: 30_000,
} as const;

const KNOWN_OPTIONS = new Set<string>([
	...Object.keys(DEFAULTS),
	"maxWaitingClients",
	"acquireTimeoutMillis",
	"destroyTimeoutMillis",
	"Promise",
	"name",
	"createTimeoutMillis",
]);

/** How often `ready()` looks at the pool (generic-pool polls every 100 ms). */
const READY_POLL_MS = 10;

/**
 * The core's timers are unref'd so an idle pool never holds a process open; a caller waiting in
 * acquire() must, as in generic-pool, or `await pool.acquire()` at top level exits unsettled.
 */
const KEEP_ALIVE_MS = 1 << 30;

/** Our own destroy timeout fires first and emits "destroy timed out"; the core's bound is a backstop just after it. */
const DESTROY_BACKSTOP_MS = 100;

interface ResolvedOptions {
	max: number;
	min: number;
	maxWaitingClients: number;
	testOnBorrow: boolean;
	acquireTimeoutMillis: number | undefined;
	destroyTimeoutMillis: number | undefined;
	createTimeoutMillis: number | undefined;
	fifo: boolean;
	priorityRange: number;
	autostart: boolean;
	evictionRunIntervalMillis: number;
	numTestsPerEvictionRun: number;
	softIdleTimeoutMillis: number;
	idleTimeoutMillis: number;
	Promise: PromiseConstructorLike;
}

/**
 * A generic-pool v3 `Pool` backed by a lifeguard pool (`pool.core`). Resources are lent by the
 * core; this class maps generic-pool's resource-in, resource-out API onto leases.
 */
export class Pool<T> extends EventEmitter<GenericPoolEvents> {
	/** The lifeguard pool underneath: `stats()`, `health()`, CMAP events, `PoolManager.add()`. */
	readonly core: CorePool<T>;
	readonly #factory: Factory<T>;
	readonly #config: ResolvedOptions;
	/** Acquires in flight, for drain(): a linked list, not a Set churned once per acquire (see LinkedSet). */
	readonly #acquiring = new LinkedSet<Promise<unknown>>();
	readonly #creating = new Set<Promise<unknown>>();
	readonly #destroying = new Set<Promise<unknown>>();
	#started = false;
	#drain: Promise<void> | undefined;
	/**
	 * The idle resources as generic-pool's evictor sees them: when each became idle, oldest
	 * first (the core's idle list has the same order). `seq` tells a resource idle again from
	 * the entry the evictor's cursor was on.
	 */
	readonly #idleSince = new Map<T, { at: number; seq: number }>();
	#idleSeq = 0;
	/** Where the last eviction run stopped, as generic-pool's iterator keeps its place between runs. */
	#cursor: { resource: T; seq: number } | undefined;
	#evictionTimer: NodeJS.Timeout | undefined;
	#keepAlive: NodeJS.Timeout | undefined;

	/** Prefer {@link createPool}. Unlike generic-pool's internal constructor, this one takes just `(factory, options)`. */
	constructor(factory: Factory<T>, options?: Options) {
		super({ captureRejections: false });
		checkFactory(factory);
		this.#factory = factory;
		this.#config = resolveOptions(options ?? {}, factory);
		this.core = createCorePool<T>(this.#coreOptions(options?.name));
		if (this.#config.autostart) this.start();
	}

	// ── borrowing ────────────────────────────────────────────────────────────────────────────

	/**
	 * Borrows a resource. `priority` 0 is the most urgent; a value outside `priorityRange` goes to
	 * the least urgent level. Rejects with TimeoutError after `acquireTimeoutMillis`, at once
	 * after `drain()` or when `maxWaitingClients` are already waiting.
	 */
	acquire(priority?: number): Promise<T> {
		return this.#wrap(this.#acquireLease(priority).then((lease) => lease.resource));
	}

	/** Gives a borrowed resource back. Rejects with "Resource not currently part of this pool" otherwise. */
	release(resource: T): Promise<void> {
		const lease = this.core.leaseOf(resource);
		if (lease === undefined) return this.#wrap(Promise.reject(new NotBorrowedError()));
		this.#giveBack(lease);
		return this.#wrap(Promise.resolve());
	}

	/** Destroys a borrowed resource instead of returning it. Rejects like `release()` for anything not borrowed. */
	destroy(resource: T): Promise<void> {
		const lease = this.core.leaseOf(resource);
		if (lease === undefined) return this.#wrap(Promise.reject(new NotBorrowedError()));
		lease.destroy();
		return this.#wrap(Promise.resolve());
	}

	/** Acquires, runs `fn`, releases; when `fn` throws or rejects, destroys the resource and rethrows. */
	use<U>(fn: (resource: T) => U | PromiseLike<U>, priority?: number): Promise<U> {
		const run = async (): Promise<U> => {
			const lease = await this.#acquireLease(priority);
			let result: U;
			try {
				result = await fn(lease.resource);
			} catch (error) {
				// The lease, not the resource: if fn already gave the resource back itself, there is nothing to do.
				if (lease.active) lease.destroy();
				throw error;
			}
			if (lease.active) this.#giveBack(lease);
			return result;
		};
		return this.#wrap(run());
	}

	/** True while `resource` is borrowed from this pool. */
	isBorrowedResource(resource: T): boolean {
		return this.core.leaseOf(resource) !== undefined;
	}

	// ── life cycle ───────────────────────────────────────────────────────────────────────────

	/** Starts the pool when `autostart` is false: creates `min` resources and enables eviction. */
	start(): void {
		if (this.#drain !== undefined || this.#started) return;
		this.#started = true;
		// start() resolves once `min` are open; generic-pool's start() returns nothing, so nothing waits.
		this.core.start().catch(() => {});
		this.#scheduleEviction();
	}

	/** Resolves once at least `min` resources are available; rejects if the pool is drained first. */
	ready(): Promise<void> {
		return this.#wrap(
			new Promise<void>((resolve, reject) => {
				const check = () => {
					if (this.#drain !== undefined) reject(new PoolDrainingError());
					else if (this.available >= this.min) resolve();
					else setTimeout(check, READY_POLL_MS);
				};
				check();
			}),
		);
	}

	/**
	 * Stops taking new work: later `acquire()` calls reject. Resolves once every caller already
	 * waiting has been served (or timed out) and every borrowed resource is back. Resources stay
	 * in the pool until `clear()`.
	 */
	drain(): Promise<void> {
		this.#drain ??= (async () => {
			while (this.#acquiring.size > 0) await Promise.allSettled(this.#acquiring.values());
			await this.#allReturned();
			// generic-pool stops its evictor once drained.
			clearTimeout(this.#evictionTimer);
			this.#evictionTimer = undefined;
		})();
		return this.#wrap(this.#drain);
	}

	/**
	 * Destroys the idle resources and resolves when they are destroyed. After `drain()` this
	 * closes the pool for good; otherwise the pool keeps working and refills to `min`, and
	 * resources borrowed now are destroyed when they come back.
	 */
	clear(): Promise<void> {
		const run = async () => {
			if (this.#drain !== undefined) {
				await this.#drain;
				await this.core.close();
			} else {
				await Promise.allSettled([...this.#creating]);
				// Let the core take in the resources those creates produced, so that they are cleared too.
				await new Promise((resolve) => setImmediate(resolve));
				this.core.clear();
			}
			while (this.#destroying.size > 0) await Promise.allSettled([...this.#destroying]);
		};
		return this.#wrap(run());
	}

	// ── counters ─────────────────────────────────────────────────────────────────────────────

	/** Resources in the pool, borrowed or not, plus those being created. */
	get size(): number {
		return this.core.size;
	}

	/** Idle resources ready to lend. */
	get available(): number {
		return this.core.idleCount;
	}

	/** Resources currently borrowed. */
	get borrowed(): number {
		return this.core.activeCount;
	}

	/** Callers waiting for a resource. */
	get pending(): number {
		return this.core.pendingCount;
	}

	get max(): number {
		return this.#config.max;
	}

	get min(): number {
		return this.#config.min;
	}

	/** How many more resources the pool may create before it reaches `max`. */
	get spareResourceCapacity(): number {
		return this.#config.max - this.core.size;
	}

	// ── internals ────────────────────────────────────────────────────────────────────────────

	#acquireLease(priority: number | undefined): Promise<Lease<T>> {
		if (!this.#started && !this.#config.autostart) this.start();
		if (this.#drain !== undefined) return Promise.reject(new PoolDrainingError());
		if (this.spareResourceCapacity < 1 && this.available < 1 && this.pending >= this.#config.maxWaitingClients) {
			return Promise.reject(new WaitingClientsExceededError());
		}
		const request = this.core.acquire({ priority: priorityLevel(priority, this.#config.priorityRange) }).then(
			(lease) => {
				this.#idleSince.delete(lease.resource);
				return lease;
			},
			(error: unknown) => {
				throw translateAcquireError(error);
			},
		);
		const entry = this.#acquiring.add(request);
		this.#keepAlive ??= setInterval(() => {}, KEEP_ALIVE_MS);
		const settled = () => {
			this.#acquiring.delete(entry);
			if (this.#acquiring.size > 0) return;
			clearInterval(this.#keepAlive);
			this.#keepAlive = undefined;
		};
		request.then(settled, settled);
		return request;
	}

	/**
	 * Resolves when nothing is borrowed. A lease ends with `released` when the borrower gives it
	 * back, or with only `connectionClosed` when the core takes it (its close deadline, a reclaim);
	 * `poolClosed` is no sign: it fires before the leased connections come back (CMAP's order).
	 */
	#allReturned(): Promise<void> {
		return new Promise<void>((resolve) => {
			if (this.core.activeCount === 0) return resolve();
			const check = () => {
				if (this.core.activeCount > 0) return;
				this.core.off("released", check);
				this.core.off("connectionClosed", check);
				resolve();
			};
			this.core.on("released", check);
			this.core.on("connectionClosed", check);
		});
	}

	#coreOptions(name: string | undefined): PoolOptions<T> {
		const c = this.#config;
		const validate = this.#factory.validate?.bind(this.#factory);
		return {
			name,
			create: (signal) => this.#create(signal),
			destroy: (resource) => this.#destroy(resource),
			validate: c.testOnBorrow && validate !== undefined ? async (resource) => validate(resource) : undefined,
			min: c.min,
			max: c.max,
			acquireTimeoutMs: c.acquireTimeoutMillis ?? Number.POSITIVE_INFINITY,
			createTimeoutMs: c.createTimeoutMillis,
			destroyTimeoutMs: c.destroyTimeoutMillis === undefined ? POOL_DEFAULTS.destroyTimeoutMs : c.destroyTimeoutMillis + DESTROY_BACKSTOP_MS,
			// Idle eviction is generic-pool's evictor, run by this layer (#evict); the core's own would differ.
			idleTimeoutMs: 0,
			// generic-pool has no lifetime limit, and testOnBorrow checks every idle resource, however briefly idle.
			maxLifetimeMs: 0,
			validateAfterIdleMs: 0,
			idleOrder: c.fifo ? "fifo" : "lifo",
			priorityLevels: c.priorityRange,
		};
	}

	/** factory.create, reporting failures (and the core's create timeout) as `factoryCreateError`. */
	#create(signal: AbortSignal): Promise<T> {
		let reported = false;
		const report = (error: unknown) => {
			if (reported) return;
			reported = true;
			this.emit("factoryCreateError", error);
		};
		const onAbort = () => {
			if (signal.reason instanceof LifeguardError && signal.reason.code === ErrorCode.CREATE_TIMEOUT) report(signal.reason);
		};
		signal.addEventListener("abort", onAbort, { once: true });
		const attempt = (async () => this.#factory.create())().then(
			(resource) => {
				signal.removeEventListener("abort", onAbort);
				// generic-pool puts a new resource in its available list first; a waiting caller then takes it from there.
				this.#markIdle(resource);
				return resource;
			},
			(error: unknown) => {
				signal.removeEventListener("abort", onAbort);
				report(error);
				throw error;
			},
		);
		// clear() waits for creates in flight, but not past the core's abandoning one (createTimeoutMillis, close).
		this.#track(
			this.#creating,
			new Promise<void>((resolve) => {
				attempt.then(
					() => resolve(),
					() => resolve(),
				);
				signal.addEventListener("abort", () => resolve(), { once: true });
			}),
		);
		return attempt;
	}

	/** factory.destroy, bounded by destroyTimeoutMillis; failures become `factoryDestroyError`, never rejections. */
	#destroy(resource: T): Promise<void> {
		this.#idleSince.delete(resource);
		const attempt = (async () => {
			await this.#factory.destroy(resource);
		})();
		const limit = this.#config.destroyTimeoutMillis;
		let timer: NodeJS.Timeout | undefined;
		const bounded =
			limit === undefined
				? attempt
				: Promise.race([
						attempt,
						new Promise<never>((_, reject) => {
							timer = setTimeout(() => reject(new Error(GenericPoolMessage.destroyTimeout)), limit);
							timer.unref();
						}),
					]);
		const settled = bounded.then(
			() => clearTimeout(timer),
			(error: unknown) => {
				clearTimeout(timer);
				this.emit("factoryDestroyError", error);
			},
		);
		// Without destroyTimeoutMillis a destroy may never settle; clear() still waits at most the core's destroy bound.
		this.#track(this.#destroying, limit === undefined ? Promise.race([settled, sleepUnref(POOL_DEFAULTS.destroyTimeoutMs)]) : settled);
		return settled;
	}

	// ── generic-pool's evictor ───────────────────────────────────────────────────────────────

	#giveBack(lease: Lease<T>): void {
		this.#markIdle(lease.resource);
		lease.release();
	}

	#markIdle(resource: T): void {
		this.#idleSince.delete(resource);
		this.#idleSince.set(resource, { at: Date.now(), seq: ++this.#idleSeq });
	}

	#scheduleEviction(): void {
		const interval = this.#config.evictionRunIntervalMillis;
		if (interval <= 0) return;
		this.#evictionTimer = setTimeout(() => {
			this.#evict();
			this.#scheduleEviction();
		}, interval);
		this.#evictionTimer.unref();
	}

	/**
	 * One run of generic-pool's evictor: up to `numTestsPerEvictionRun` idle resources, in the
	 * order of its available list (oldest first with `fifo`, newest first without), starting
	 * after the one the last run stopped at and wrapping around; after an eviction it starts
	 * again from the head, as generic-pool's iterator does once its node is removed. A resource
	 * is evicted when idle longer than `softIdleTimeoutMillis` while more than `min` are idle, or
	 * longer than `idleTimeoutMillis`. The core closes its longest-idle resource, which qualifies
	 * whenever the one tested does (both rules only grow with idle time).
	 */
	#evict(): void {
		const { numTestsPerEvictionRun, softIdleTimeoutMillis, idleTimeoutMillis, min, fifo } = this.#config;
		const listed = () => (fifo ? [...this.#idleSince.keys()] : [...this.#idleSince.keys()].reverse());
		let order = listed();
		const testsToRun = Math.min(numTestsPerEvictionRun, order.length);
		for (let tested = 0; tested < testsToRun; ) {
			const next = this.#nextForEviction(order);
			if (next === undefined) {
				this.#cursor = undefined;
				if (order.length < 1) return;
				continue;
			}
			const entry = this.#idleSince.get(next);
			if (entry === undefined) return;
			this.#cursor = { resource: next, seq: entry.seq };
			tested++;
			const idleTime = Date.now() - entry.at;
			const available = order.length;
			const evict = (softIdleTimeoutMillis > 0 && softIdleTimeoutMillis < idleTime && min < available) || idleTimeoutMillis < idleTime;
			if (!evict) continue;
			if (!this.core.evictOneIdle()) return;
			this.#cursor = undefined;
			order = listed();
		}
	}

	/** The resource after the cursor in `order`; undefined at the end, or when the cursor's entry left the list (taken, or idle again). */
	#nextForEviction(order: T[]): T | undefined {
		const cursor = this.#cursor;
		if (cursor === undefined) return order[0];
		if (this.#idleSince.get(cursor.resource)?.seq !== cursor.seq) return undefined;
		return order[order.indexOf(cursor.resource) + 1];
	}

	#track(set: Set<Promise<unknown>>, work: Promise<unknown>): void {
		set.add(work);
		const done = () => set.delete(work);
		work.then(done, done);
	}

	/** Hands out promises of the configured Promise implementation, as generic-pool does. */
	#wrap<R>(promise: Promise<R>): Promise<R> {
		const P = this.#config.Promise;
		if (P === Promise) return promise;
		return new P<R>((resolve, reject) => promise.then(resolve, reject)) as Promise<R>;
	}
}

function sleepUnref(ms: number): Promise<void> {
	return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** Creates a generic-pool compatible pool: `createPool(factory, opts)`, as in generic-pool v3. */
export function createPool<T>(factory: Factory<T>, options?: Options): Pool<T> {
	return new Pool<T>(factory, options);
}

export default { Pool, createPool, TimeoutError };

// ── option handling, as generic-pool reads its options ────────────────────────────────────────

/** generic-pool's factory checks, with its TypeError messages. */
function checkFactory<T>(factory: Factory<T>): void {
	if (typeof factory?.create !== "function") throw new TypeError("factory.create must be a function");
	if (typeof factory.destroy !== "function") throw new TypeError("factory.destroy must be a function");
	if (factory.validate !== undefined && typeof factory.validate !== "function") throw new TypeError("factory.validate must be a function");
}

/** Integer parse as generic-pool does it (`parseInt(x, 10)`): "10" → 10, "abc" → NaN. */
function toInteger(value: unknown): number {
	return Number.parseInt(String(value), 10);
}

function resolveOptions<T>(options: Options, factory: Factory<T>): ResolvedOptions {
	const raw = options as Record<string, unknown>;
	const problems: ConfigProblem[] = [];
	const unknown = Object.keys(raw).filter((key) => !KNOWN_OPTIONS.has(key));
	if (unknown.length > 0) {
		// generic-pool ignores unknown options silently; a warning finds typos (idletimeoutMillis) without breaking a migration.
		process.emitWarning(`generic-pool compat: unknown option${unknown.length === 1 ? "" : "s"} ${unknown.join(", ")} ignored (check the spelling)`, {
			code: "LIFEGUARD_UNKNOWN_OPTION",
		});
	}
	const parsedMax = toInteger(options.max);
	const max = Math.max(Number.isNaN(parsedMax) ? DEFAULTS.max : parsedMax, 1);
	const parsedMin = toInteger(options.min);
	const min = Math.max(0, Math.min(Number.isNaN(parsedMin) ? DEFAULTS.min : parsedMin, max));
	const parsedWaiting = options.maxWaitingClients === undefined ? Number.NaN : toInteger(options.maxWaitingClients);
	const boolean = (key: "fifo" | "testOnBorrow" | "autostart") => (typeof options[key] === "boolean" ? options[key] : DEFAULTS[key]);
	const timeout = (key: "acquireTimeoutMillis" | "destroyTimeoutMillis" | "createTimeoutMillis"): number | undefined => {
		if (!options[key]) return undefined;
		const ms = toInteger(options[key]);
		if (Number.isNaN(ms) || ms <= 0) problems.push({ path: key, message: `must be a positive integer of milliseconds, got ${JSON.stringify(options[key])}` });
		return ms;
	};
	const config: ResolvedOptions = {
		max,
		min,
		maxWaitingClients: Number.isNaN(parsedWaiting) ? Number.POSITIVE_INFINITY : parsedWaiting,
		testOnBorrow: boolean("testOnBorrow"),
		acquireTimeoutMillis: timeout("acquireTimeoutMillis"),
		destroyTimeoutMillis: timeout("destroyTimeoutMillis"),
		createTimeoutMillis: timeout("createTimeoutMillis"),
		fifo: boolean("fifo"),
		priorityRange: Math.max(Number(options.priorityRange) | 0, 1),
		autostart: boolean("autostart"),
		evictionRunIntervalMillis: Number(options.evictionRunIntervalMillis) || DEFAULTS.evictionRunIntervalMillis,
		numTestsPerEvictionRun: Number(options.numTestsPerEvictionRun) || DEFAULTS.numTestsPerEvictionRun,
		softIdleTimeoutMillis: Number(options.softIdleTimeoutMillis) || DEFAULTS.softIdleTimeoutMillis,
		idleTimeoutMillis: Number(options.idleTimeoutMillis) || DEFAULTS.idleTimeoutMillis,
		Promise: options.Promise ?? Promise,
	};
	// generic-pool throws "validate is not a function" at the first borrow; say so at construction instead.
	if (config.testOnBorrow && factory.validate === undefined)
		problems.push({ path: "testOnBorrow", message: "needs factory.validate(resource) to check resources with" });
	if (problems.length > 0) throw new ConfigError("generic-pool compat createPool", problems);
	return config;
}

/** generic-pool's priority rule: missing or 0 → 0; out of range (or negative) → the least urgent level. */
function priorityLevel(priority: number | undefined, range: number): number {
	const level = (priority && Number(priority) | 0) || 0;
	return level < 0 || level >= range ? range - 1 : level;
}

function translateAcquireError(error: unknown): unknown {
	if (error instanceof PoolTimeoutError) return new TimeoutError(error);
	if (error instanceof LifeguardError && error.code === ErrorCode.POOL_CLOSED) return new PoolDrainingError();
	return error;
}
