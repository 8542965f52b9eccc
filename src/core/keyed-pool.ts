import { ConfigError, type ConfigProblem, PoolClosedError, QueueFullError } from "./errors.ts";
import { PoolEvent, type PoolEventName, type PoolEvents } from "./events.ts";
import type { Lease } from "./lease.ts";
import { type ErrorClass, type PoolOptions, resolvePoolOptions } from "./options.ts";
import { type AcquireOptions, type CloseOptions, closeTimeout, Pool, type PoolBudget } from "./pool.ts";
import { quoteValue } from "./quote-value.ts";
import type { PoolStats } from "./stats.ts";
import { WatchedEmitter } from "./watched-emitter.ts";

type SharedOptions = Omit<
	PoolOptions<unknown>,
	"name" | "create" | "destroy" | "validate" | "afterCreate" | "reset" | "classifyError" | "max" | "maxWaiters" | "budget"
>;

export interface KeyedPoolOptions<K, T> extends SharedOptions {
	/** Shown in errors, events and metrics; each key's pool is named `<name>[<key>]`. */
	name?: string;
	create: (key: K, signal: AbortSignal) => T | Promise<T>;
	destroy?: (resource: T, key: K) => void | Promise<void>;
	validate?: (resource: T, key: K, signal: AbortSignal) => boolean | undefined | Promise<boolean | undefined>;
	afterCreate?: (resource: T, key: K, signal: AbortSignal) => void | Promise<void>;
	reset?: (resource: T, key: K) => void | Promise<void>;
	classifyError?: (error: unknown) => ErrorClass;
	/** Most connections per key. Default 10, or `maxTotal` when that is smaller. */
	maxPerKey?: number;
	/** Most connections over all keys (the global budget). Default 100. */
	maxTotal?: number;
	/** Most callers waiting over all keys; more are rejected at once. Default Infinity. */
	maxWaiters?: number;
	/**
	 * A key's identity: two keys with the same string share one pool. Also names the key in pool
	 * names, events and stats. Default `String(key)`, which only tells primitives (strings, numbers,
	 * booleans, bigints) and objects with their own `toString` (a `URL`) apart; any other key
	 * without this function is refused at its first use.
	 */
	keyToString?: (key: K) => string;
	/**
	 * Keep a key's pool when it holds nothing, so its statistics stay cumulative. For clients with
	 * a few long-lived keys (HTTP origins); with one-off keys the map would grow for ever. Default false.
	 */
	keepIdleKeys?: boolean;
}

export interface KeyedPoolStats {
	name: string;
	maxTotal: number;
	/** Connections open or being opened over all keys. */
	total: number;
	pending: number;
	keys: Record<string, PoolStats>;
}

type KeyedEvents = { [E in keyof PoolEvents]: [PoolEvents[E][0] & { key: string }] };

/**
 * One pool per key (an HTTP origin, a ComfyUI instance, a named WebSocket) under a per-key cap
 * and one global budget. When the budget is spent, a key that needs a connection waits in one
 * FIFO line of blocked keys, and an idle connection of another key is closed to make room.
 */
export class KeyedPool<K, T> extends WatchedEmitter<KeyedEvents> {
	readonly name: string;
	readonly maxTotal: number;
	readonly maxWaiters: number;
	readonly #options: KeyedPoolOptions<K, T>;
	readonly #keyToString: (key: K) => string;
	readonly #pools = new Map<string, { key: K; pool: Pool<T> }>();
	/** Pools that have waiters but could not create because the budget is spent, first come first served. */
	readonly #blocked: Pool<T>[] = [];
	readonly #forwarded = new Set<PoolEventName>();
	/** Every resource open in any key's pool: one object must not serve two keys at once. */
	readonly #resources = new Set<unknown>();
	#used = 0;
	#closed = false;
	#serving = false;

	constructor(options: KeyedPoolOptions<K, T>) {
		super(Object.values(PoolEvent), `keyed pool ${JSON.stringify(options?.name ?? "keyed")}`);
		this.#options = options;
		this.name = options.name ?? "keyed";
		this.maxTotal = options.maxTotal ?? 100;
		this.maxWaiters = options.maxWaiters ?? Number.POSITIVE_INFINITY;
		this.#keyToString = options.keyToString ?? ((key) => defaultKeyString(this.name, key));
		validateKeyedOptions(options, this.maxTotal, this.maxWaiters);
	}

