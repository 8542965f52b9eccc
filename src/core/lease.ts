import type { PooledConnection } from "./connection.ts";
import { LeaseError } from "./errors.ts";
import type { ErrorClass } from "./options.ts";

/** What a lease needs from its pool; implemented privately by Pool. */
export interface LeaseOwner<T> {
	release(lease: Lease<T>): void;
	destroy(lease: Lease<T>, error: unknown): void;
	reportError(lease: Lease<T>, error: unknown): ErrorClass;
	misuse(lease: Lease<T>, what: "release" | "destroy"): void;
}

/** Where a lease is in its life: the one field that says whether its borrower may still use it. */
export const LeaseState = {
	active: "active",
	/** Given back by its borrower (release or destroy). */
	released: "released",
	/** Ended by the pool under its borrower (reclaim, close deadline, clear of a dead connection); the borrower's first release is expected and silent. */
	reclaimed: "reclaimed",
} as const;
export type LeaseState = (typeof LeaseState)[keyof typeof LeaseState];

/** Recognises leases from another copy of lifeguard (see LifeguardError's brand). */
const LEASE_BRAND = Symbol.for("lifeguard.lease");

/**
 * A borrowed connection. Give it back with `release()`, or `destroy(err?)` when it is broken;
 * `await using lease = await pool.acquire()` releases on scope exit. Both are idempotent.
 */
export class Lease<T> {
	/** True for leases from any copy of lifeguard, not only this one. */
	static [Symbol.hasInstance](value: unknown): boolean {
		// biome-ignore lint/complexity/noThisInStatic: `this` is the class right of instanceof (a subclass too), not this one
		if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
		return typeof value === "object" && value !== null && (value as { [LEASE_BRAND]?: unknown })[LEASE_BRAND] === true;
	}

	readonly #owner: LeaseOwner<T>;
	/** @internal */
	readonly conn: PooledConnection<T>;
	/** performance.now() when the lease was granted; undefined for a lease the pool did not time (see PoolStats.useMs). */
	readonly acquiredAt: number | undefined;
	/** The borrower's stack, captured only when leak detection is on. */
	stack: string | undefined = undefined;
	/** @internal */
	state: LeaseState = LeaseState.active;
	/** @internal Counted as a leak already (leak detection, reclaim). */
	leakReported = false;
	/** @internal The pool that lent it. */
	readonly pool: object;

	constructor(owner: LeaseOwner<T>, conn: PooledConnection<T>, acquiredAt: number | undefined, pool: object) {
		this.#owner = owner;
		this.pool = pool;
		this.conn = conn;
		this.acquiredAt = acquiredAt;
	}

	/** The pooled resource (driver client, socket, …). Throws LEASE_INVALID once the lease is over: the connection may be someone else's by then. */
	get resource(): T {
		if (this.state !== LeaseState.active) {
			throw new LeaseError(
				`lease.resource read after the lease ended (released, destroyed, or taken back by the pool) on connection ${this.conn.id}; acquire a new lease`,
			);
		}
		return this.conn.resource;
	}

	/** The connection's id within its pool, from 1 (as in the pool's events). */
	get connectionId(): number {
		return this.conn.id;
	}

	/** True until the lease is released, destroyed or reclaimed. */
	get active(): boolean {
		return this.state === LeaseState.active;
	}

	/** Gives the connection back to the pool. A second call is a no-op that warns once. */
	release(): void {
		if (this.state !== LeaseState.active) return this.#owner.misuse(this, "release");
		this.#owner.release(this);
	}

	/** Closes the connection instead of reusing it; pass the error that broke it. Idempotent. */
	destroy(error?: unknown): void {
		if (this.state !== LeaseState.active) return this.#owner.misuse(this, "destroy");
		this.#owner.destroy(this, error);
	}

	/**
	 * Tells the pool an operation on this connection failed. Connection faults lower the
	 * connection's health score (it is closed on release below the threshold); caller errors do not.
	 */
	reportError(error: unknown): ErrorClass {
		return this.#owner.reportError(this, error);
	}

	/** Releases unless already released or destroyed, silently: `await using` after `destroy()` is safe. */
	[Symbol.asyncDispose](): Promise<void> {
		if (this.state === LeaseState.active) this.#owner.release(this);
		return Promise.resolve();
	}

	get [LEASE_BRAND](): true {
		return true;
	}

	[Symbol.dispose](): void {
		if (this.state === LeaseState.active) this.#owner.release(this);
	}
}

/**
 * A release or destroy of a lease that has ended. After the pool ended it (close deadline,
 * reclaim) the borrower's first call is expected and silent; any other is a double release,
 * ignored with one warning per pool (`LIFEGUARD_DOUBLE_RELEASE`).
 */
export class MisuseGuard {
	readonly #poolName: string;
	#warned = false;

	constructor(poolName: string) {
		this.#poolName = poolName;
	}

	ended(lease: Lease<unknown>, what: "release" | "destroy"): void {
		if (lease.state === LeaseState.reclaimed) {
			lease.state = LeaseState.released;
			return;
		}
		if (this.#warned) return;
		this.#warned = true;
		process.emitWarning(
			`pool "${this.#poolName}": ${what}() called on a lease that was already released, destroyed or reclaimed (connection ${lease.conn.id}); the call was ignored. This warning is shown once per pool.`,
			{ code: "LIFEGUARD_DOUBLE_RELEASE" },
		);
	}
}
