/**
 * The checkout queue of the SQL drop-ins (compat/pg, compat/mysql2): the callers of `connect()` /
 * `getConnection()` waiting in the core's queue, and who fails when a connection attempt fails.
 *
 * pg-pool and mysql2 open one connection per caller and fail the caller whose connection could
 * not be opened. The core hands connections to its waiters first come first served, and its
 * connection attempts serve no caller in particular; so here a failed attempt fails the first
 * caller still waiting: through its abort signal when it has one, else at once by its callback,
 * its place in the core's queue kept as a `stale` one whose connection, when it comes, goes
 * straight back. Abort signals cost about a microsecond per checkout, so only a caller that may
 * start a connection, or any caller while attempts are failing, takes one.
 */
import { Deque } from "../core/deque.ts";
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

/** One caller waiting in the core's queue. */
export class Checkout<C> {
	readonly callback: C;
	/** Waited behind a full pool (mysql2 then emits no `acquire`). */
	readonly queued: boolean;
	readonly controller: AbortController | undefined;
	/** The connection error it was aborted with: its rejection reports this, not the abort. */
	failure: Error | undefined = undefined;
	/** Failed by its callback while its place in the core's queue is kept: its lease, when it comes, goes back. */
	stale = false;
	/** Settled: it waits no more (left in the queue until it reaches the front). */
	done = false;

	constructor(callback: C, queued: boolean, signalled: boolean) {
		this.callback = callback;
		this.queued = queued;
		this.controller = signalled ? new AbortController() : undefined;
	}
}

/** The waiting callers of one drop-in pool, in the order the core serves them. */
export class CheckoutQueue<T, C> {
	readonly #core: CorePool<T>;
	readonly #hooks: CheckoutHooks<T, C>;
	/**
	 * First come first served, like the core's queue: a checkout usually settles at the front and
	 * leaves at once; one settled behind the front (abort, timeout) leaves when it gets there. A
	 * ring, not a Set: a Set churned by an add and a delete per checkout made V8 promote a
	 * megabyte or two to the old space at every scavenge (four times the collector's time of
	 * pg-pool's, measured), where the ring allocates nothing.
	 */
	readonly #queue = new Deque<Checkout<C>>();
	#stale = 0;
	/** A connection attempt failed and none has succeeded since: every new checkout takes a signal. */
	#failing = false;
	/** Inside `wait()`'s call into the core: an answer now would reach the caller inside its own call. */
	#asking = false;
	/** Hand-offs running inside releases, nested: a caller that releases in its callback hands on to the next one inside it. */
	#handing = 0;

	constructor(core: CorePool<T>, hooks: CheckoutHooks<T, C>) {
		this.#core = core;
		this.#hooks = hooks;
	}

	/** Callers waiting for a release, as pg-pool and mysql2 count them: not those whose connection is being opened, nor stale ones. */
	get waiting(): number {
		return Math.max(0, this.#core.pendingCount - this.#core.creatingCount - this.#stale);
	}

	/** An idle connection and nobody ahead: lent at once, nothing to fail, nothing to track; handed out on the next tick. */
	lendIdle(callback: C): void {
		this.#core.acquireWith(this.#idleLent, this.#idleFailed, callback);
	}

	/**
	 * Waits in the core's queue. `mayConnect`: the caller may start a connection (the pool is not
	 * full), so a failed attempt may be its to report. `timeoutMs` undefined: the core's
	 * acquire timeout.
	 */
	wait(callback: C, queued: boolean, mayConnect: boolean, timeoutMs?: number): void {
		const checkout = new Checkout(callback, queued, mayConnect || this.#failing);
		this.#queue.push(checkout);
		const signal = checkout.controller?.signal;
		// No options object unless needed: the core checks a caller's options on every wait.
		let options: AcquireOptions | undefined;
		if (signal !== undefined) options = timeoutMs === undefined ? { signal } : { signal, timeoutMs };
		else if (timeoutMs !== undefined) options = { timeoutMs };
		// The core may answer inside this call (a connection already free, options it refuses): such answers wait a tick.
		const outer = this.#asking;
		this.#asking = true;
		try {
			this.#core.acquireWith(this.#lent, this.#failed, checkout, options);
		} finally {
			this.#asking = outer;
		}
	}

	readonly #idleLent = (lease: Lease<T>, callback: C): void => {
		process.nextTick(this.#handOutIdle, lease, callback);
	};

	readonly #handOutIdle = (lease: Lease<T>, callback: C): void => {
		this.#hooks.handOut(lease, callback, false);
	};

	readonly #idleFailed = (error: Error, callback: C): void => {
		process.nextTick(this.#hooks.fail, callback, this.#hooks.translate(error));
	};

	readonly #lent = (lease: Lease<T>, checkout: Checkout<C>): void => {
		this.#settle(checkout);
		if (checkout.stale) {
			this.#stale--;
			lease.release();
		} else if (this.#asking || !this.#hooks.handOffInRelease || this.#handing >= MAX_HANDOFF_DEPTH) process.nextTick(this.#handOutQueued, lease, checkout);
		else this.#guarded(lease, checkout);
	};

	readonly #handOutQueued = (lease: Lease<T>, checkout: Checkout<C>): void => {
		this.#hooks.handOut(lease, checkout.callback, checkout.queued);
	};

	/**
	 * Hands out inside the core's release, counting how deep such hand-offs nest. What the caller's
	 * callback throws is caught by the core, which rethrows it on the next tick (pg-pool lets it
	 * escape from release(), into the releasing caller's code), so the core is never unwound
	 * half-way through its release.
	 */
	#guarded(lease: Lease<T>, checkout: Checkout<C>): void {
		this.#handing++;
		try {
			this.#hooks.handOut(lease, checkout.callback, checkout.queued);
		} finally {
			this.#handing--;
		}
	}

	readonly #failed = (error: Error, checkout: Checkout<C>): void => {
		this.#settle(checkout);
		if (checkout.stale) this.#stale--;
		else process.nextTick(this.#hooks.fail, checkout.callback, checkout.failure ?? this.#hooks.translate(error));
	};

	/** A connection attempt succeeded: checkouts go without signals again. */
	connected(): void {
		this.#failing = false;
	}

	/** A connection attempt failed with `error`: fails the first caller still waiting (see the module's comment). */
	connectFailed(error: Error): void {
		this.#failing = true;
		for (const checkout of this.#queue) {
			if (checkout.done || checkout.stale) continue;
			if (checkout.controller === undefined) {
				checkout.stale = true;
				this.#stale++;
				this.#hooks.fail(checkout.callback, error);
				return;
			}
			// The abort takes effect only if the core had not already served this checkout: then its waiter count drops.
			const before = this.#core.pendingCount;
			checkout.failure = error;
			checkout.controller.abort(error);
			if (this.#core.pendingCount < before) return;
			checkout.failure = undefined;
		}
	}

	#settle(checkout: Checkout<C>): void {
		checkout.done = true;
		const queue = this.#queue;
		while (queue.peekFirst()?.done === true) queue.shift();
	}
}

/** Beyond this many nested hand-offs (callers releasing inside their callbacks) the next waits a tick, so the stack cannot overflow mid-release. */
const MAX_HANDOFF_DEPTH = 64;
