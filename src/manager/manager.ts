import { EventEmitter } from "node:events";
import { PoolEvent, type PoolEventName, type PoolEvents } from "../core/events.ts";
import type { PoolOptions } from "../core/options.ts";
import { type CloseOptions, createPool, type Pool } from "../core/pool.ts";
import type { PoolStats } from "../core/stats.ts";
import { ManagerClosedError, PoolExistsError, PoolNotFoundError } from "./errors.ts";
import { assessPool, type HealthReport, type PoolHealthReport, worstStatus } from "./health.ts";

/** The manager's own events, plus every pool event re-emitted (its payload names the pool). */
export interface ManagerEvents extends PoolEvents {
	poolAdded: [{ pool: string }];
	poolRemoved: [{ pool: string }];
	/** A shutdown signal arrived: every pool is being closed. */
	shutdown: [{ signal: NodeJS.Signals }];
}

export interface SignalOptions {
	/** Which signals close the pools. Default SIGTERM and SIGINT. */
	signals?: NodeJS.Signals[];
	/** How long leases may finish before their connections are destroyed. Default 10 000 ms. */
	timeoutMs?: number;
}

export interface PoolManagerOptions {
	/**
	 * Close every pool on SIGTERM / SIGINT, then let the signal do what it would have done
	 * (terminate the process, or reach the application's own handlers). `true` or the details.
	 * Default false.
	 */
	closeOnSignals?: boolean | SignalOptions;
}

const DEFAULT_SIGNALS: NodeJS.Signals[] = ["SIGTERM", "SIGINT"];
const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;
const POOL_EVENTS = new Set<string>(Object.values(PoolEvent));

/**
 * Named pools in one place: create or add them, look them up by name, read their statistics
 * and health together, and close them all at once (on demand or on a shutdown signal).
 * Pool events are re-emitted on the manager, only for events someone listens to.
 */
export class PoolManager extends EventEmitter<ManagerEvents> {
	readonly #pools = new Map<string, Pool<unknown>>();
	/** Pool events the manager forwards, each with its one forwarding listener. */
	readonly #forwarders = new Map<PoolEventName, (payload: unknown) => void>();
	#signalHandler: ((signal: NodeJS.Signals) => void) | undefined;
	#signals: NodeJS.Signals[] = [];
	#closing: Promise<void> | undefined;

	constructor(options?: PoolManagerOptions) {
		super({ captureRejections: false });
		const untyped = this as EventEmitter;
		untyped.on("newListener", (event: string) => {
			if (POOL_EVENTS.has(event)) this.#forward(event as PoolEventName);
		});
		untyped.on("removeListener", (event: string) => {
			if (POOL_EVENTS.has(event) && untyped.listenerCount(event) === 0) this.#unforward(event as PoolEventName);
		});
		const signals = options?.closeOnSignals;
		if (signals) this.closeOnSignals(signals === true ? undefined : signals);
	}

	/** Creates a pool named `name` and manages it. Throws POOL_EXISTS if the name is taken. */
	create<T>(name: string, options: Omit<PoolOptions<T>, "name">): Pool<T> {
		this.#checkAddable(name);
		const pool = createPool<T>({ ...options, name });
		this.#adopt(pool as Pool<unknown>);
		return pool;
	}

	/** Manages an existing pool under its own name. Throws POOL_EXISTS if the name is taken. */
	add<T>(pool: Pool<T>): Pool<T> {
		this.#checkAddable(pool.name);
		this.#adopt(pool as Pool<unknown>);
		return pool;
	}

	/** The pool named `name`. Throws POOL_NOT_FOUND, listing the names it knows, otherwise. */
	get<T = unknown>(name: string): Pool<T> {
		const pool = this.#pools.get(name);
		if (pool === undefined) throw new PoolNotFoundError(name, this.list());
		return pool as Pool<T>;
	}

	has(name: string): boolean {
		return this.#pools.has(name);
	}