	/** A key's pool events are forwarded from the first listener on: a pool nobody watches builds no payload. */
	protected override watchChanged(): void {
		for (const event of Object.values(PoolEvent)) {
			if (!this.watching[event] || this.#forwarded.has(event)) continue;
			this.#forwarded.add(event);
			for (const [label, entry] of this.#pools) this.#forward(entry.pool, event, label);
		}
	}

	/** Borrows a connection for `key`; same contract as `Pool.acquire`. */
	acquire(key: K, options?: AcquireOptions): Promise<Lease<T>> {
		if (this.#closed) return Promise.reject(new PoolClosedError(this.name));
		let pool: Pool<T>;
		try {
			pool = this.pool(key);
		} catch (error) {
			return Promise.reject(error);
		}
		const full = this.#queueFull(pool);
		if (full !== undefined) return Promise.reject(full);
		return pool.acquire(options);
	}

	/** The shared wait queue's bound: only callers that must wait for a release count (nothing idle for the key, no room to create, per key or in the budget). */
	#queueFull(pool: Pool<T>): QueueFullError | undefined {
		if (this.maxWaiters === Number.POSITIVE_INFINITY) return undefined;
		const mustWait = pool.idleCount === 0 && (pool.size >= pool.options.max || this.#used >= this.maxTotal);
		if (!mustWait) return undefined;
		const pending = this.pendingCount;
		if (pending < this.maxWaiters) return undefined;
		return new QueueFullError(this.name, this.maxWaiters, { size: this.size, idle: 0, inUse: 0, creating: 0, waiters: pending, max: this.maxTotal });
	}

	/** Runs `fn` with a connection for `key`, like `Pool.use`. */
	use<R>(key: K, fn: (resource: T) => R | Promise<R>, options?: AcquireOptions): Promise<R> {
		if (this.#closed) return Promise.reject(new PoolClosedError(this.name));
		try {
			return this.pool(key).use(fn, options);
		} catch (error) {
			return Promise.reject(error);
		}
	}

	/**
	 * The pool of one key, created on first use. A key's pool is forgotten (and closed) once it
	 * holds no connection and nobody waits on it, so do not keep the returned pool across awaits:
	 * ask again.
	 */
	pool(key: K): Pool<T> {
		const label = this.#keyToString(key);
		let entry = this.#pools.get(label);
		if (entry === undefined) {
			if (this.#closed) throw new PoolClosedError(this.name);
			entry = { key, pool: this.#makePool(key, label) };
			this.#pools.set(label, entry);
			for (const event of this.#forwarded) this.#forward(entry.pool, event, label);
		}
		return entry.pool;
	}

	has(key: K): boolean {
		return this.#pools.has(this.#keyToString(key));
	}

	keys(): K[] {
		return [...this.#pools.values()].map((e) => e.key);
	}

	/** Connections open or being opened over all keys (the budget in use). */
	get size(): number {
		return this.#used;
	}

	get pendingCount(): number {
		let n = 0;
		for (const { pool } of this.#pools.values()) n += pool.pendingCount;
		return n;
	}

	stats(): KeyedPoolStats {
		const keys: Record<string, PoolStats> = {};
		for (const [label, { pool }] of this.#pools) keys[label] = pool.stats();
		return { name: this.name, maxTotal: this.maxTotal, total: this.#used, pending: this.pendingCount, keys };
	}

	resetStats(): void {
		for (const { pool } of this.#pools.values()) pool.resetStats();
	}

	/** Closes the pool of one key now (leases get `timeoutMs` to finish) and forgets it. */
	async remove(key: K, options?: CloseOptions): Promise<void> {
		closeTimeout(`keyed pool ${JSON.stringify(this.name)}: remove`, options);
		const label = this.#keyToString(key);
		const entry = this.#pools.get(label);
		if (entry === undefined) return;
		this.#pools.delete(label);
		this.#unblock(entry.pool);
		await entry.pool.close(options);
	}

	/** Retires every connection of every key (see `Pool.clear`). */
	clear(): void {
		for (const { pool } of this.#pools.values()) pool.clear();
	}

	/** `await using keyed = createKeyedPool(…)` closes every key's pool at scope exit. */
	[Symbol.asyncDispose](): Promise<void> {
		return this.close();
	}

	async close(options?: CloseOptions): Promise<void> {
		closeTimeout(`keyed pool ${JSON.stringify(this.name)}: close`, options);
		this.#closed = true;
		this.#blocked.length = 0;
		await Promise.all([...this.#pools.values()].map(({ pool }) => pool.close(options)));
	}

	#makePool(key: K, label: string): Pool<T> {
		const { create, destroy, validate, afterCreate, reset, classifyError, maxPerKey } = this.#options;
		const options: PoolOptions<T> = {
			...(sharedPoolOptions(this.#options) as Omit<PoolOptions<T>, "create">),
			name: `${this.name}[${label}]`,
			max: maxPerKey ?? Math.min(10, this.maxTotal),
			create: (signal) => create(key, signal),
			destroy: destroy && ((r) => destroy(r, key)),
			validate: validate && ((r, signal) => validate(r, key, signal)),
			afterCreate: afterCreate && ((r, signal) => afterCreate(r, key, signal)),
			reset: reset && ((r) => reset(r, key)),
			classifyError,
		};
		return new Pool<T>(options, this.#budget);
	}

	/** Forgets a key's pool that holds nothing: one-off keys would otherwise grow the map for ever. */
	#forgetIfEmpty(pool: Pool<T>): void {
		if (this.#closed || this.#options.keepIdleKeys === true || !isEmpty(pool as Pool<unknown>)) return;
		for (const [label, entry] of this.#pools) {
			if (entry.pool !== pool) continue;
			this.#pools.delete(label);
			this.#unblock(pool);
			void pool.close();
			return;
		}
	}

	readonly #budget: PoolBudget = {
		tryReserve: () => {
			if (this.#used >= this.maxTotal) return false;
			this.#used++;
			return true;
		},
		release: () => {
			this.#used--;
			this.#serveBlocked();
		},
		// Deferred: the pool reports from inside its own bookkeeping, and a caller may be about to use it again this tick.
		empty: (pool) => queueMicrotask(() => this.#forgetIfEmpty(pool as Pool<T>)),
		claim: (resource) => {
			if (this.#resources.has(resource)) return false;
			this.#resources.add(resource);
			return true;
		},
		unclaim: (resource) => void this.#resources.delete(resource),
		blocked: (pool) => {
			const p = pool as Pool<T>;
			if (!this.#blocked.includes(p)) this.#blocked.push(p);
			this.#evictForBlocked();
		},
		idle: (pool) => {
			// Keys whose waiters have all gone (served, timed out, aborted) no longer need room.
			for (let i = this.#blocked.length - 1; i >= 0; i--) if (this.#blocked[i].pendingCount === 0) this.#blocked.splice(i, 1);
			if (this.#blocked.length > 0 && !(this.#blocked.length === 1 && this.#blocked[0] === pool)) {
				queueMicrotask(() => this.#evictForBlocked());
			}
		},
	};

	/** Hands freed budget to blocked keys in the order they blocked. */
	#serveBlocked(): void {
		if (this.#serving) return;
		this.#serving = true;
		try {
			while (this.#blocked.length > 0 && this.#used < this.maxTotal) {
				const pool = this.#blocked.shift() as Pool<T>;
				const before = this.#used;
				pool.poke();
				// The pool re-registers itself through `blocked` if it still needs more.
				if (this.#used === before) continue;
			}
		} finally {
			this.#serving = false;
		}
	}

	/** Closes the longest-idle connection of a key nobody is waiting for, to make room for a blocked key. */
	#evictForBlocked(): void {
		while (this.#blocked.length > 0 && this.#used >= this.maxTotal) {
			let victim: Pool<T> | undefined;
			for (const { pool } of this.#pools.values()) {
				if (pool.idleCount > 0 && pool.pendingCount === 0 && (victim === undefined || pool.idleCount > victim.idleCount)) victim = pool;
			}
			if (victim === undefined || !victim.evictOneIdle()) return;
		}
	}

	#unblock(pool: Pool<T>): void {
		const i = this.#blocked.indexOf(pool);
		if (i >= 0) this.#blocked.splice(i, 1);
	}

	#forward(pool: Pool<T>, event: PoolEventName, key: string): void {
		pool.on(event, (payload: object) => this.emitSafely(event, { ...payload, key }));
	}
}

function isEmpty(pool: Pool<unknown>): boolean {
	return pool.size === 0 && pool.pendingCount === 0 && pool.activeCount === 0 && !pool.closed;
}

/**
 * String(key) for keys it names faithfully. Every plain object is "[object Object]" and arrays
 * join their items, so such keys would share one pool: a caller asking for db-b got db-a's connection.
 */
function defaultKeyString(pool: string, key: unknown): string {
	const t = typeof key;
	if (t === "string" || t === "number" || t === "bigint" || t === "boolean") return String(key);
	if (t === "object" && key !== null) {
		const own = (key as { toString?: unknown }).toString;
		if (typeof own === "function" && own !== Object.prototype.toString && own !== Array.prototype.toString) return String(key);
	}
	throw new ConfigError(`keyed pool ${JSON.stringify(pool)}`, [
		{
			path: "keyToString",
			message: `a key of type ${key === null ? "null" : Array.isArray(key) ? "array" : t} has no faithful string form (${quoteValue(key)}); give the keyed pool a keyToString that names each key uniquely, e.g. (k) => \`\${k.host}:\${k.port}\``,
		},
	]);
}

/** The keyed pool's own options: its key-taking hooks (wrapped per key), its limits and key handling. */
type KeyedOwnOption =
	| "name"
	| "create"
	| "destroy"
	| "validate"
	| "afterCreate"
	| "reset"
	| "classifyError"
	| "maxPerKey"
	| "maxTotal"
	| "maxWaiters"
	| "keyToString"
	| "keepIdleKeys";

/** The options every key's pool takes as they are (timeouts, sizes, …): all but the keyed pool's own. */
function sharedPoolOptions<K, T>(o: KeyedPoolOptions<K, T>): Omit<KeyedPoolOptions<K, T>, KeyedOwnOption> {
	const {
		name: _name,
		create: _create,
		destroy: _destroy,
		validate: _validate,
		afterCreate: _afterCreate,
		reset: _reset,
		classifyError: _classifyError,
		maxPerKey: _maxPerKey,
		maxTotal: _maxTotal,
		maxWaiters: _maxWaiters,
		keyToString: _keyToString,
		keepIdleKeys: _keepIdleKeys,
		...shared
	} = o;
	return shared;
}

/** Checks the keyed options and the per-key pool options together; one ConfigError lists every problem. */
function validateKeyedOptions<K, T>(o: KeyedPoolOptions<K, T>, maxTotal: number, maxWaiters: number): void {
	const problems: ConfigProblem[] = [];
	const maxPerKey = o.maxPerKey ?? Math.min(10, maxTotal);
	if (typeof o.create !== "function") problems.push({ path: "create", message: "required: a function (key, signal) => connection" });
	if (!Number.isInteger(maxTotal) || maxTotal < 1) problems.push({ path: "maxTotal", message: `must be an integer >= 1, got ${quoteValue(maxTotal)}` });
	if (!(maxWaiters >= 0)) problems.push({ path: "maxWaiters", message: `must be >= 0, got ${quoteValue(maxWaiters)}` });
	if (Number.isInteger(maxPerKey) && Number.isInteger(maxTotal) && maxPerKey > maxTotal) {
		problems.push({ path: "maxPerKey", message: `maxPerKey (${maxPerKey}) is greater than maxTotal (${maxTotal})` });
	}
	const { name, destroy, validate, afterCreate, reset, classifyError, keyToString, keepIdleKeys } = o;
	const shared = sharedPoolOptions(o);
	if (keepIdleKeys !== undefined && typeof keepIdleKeys !== "boolean")
		problems.push({ path: "keepIdleKeys", message: `must be a boolean, got ${quoteValue(keepIdleKeys)}` });
	if (keyToString !== undefined && typeof keyToString !== "function") problems.push({ path: "keyToString", message: "must be a function" });
	try {
		resolvePoolOptions<unknown>({ ...shared, name: name ?? "keyed", max: maxPerKey, create: () => undefined, validate: validate && (() => true) });
	} catch (error) {
		if (!(error instanceof ConfigError)) throw error;
		problems.push(...error.problems.map((p) => (p.path === "max" ? { ...p, path: "maxPerKey" } : p)));
	}
	for (const [key, fn] of Object.entries({ destroy, validate, afterCreate, reset, classifyError })) {
		if (fn !== undefined && typeof fn !== "function") problems.push({ path: key, message: `must be a function, got ${typeof fn}` });
	}
	if (problems.length > 0) throw new ConfigError(`createKeyedPool(${JSON.stringify(name ?? "keyed")})`, problems);
}

export function createKeyedPool<K, T>(options: KeyedPoolOptions<K, T>): KeyedPool<K, T> {
	return new KeyedPool<K, T>(options);
}
