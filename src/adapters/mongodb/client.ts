/**
 * A managed MongoDB client: one driver `MongoClient` (which pools per server itself) that the
 * manager, health report and metrics see like every other client. Its CMAP events feed one
 * {@link CmapPool} per server; `health()` pings with a deadline.
 */
import { performance } from "node:perf_hooks";
import type { Collection, Db, Document, MongoClient } from "mongodb";
import { type CloseOptions, closeTimeout } from "../../core/pool.ts";
import type { PoolStats } from "../../core/stats.ts";
import { ClientKind, type ClientPool, type ManagedClient } from "../../manager/client.ts";
import { type CmapEvent, CmapPool } from "./cmap-pool.ts";
import { MongoHealthError } from "./errors.ts";
import { loadMongo } from "./load.ts";
import { type MongoClientOptions, type MongoSettings, resolveMongoOptions } from "./options.ts";

/** The driver's connection pool monitoring events (CMAP), all of which feed the statistics. */
const CMAP_EVENTS = [
	"connectionPoolCreated",
	"connectionPoolReady",
	"connectionPoolCleared",
	"connectionPoolClosed",
	"connectionCreated",
	"connectionReady",
	"connectionClosed",
	"connectionCheckOutStarted",
	"connectionCheckOutFailed",
	"connectionCheckedOut",
	"connectionCheckedIn",
] as const;

/** What one health check found. */
export interface MongoHealth {
	ok: true;
	/** Round trip of the `ping`, in milliseconds. */
	latencyMs: number;
}

/** Statistics of every server's pool, by address. */
export interface MongoClientStats {
	pools: Record<string, PoolStats>;
	healthChecks: { ok: number; failed: number; lastError: string | undefined };
}

export class ManagedMongoClient implements ManagedClient {
	readonly name: string;
	readonly kind = ClientKind.mongodb;
	/** The driver's client: run every operation on it (or through `db()` / `collection()`). */
	readonly driver: MongoClient;
	readonly #settings: MongoSettings;
	readonly #pools = new Map<string, CmapPool>();
	readonly #health = { ok: 0, failed: 0, lastError: undefined as string | undefined };
	#timer: NodeJS.Timeout | undefined;
	#closing: Promise<void> | undefined;

