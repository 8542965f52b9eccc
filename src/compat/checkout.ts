/**
 * The checkout queue of the SQL drop-ins (compat/pg, compat/mysql2): the callers of `connect()` /
 * `getConnection()` waiting in the core's queue, and who fails when a connection attempt fails.
 *
 * pg-pool and mysql2 open one connection per caller and fail the caller whose connection could
 * not be opened. The core's connection attempts serve no caller in particular and its waiters
 * are served first come first served, so here a failed attempt fails the caller that has waited
 * longest (`Pool.failOldestWaiter`): the one pg-pool or mysql2 would have failed, since each
 * opens connections for its callers in their order. The caller's callback is the core's context
 * for its wait: nothing is allocated per checkout beyond the core's own waiter.
 */
// Bound by import: `process` is a global accessor, read on every checkout otherwise.
import { nextTick } from "node:process";
import type { Lease } from "../core/lease.ts";
import type { AcquireOptions, Pool as CorePool } from "../core/pool.ts";

/** What a drop-in tells its queue: how to lend, how to fail a caller, and its driver's words for the core's errors. */
export interface CheckoutHooks<T, C> {
	/**
	 * Gives the lease's connection to the caller; `queued` when it waited behind a full pool.
	 * Never runs inside the `connect()` / `getConnection()` call that asked: always later.
	 */
	handOut(lease: Lease<T>, callback: C, queued: boolean): void;
	/**
	 * Whether a connection released to a waiting caller is handed out inside that `release()`,
	 * as pg-pool does; otherwise on the next tick, as mysql2 does.
	 */
	handOffInRelease: boolean;
	/** Fails the caller with `error`, in the driver's callback form. */
	fail(callback: C, error: Error): void;
	/** The core's error (timeout, pool closed) in the driver's words. */
	translate(error: unknown): Error;
}

/** The waiting callers of one drop-in pool, in the order the core serves them. */
export class CheckoutQueue<T, C> {
	readonly #core: CorePool<T>;
	readonly #hooks: CheckoutHooks<T, C>;
	/** Inside `wait()`'s call into the core: an answer now would reach the caller inside its own call. */
	#asking = false;
	/** Inside `connectFailed()`: the driver fails its caller right there, in the connection's callback. */
	#connectFailing = false;
	/** Hand-offs running inside releases, nested: a caller that releases in its callback hands on to the next one inside it. */
	#handing = 0;

	constructor(core: CorePool<T>, hooks: CheckoutHooks<T, C>) {
		this.#core = core;
		this.#hooks = hooks;
	}

	/** Callers waiting for a release, as pg-pool and mysql2 count them: not those whose connection is being opened. */
	get waiting(): number {
		return Math.max(0, this.#core.pendingCount - this.#core.creatingCount);
	}

	/** An idle connection and nobody ahead: lent at once; handed out on the next tick. */
	lendIdle(callback: C): void {
		this.#ask(this.#idleLent, callback, undefined);
	}

	/**
	 * Waits in the core's queue. `queued`: behind a full pool (mysql2 then emits no `acquire`).
	 * `timeoutMs` undefined: the core's acquire timeout.
	 */
	wait(callback: C, queued: boolean, timeoutMs?: number): void {
		// No options object unless needed: the core checks a caller's options on every wait.
		const options: AcquireOptions | undefined = timeoutMs === undefined ? undefined : { timeoutMs };
		this.#ask(queued ? this.#lentQueued : this.#lentFresh, callback, options);
	}

	/**
	 * Asks the core for a connection for `callback`. The core may answer inside this call (a
	 * connection already free, a closed pool, options it refuses): such answers wait a tick, so a
	 * caller is never answered inside its own `connect()` / `getConnection()`, even one made inside
	 * a connection's failure callback.
	 */
	#ask(onLease: (lease: Lease<T>, callback: C) => void, callback: C, options: AcquireOptions | undefined): void {
		const outer = this.#asking;
		this.#asking = true;
		try {
			this.#core.acquireWith(onLease, this.#failed, callback, options);
		} finally {
			this.#asking = outer;
		}
	}

	/** A connection attempt failed with `error`: the caller that has waited longest gets it (see the module's comment). */
	connectFailed(error: Error): void {
		const outer = this.#connectFailing;
		this.#connectFailing = true;
		try {
			this.#core.failOldestWaiter(error);
		} finally {
			this.#connectFailing = outer;
		}
	}

	readonly #idleLent = (lease: Lease<T>, callback: C): void => {
		nextTick(this.#handOutFresh, lease, callback);
	};

	readonly #lentFresh = (lease: Lease<T>, callback: C): void => this.#lent(lease, callback, false);

	readonly #lentQueued = (lease: Lease<T>, callback: C): void => this.#lent(lease, callback, true);

	#lent(lease: Lease<T>, callback: C, queued: boolean): void {
		if (this.#asking || !this.#hooks.handOffInRelease || this.#handing >= MAX_HANDOFF_DEPTH) {
			nextTick(queued ? this.#handOutQueued : this.#handOutFresh, lease, callback);
		} else this.#guarded(lease, callback, queued);
	}

	readonly #handOutFresh = (lease: Lease<T>, callback: C): void => {
		this.#hooks.handOut(lease, callback, false);
	};

	readonly #handOutQueued = (lease: Lease<T>, callback: C): void => {
		this.#hooks.handOut(lease, callback, true);
	};

	/**
	 * Hands out inside the core's release, counting how deep such hand-offs nest. What the caller's
	 * callback throws is caught by the core, which rethrows it on the next tick (pg-pool lets it
	 * escape from release(), into the releasing caller's code), so the core is never unwound
	 * half-way through its release.
	 */
	#guarded(lease: Lease<T>, callback: C, queued: boolean): void {
		this.#handing++;
		try {
			this.#hooks.handOut(lease, callback, queued);
		} finally {
			this.#handing--;
		}
	}

	readonly #failed = (error: Error, callback: C): void => {
		// A connection error reaches its caller inside the connection's callback, as the drivers do; any other answer waits a tick.
		if (this.#connectFailing && !this.#asking) this.#hooks.fail(callback, error);
		else nextTick(this.#hooks.fail, callback, this.#hooks.translate(error));
	};
}

/** Beyond this many nested hand-offs (callers releasing inside their callbacks) the next waits a tick, so the stack cannot overflow mid-release. */
const MAX_HANDOFF_DEPTH = 64;
