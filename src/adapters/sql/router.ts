/**
 * Read/write routing: the primary takes writes, locking reads and anything uncertain; replicas
 * take statements the classifier is sure are reads (skipping replicas that are down). A caller
 * that just wrote reads from the primary for `readYourWritesMs`, so it sees its own writes
 * despite replication lag.
 */
import { performance } from "node:perf_hooks";
import { ConfigError } from "../../core/errors.ts";
import type { Lease } from "../../core/lease.ts";
import type { Pool } from "../../core/pool.ts";
import { quoteValue } from "../../core/quote-value.ts";
import { ReplicaHealth } from "./replica-health.ts";
import { isSureRead } from "./statement.ts";
import type { Route, SqlDialect } from "./types.ts";

/** Most statements an application sends are a few hundred texts, classified once each. */
const CLASSIFICATION_CACHE_SIZE = 1_000;
/** Longer texts (generated bulk statements) are classified every time rather than kept in memory. */
const CACHED_SQL_MAX_LENGTH = 4_096;

/**
 * Whoever read-your-writes is tracked for: a session from `client.session()`, or the client
 * itself for calls made outside any session. It remembers when it last wrote.
 */
export class Caller {
	/** performance.now() of this caller's last write; -Infinity before any. */
	lastWriteAt = Number.NEGATIVE_INFINITY;

	wrote(): void {
		this.lastWriteAt = performance.now();
	}
}

export class Router<C> {
	readonly primary: Pool<C>;
	readonly replicas: readonly Pool<C>[];
	readonly routed = { primary: 0, replica: 0 };
	readonly #dialect: SqlDialect;
	readonly #leastBusy: boolean;
	readonly #readYourWritesMs: number;
	readonly #reads = new Map<string, boolean>();
	readonly #health: ReplicaHealth<C> | undefined;
	#next = 0;

	constructor(primary: Pool<C>, replicas: readonly Pool<C>[], dialect: SqlDialect, leastBusy: boolean, readYourWritesMs: number) {
		this.primary = primary;
		this.replicas = replicas;
		this.#dialect = dialect;
		this.#leastBusy = leastBusy;
		this.#readYourWritesMs = readYourWritesMs;
		this.#health = replicas.length > 0 ? new ReplicaHealth(replicas) : undefined;
	}

	/** True when callers' writes must be remembered (replicas and a read-your-writes window). */
	get tracksWrites(): boolean {
		return this.replicas.length > 0 && this.#readYourWritesMs > 0;
	}

	/** The pool for one statement. `caller` is given only when `tracksWrites`. */
	route(sql: string, route: Route | undefined, caller: Caller | undefined): Pool<C> {
		if (route !== undefined) checkRoute(route);
		if (this.replicas.length === 0 || route === "primary") return this.#toPrimary();
		if (route === "replica") return this.#toReplica(this.#pickReplica(false) as Pool<C>);
		if (!this.isRead(sql)) {
			caller?.wrote();
			return this.#toPrimary();
		}
		if (caller !== undefined && performance.now() - caller.lastWriteAt < this.#readYourWritesMs) return this.#toPrimary();
		const replica = this.#pickReplica(true);
		return replica === undefined ? this.#toPrimary() : this.#toReplica(replica);
	}

	/** The pool for a pinned connection, a connection id or a transaction: the primary unless `replica` is asked for. */
	routeConnection(route: Route | undefined): Pool<C> {
		if (route !== undefined) checkRoute(route);
		return route === "replica" && this.replicas.length > 0 ? this.#toReplica(this.#pickReplica(false) as Pool<C>) : this.#toPrimary();
	}

	/**
	 * A connection from the pool `route()` chose. A read routed automatically to a replica that
	 * goes down while it waits moves to the primary; an explicit route stays where it was sent.
	 */
	acquire(pool: Pool<C>, route: Route | undefined, signal: AbortSignal | undefined): Promise<Lease<C>> {
		const options = signal === undefined ? undefined : { signal };
		if (pool === this.primary || route === "replica" || (pool.pendingCount === 0 && pool.idleCount > 0)) return pool.acquire(options);
		return this.#acquireRead(pool, signal);
	}

	async #acquireRead(replica: Pool<C>, signal: AbortSignal | undefined): Promise<Lease<C>> {
		const lease = await (this.#health as ReplicaHealth<C>).acquireWatched(replica, signal);
		if (lease !== undefined) return lease;
		this.routed.replica--;
		return this.#toPrimary().acquire(signal === undefined ? undefined : { signal });
	}

	/** Classifies `sql` (cached). */
	isRead(sql: string): boolean {
		if (sql.length > CACHED_SQL_MAX_LENGTH) return isSureRead(sql, this.#dialect);
		let read = this.#reads.get(sql);
		if (read === undefined) {
			read = isSureRead(sql, this.#dialect);
			if (this.#reads.size >= CLASSIFICATION_CACHE_SIZE) this.#reads.clear();
			this.#reads.set(sql, read);
		}
		return read;
	}

	/** Stops watching replicas (the client is closing). */
	stop(): void {
		this.#health?.stop();
	}

	#toPrimary(): Pool<C> {
		this.routed.primary++;
		return this.primary;
	}

	#toReplica(replica: Pool<C>): Pool<C> {
		this.routed.replica++;
		return replica;
	}

	/**
	 * The next replica, round-robin or least busy, among those up. `upOnly`: undefined when every
	 * replica is down; otherwise a down replica is taken when no replica is up.
	 */
	#pickReplica(upOnly: boolean): Pool<C> | undefined {
		const replicas = this.replicas;
		const health = this.#health as ReplicaHealth<C>;
		const start = this.#next++ % replicas.length;
		let best: Pool<C> | undefined;
		let bestLoad = Number.POSITIVE_INFINITY;
		for (let k = 0; k < replicas.length; k++) {
			const candidate = replicas[(start + k) % replicas.length];
			if (!health.isUp(candidate)) continue;
			if (!this.#leastBusy) return candidate;
			// Least busy: fewest leased connections plus waiters; ties go round-robin.
			const load = candidate.activeCount + candidate.pendingCount;
			if (load < bestLoad) {
				best = candidate;
				bestLoad = load;
				if (load === 0) break;
			}
		}
		return best ?? (upOnly ? undefined : replicas[start]);
	}
}

const ROUTES: ReadonlySet<string> = new Set<Route>(["auto", "primary", "replica"]);

function checkRoute(route: string): void {
	if (!ROUTES.has(route)) throw new ConfigError("route", [{ path: "route", message: `must be "auto", "primary" or "replica", got ${quoteValue(route)}` }]);
}
