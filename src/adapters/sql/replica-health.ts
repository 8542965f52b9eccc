/**
 * Which replicas can take reads. A replica is down when its pool has no open connection and a
 * connection to it just failed (a create, or its last open connection); reads routed
 * automatically skip it — to another replica, else the primary — until a connection to it is
 * ready again. While one is down, a probe asks its pool for a connection every second, so it
 * comes back even when nothing else would connect to it. Reads already waiting for a replica that
 * goes down move to the primary at once, instead of waiting out their deadline.
 *
 * A replica is not up either before its first connection is ready: a replica that accepts TCP but
 * never answers would otherwise cost each of the first reads a whole `createTimeoutMs`. The first
 * read that would have gone there starts a connection to it in the background and goes to the
 * primary; reads go to the replica once that connection is ready.
 */
import type { Lease } from "../../core/lease.ts";
import type { Pool } from "../../core/pool.ts";

/** How often a down replica is tried again. */
export const REPLICA_PROBE_INTERVAL_MS = 1_000;

export class ReplicaHealth<C> {
	readonly #down = new Set<Pool<C>>();
	readonly #waiting = new Map<Pool<C>, Set<AbortController>>();
	readonly #probing = new Set<Pool<C>>();
	/** Replicas no connection to has been ready yet. */
	readonly #unproven = new Set<Pool<C>>();
	#probeTimer: NodeJS.Timeout | undefined;
	#stopped = false;

	constructor(replicas: readonly Pool<C>[]) {
		for (const pool of replicas) {
			this.#waiting.set(pool, new Set());
			this.#unproven.add(pool);
			// Not `pool.unavailable`: it turns true only once a create fails, so a replica whose host vanished (its connections
			// dead, new connects hanging) would keep reads waiting out a whole connect timeout before they moved.
			pool.on("connectionClosed", ({ reason }) => {
				if (reason === "error" && pool.size - pool.creatingCount === 0) this.#markDown(pool);
			});
			pool.on("connectionReady", () => this.#markUp(pool));
		}
	}

	isUp(pool: Pool<C>): boolean {
		if (this.#unproven.has(pool)) {
			// Connections already open (warmed by start()) prove it; otherwise one is opened in the background.
			if (pool.idleCount + pool.activeCount > 0) this.#unproven.delete(pool);
			else {
				this.#connect(pool);
				return false;
			}
		}
		return !this.#down.has(pool);
	}

	/**
	 * Waits for a connection of `replica` for an automatically routed read; undefined when the
	 * replica went down meanwhile (the caller then uses the primary).
	 */
	async acquireWatched(replica: Pool<C>, signal: AbortSignal | undefined): Promise<Lease<C> | undefined> {
		const moved = new AbortController();
		const waiting = this.#waiting.get(replica) as Set<AbortController>;
		waiting.add(moved);
		try {
			return await replica.acquire({ signal: signal === undefined ? moved.signal : AbortSignal.any([signal, moved.signal]) });
		} catch (error) {
			if (moved.signal.aborted && signal?.aborted !== true) return undefined;
			throw error;
		} finally {
			waiting.delete(moved);
		}
	}

	/** Stops probing (the client is closing). */
	stop(): void {
		this.#stopped = true;
		clearInterval(this.#probeTimer);
		this.#probeTimer = undefined;
	}

	#markDown(pool: Pool<C>): void {
		if (this.#stopped) return;
		this.#down.add(pool);
		for (const moved of this.#waiting.get(pool) ?? []) moved.abort();
		if (this.#probeTimer === undefined) {
			this.#probeTimer = setInterval(() => this.#probe(), REPLICA_PROBE_INTERVAL_MS);
			this.#probeTimer.unref();
		}
	}

	#markUp(pool: Pool<C>): void {
		this.#unproven.delete(pool);
		this.#down.delete(pool);
		if (this.#down.size === 0) {
			clearInterval(this.#probeTimer);
			this.#probeTimer = undefined;
		}
	}

	/** One connection attempt per down replica at a time; success marks it up (connectionReady). */
	#probe(): void {
		for (const pool of this.#down) this.#connect(pool);
	}

	/** Asks `pool` for a connection in the background (one attempt at a time); its connectionReady marks the replica up. */
	#connect(pool: Pool<C>): void {
		if (this.#stopped || this.#probing.has(pool) || pool.closed) return;
		this.#probing.add(pool);
		pool
			.acquire({ timeoutMs: pool.options.createTimeoutMs })
			.then(
				(lease) => lease.release(),
				() => {},
			)
			.finally(() => this.#probing.delete(pool));
	}
}
