/**
 * Read/write routing: the primary takes writes, locking reads and anything uncertain; replicas
 * take statements the classifier is sure are reads. A caller that just wrote reads from the
 * primary for `readYourWritesMs`, so it sees its own writes despite replication lag.
 */
import { ConfigError } from "../../core/errors.ts";
import type { Pool } from "../../core/pool.ts";
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
	#next = 0;

	constructor(primary: Pool<C>, replicas: readonly Pool<C>[], dialect: SqlDialect, leastBusy: boolean, readYourWritesMs: number) {
		this.primary = primary;
		this.replicas = replicas;
		this.#dialect = dialect;
		this.#leastBusy = leastBusy;
		this.#readYourWritesMs = readYourWritesMs;
	}

	/** True when callers' writes must be remembered (replicas and a read-your-writes window). */
	get tracksWrites(): boolean {
		return this.replicas.length > 0 && this.#readYourWritesMs > 0;
	}

	/** The pool for one statement. `caller` is given only when `tracksWrites`. */
	route(sql: string, route: Route | undefined, caller: Caller | undefined): Pool<C> {
		if (route !== undefined) checkRoute(route);
		if (this.replicas.length === 0 || route === "primary") return this.#toPrimary();
		if (route === "replica") return this.#toReplica();
		if (!this.isRead(sql)) {
			caller?.wrote();
			return this.#toPrimary();
		}
		if (caller !== undefined && performance.now() - caller.lastWriteAt < this.#readYourWritesMs) return this.#toPrimary();
		return this.#toReplica();
	}

	/** The pool for a pinned connection, a connection id or a transaction: the primary unless `replica` is asked for. */
	routeConnection(route: Route | undefined): Pool<C> {
		if (route !== undefined) checkRoute(route);
		return route === "replica" && this.replicas.length > 0 ? this.#toReplica() : this.#toPrimary();
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

	#toPrimary(): Pool<C> {
		this.routed.primary++;
		return this.primary;
	}

	#toReplica(): Pool<C> {
		this.routed.replica++;
		const replicas = this.replicas;
		const start = this.#next++ % replicas.length;
		if (!this.#leastBusy) return replicas[start];
		// Least busy: fewest leased connections plus waiters; ties go round-robin.
		let best = replicas[start];
		let bestLoad = best.activeCount + best.pendingCount;
		for (let k = 1; k < replicas.length && bestLoad > 0; k++) {
			const candidate = replicas[(start + k) % replicas.length];
			const load = candidate.activeCount + candidate.pendingCount;
			if (load < bestLoad) {
				best = candidate;
				bestLoad = load;
			}
		}
		return best;
	}
}

const ROUTES: ReadonlySet<string> = new Set<Route>(["auto", "primary", "replica"]);

function checkRoute(route: string): void {
	if (!ROUTES.has(route)) throw new ConfigError("route", [{ path: "route", message: `must be "auto", "primary" or "replica", got ${JSON.stringify(route)}` }]);
}