	/** Use {@link createMongoClient} (it loads the driver). */
	constructor(Driver: typeof MongoClient, url: string, settings: MongoSettings) {
		this.#settings = settings;
		this.name = settings.name;
		this.driver = new Driver(url, settings.driverOptions);
		for (const host of settings.hosts) this.#poolOf(host);
		for (const event of CMAP_EVENTS) {
			(this.driver as unknown as NodeJS.EventEmitter).on(event, (e: CmapEvent) => this.#poolOf(e.address).record(event, e));
		}
	}

	/** True once `close()` was called. */
	get closed(): boolean {
		return this.#closing !== undefined;
	}

	/** A database handle of the driver's (the URL's database when `name` is left out). */
	db(name?: string): Db {
		return this.driver.db(name);
	}

	/** A collection handle of the driver's. */
	collection<T extends Document = Document>(name: string, db?: string): Collection<T> {
		return this.driver.db(db).collection<T>(name);
	}

	/** One pool per server the driver talks to, labelled by its address (`127.0.0.1:27017`). */
	pools(): ClientPool[] {
		return [...this.#pools.values()].map((pool) => ({ label: pool.address, pool }));
	}

	stats(): MongoClientStats {
		const pools: Record<string, PoolStats> = {};
		for (const pool of this.#pools.values()) pools[pool.address] = pool.stats();
		return { pools, healthChecks: { ...this.#health } };
	}

	details(): Record<string, unknown> {
		const o = this.#settings.driverOptions;
		return {
			hosts: this.#settings.hosts,
			maxPoolSize: o.maxPoolSize,
			minPoolSize: o.minPoolSize,
			maxIdleTimeMS: o.maxIdleTimeMS,
			waitQueueTimeoutMS: o.waitQueueTimeoutMS,
			maxConnecting: o.maxConnecting,
			healthChecks: { ...this.#health },
		};
	}

	/** Connects (server selection, handshake, `min` connections per server) and starts the periodic health check. */
	async start(): Promise<void> {
		await this.driver.connect();
		const every = this.#settings.healthCheckIntervalMs;
		if (every > 0 && this.#timer === undefined && this.#closing === undefined) {
			this.#timer = setInterval(() => void this.health().catch(() => {}), every);
			this.#timer.unref();
		}
	}

	/**
	 * Pings the server within `timeoutMs` (default `healthTimeoutMs`). Resolves with the round
	 * trip; rejects with MONGO_HEALTH_TIMEOUT past the deadline, MONGO_HEALTH_FAILED otherwise.
	 * Either way the result counts toward every pool's health score.
	 */
	async health(options: { timeoutMs?: number } = {}): Promise<MongoHealth> {
		const timeoutMs = options.timeoutMs ?? this.#settings.healthTimeoutMs;
		const started = performance.now();
		let timer: NodeJS.Timeout | undefined;
		const deadline = new Promise<never>((_, reject) => {
			timer = setTimeout(() => reject(new MongoHealthError(this.name, undefined, timeoutMs)), timeoutMs);
		});
		try {
			// timeoutMS makes the driver give up too (server selection, check-out, the reply), so nothing lingers past the deadline.
			const ping = this.driver.db("admin").command({ ping: 1 }, { timeoutMS: timeoutMs });
			ping.catch(() => {});
			await Promise.race([ping, deadline]);
			this.#recordHealth(true, undefined);
			return { ok: true, latencyMs: performance.now() - started };
		} catch (error) {
			const typed =
				error instanceof MongoHealthError
					? error
					: isTimeout(error)
						? new MongoHealthError(this.name, error, timeoutMs)
						: new MongoHealthError(this.name, error);
			this.#recordHealth(false, typed.message);
			throw typed;
		} finally {
			clearTimeout(timer);
		}
	}

	/** Stops the health checks and closes the driver (its pools and monitors). */
	close(options?: CloseOptions): Promise<void> {
		try {
			// The driver closes its own pools (it takes no deadline), but a misspelt option is still the caller's mistake.
			closeTimeout(`mongodb client "${this.name}": close`, options);
		} catch (error) {
			return Promise.reject(error);
		}
		this.#closing ??= this.#close();
		return this.#closing;
	}

	[Symbol.asyncDispose](): Promise<void> {
		return this.close();
	}

	async #close(): Promise<void> {
		clearInterval(this.#timer);
		this.#timer = undefined;
		await this.driver.close();
		for (const pool of this.#pools.values()) pool.record("connectionPoolClosed", { address: pool.address });
	}

	#recordHealth(ok: boolean, error: string | undefined): void {
		if (ok) this.#health.ok++;
		else {
			this.#health.failed++;
			this.#health.lastError = error;
		}
		for (const pool of this.#pools.values()) pool.recordHealthCheck(ok);
	}

	#poolOf(address: string): CmapPool {
		const key = address.toLowerCase();
		let pool = this.#pools.get(key);
		if (pool === undefined) {
			const o = this.#settings.driverOptions;
			pool = new CmapPool(`${this.name}/${key}`, key, { min: o.minPoolSize ?? 0, max: o.maxPoolSize ?? 0 }, () => this.#clearServer(key));
			this.#pools.set(key, pool);
		}
		return pool;
	}

	/**
	 * The driver has no public way to clear one server's pool; its topology holds the pools by
	 * address. A CMAP clear also pauses the pool until the server monitor's next heartbeat (it is
	 * meant for a server that just failed), so it is marked ready again at once: lifeguard's
	 * `clear()` retires the connections and keeps serving, as a core pool does.
	 */
	#clearServer(address: string): void {
		type DriverPool = { clear(): void; ready?(): void };
		const servers = (this.driver as unknown as { topology?: { s?: { servers?: Map<string, { pool?: DriverPool }> } } }).topology?.s?.servers;
		const pool = servers?.get(address)?.pool;
		pool?.clear();
		pool?.ready?.();
	}
}

function isTimeout(error: unknown): boolean {
	return error instanceof Error && error.name === "MongoOperationTimeoutError";
}

/**
 * A managed MongoDB client (the driver is loaded here: DRIVER_MISSING when `mongodb` is not
 * installed). It connects on `start()` or on its first operation.
 */
export async function createMongoClient(options: MongoClientOptions): Promise<ManagedMongoClient> {
	const settings = resolveMongoOptions(options);
	const { MongoClient: Driver } = await loadMongo();
	return new ManagedMongoClient(Driver, options.url, settings);
}