	/** Stops managing the pool named `name` and closes it. Throws POOL_NOT_FOUND for an unknown name. */
	async remove(name: string, options?: CloseOptions): Promise<void> {
		const pool = this.get(name);
		this.#pools.delete(name);
		this.emit("poolRemoved", { pool: name });
		try {
			await pool.close(options);
		} finally {
			for (const [event, forward] of this.#forwarders) pool.off(event, forward);
		}
	}

	/** Names of the managed pools, in the order they were added. */
	list(): string[] {
		return [...this.#pools.keys()];
	}

	/** The managed pools, in the order they were added. */
	pools(): Pool<unknown>[] {
		return [...this.#pools.values()];
	}

	/** Every pool's statistics, keyed by name. */
	stats(): Record<string, PoolStats> {
		const all: Record<string, PoolStats> = {};
		for (const [name, pool] of this.#pools) all[name] = pool.stats();
		return all;
	}

	/** Starts a new statistics window in every pool. */
	resetStats(): void {
		for (const pool of this.#pools.values()) pool.resetStats();
	}

	/** Starts every pool (warms `min`); resolves when all are ready. */
	async start(): Promise<void> {
		await Promise.all(this.pools().map((pool) => pool.start()));
	}

	/**
	 * Health of every pool and overall: the worst status of the pools (healthy when there are
	 * none). See `assessPool` in ./health.ts for the thresholds.
	 */
	health(): HealthReport {
		const pools: Record<string, PoolHealthReport> = {};
		for (const [name, pool] of this.#pools) pools[name] = assessPool(pool.stats());
		return { status: worstStatus(Object.values(pools).map((p) => p.status)), pools };
	}

	/**
	 * Closes every pool in parallel under one deadline: leases may finish until `timeoutMs`,
	 * then their connections are destroyed. The manager takes no new pools afterwards. Idempotent.
	 */
	close(options?: CloseOptions): Promise<void> {
		if (this.#closing === undefined) {
			// Assigned before any pool starts closing: a close() from a listener during this one gets the same promise.
			let done: () => void = () => {};
			this.#closing = new Promise<void>((resolve) => (done = resolve));
			this.#stopHandlingSignals();
			void Promise.all(this.pools().map((pool) => pool.close(options))).finally(done);
		}
		return this.#closing;
	}

	get closed(): boolean {
		return this.#closing !== undefined;
	}

	/**
	 * On the first of `signals`, closes every pool (leases get `timeoutMs`), then re-raises the
	 * signal so it does what it would have done without the manager: terminate the process, or
	 * reach the application's own handlers if it has any. A second signal during the close hits
	 * the default behaviour at once. Calling it again replaces the previous settings.
	 */
	closeOnSignals(options?: SignalOptions): this {
		this.#stopHandlingSignals();
		const timeoutMs = options?.timeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
		this.#signals = options?.signals ?? DEFAULT_SIGNALS;
		const handler = (signal: NodeJS.Signals) => {
			this.#stopHandlingSignals();
			this.emit("shutdown", { signal });
			const reraise = () => {
				// Someone else handles this signal: they decide what it does; raising it again would run their handler twice.
				if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
			};
			this.close({ timeoutMs }).then(reraise, reraise);
		};
		this.#signalHandler = handler;
		for (const signal of this.#signals) process.on(signal, handler);
		return this;
	}

	async [Symbol.asyncDispose](): Promise<void> {
		await this.close();
	}

	#stopHandlingSignals(): void {
		const handler = this.#signalHandler;
		if (handler === undefined) return;
		for (const signal of this.#signals) process.off(signal, handler);
		this.#signalHandler = undefined;
	}

	#checkAddable(name: string): void {
		if (this.#closing !== undefined) throw new ManagerClosedError(name);
		if (this.#pools.has(name)) throw new PoolExistsError(name);
	}

	#adopt(pool: Pool<unknown>): void {
		this.#pools.set(pool.name, pool);
		for (const [event, forward] of this.#forwarders) pool.on(event, forward);
		this.emit("poolAdded", { pool: pool.name });
	}

	/** Starts re-emitting `event` from every pool; pools build event payloads only while someone listens. */
	#forward(event: PoolEventName): void {
		if (this.#forwarders.has(event)) return;
		const forward = (payload: unknown) => (this as EventEmitter).emit(event, payload);
		this.#forwarders.set(event, forward);
		for (const pool of this.#pools.values()) pool.on(event, forward);
	}

	#unforward(event: PoolEventName): void {
		const forward = this.#forwarders.get(event);
		if (forward === undefined) return;
		this.#forwarders.delete(event);
		for (const pool of this.#pools.values()) pool.off(event, forward);
	}
}

let processManager: PoolManager | undefined;

/** The process-wide manager, created on first use (without signal handling; call `closeOnSignals()` on it to add it). */
export function defaultManager(): PoolManager {
	processManager ??= new PoolManager();
	return processManager;
}
