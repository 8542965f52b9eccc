/**
 * The command path's connections. ioredis pipelines: many callers' commands can be in flight on
 * one connection, and Redis answers them in order. So instead of one exclusive lease per command
 * (a round trip per connection at a time), the multiplexer borrows up to `size` connections from
 * the pool and sends each tick's commands to the least loaded one. A connection is held while
 * commands flow through it and goes back to the pool after IDLE_RELEASE_MS without any (where
 * it is validated, aged and replaced like any other). Only commands that leave no session state
 * come here.
 */
import { performance } from "node:perf_hooks";
import type { Redis } from "ioredis";
import { AcquireAbortedError, PoolClosedError } from "../../core/errors.ts";
import type { Lease } from "../../core/lease.ts";
import type { Pool } from "../../core/pool.ts";
import { raceAbort } from "../kit/abortable.ts";
import { classifyRedisError } from "./faults.ts";
import { acquireOpen, isOpen } from "./open-lease.ts";

/**
 * How long a shared connection stays held with nothing in flight. Long enough that a connection
 * borrowed to grow the set is still there when the callers' next commands come (releasing at
 * once made it churn through acquire and release thousands of times a second under load),
 * short enough that an idle command path hands its connections back to the pool.
 */
const IDLE_RELEASE_MS = 20;

interface SharedConnection {
	readonly lease: Lease<Redis>;
	readonly redis: Redis;
	inFlight: number;
	/** In the multiplexer's set; false once released or retired. */
	held: boolean;
	/** performance.now() when the multiplexer borrowed it. */
	readonly heldAt: number;
	/** performance.now() when inFlight last fell to 0. */
	idleSince: number;
	idleTimer: NodeJS.Timeout | undefined;
	/** The socket is corked until the next tick: commands sent in the same tick leave in one write. */
	corked: boolean;
}

export class Multiplexer {
	readonly #pool: Pool<Redis>;
	readonly #size: number;
	/** A connection held this long is rotated out, so a command path that never idles still honours maxLifetimeMs. */
	readonly #maxHoldMs: number;
	readonly #held: SharedConnection[] = [];
	#acquiring: Promise<SharedConnection> | undefined;
	/** The connection this tick's commands go to: commands sent together keep their order and share one write. */
	#current: SharedConnection | undefined;
	#closing = false;

	constructor(pool: Pool<Redis>, size: number) {
		this.#pool = pool;
		this.#size = size;
		this.#maxHoldMs = pool.options.maxLifetimeMs;
	}

	/** Connections held right now (0 when the command path is idle). */
	get held(): number {
		return this.#held.length;
	}

	/**
	 * Runs `send` on a shared connection. A connection fault or a timeout retires the connection:
	 * the commands in flight behind the failed one fail with CONNECTION_LOST, since their replies
	 * would have come after its reply anyway.
	 */
	async run<R>(send: (redis: Redis) => Promise<R>, signal: AbortSignal | undefined): Promise<R> {
		if (this.#closing) throw new PoolClosedError(this.#pool.name);
		const current = this.#current;
		const shared = (current?.held === true ? current : this.#pick()) ?? (await this.#waitForConnection(signal));
		shared.inFlight++;
		if (!shared.corked) {
			shared.corked = true;
			shared.redis.stream.cork();
			this.#current = shared;
			process.nextTick(() => this.#uncork(shared));
		}
		try {
			return await send(shared.redis);
		} catch (error) {
			if (classifyRedisError(error) === "connection") this.#retire(shared, error);
			throw error;
		} finally {
			if (--shared.inFlight === 0) {
				if (shared.held) this.#releaseWhenIdle(shared);
				// Rotated out while busy: back to the pool now that its last reply is in.
				else if (shared.lease.active) shared.lease.release();
			}
		}
	}

	/**
	 * Flushes the commands corked since the last tick in one write (writev). Callers resume after
	 * a batch of replies in one microtask drain, and nextTick runs after it, so their next
	 * commands share a system call instead of paying one each.
	 */
	#uncork(shared: SharedConnection): void {
		shared.corked = false;
		if (this.#current === shared) this.#current = undefined;
		shared.redis.stream.uncork();
	}

	/** Called when a connection errors or closes: stop sending to it and hand it back to be destroyed. */
	connectionDied(redis: Redis, error: Error): void {
		const shared = this.#held.find((s) => s.redis === redis);
		if (shared !== undefined) this.#retire(shared, error);
	}

	/** Takes no more commands; held connections go back to the pool as soon as their commands are answered. */
	close(): void {
		this.#closing = true;
		for (const shared of [...this.#held]) if (shared.inFlight === 0) this.#release(shared);
	}

	/** The least loaded held connection, starting to borrow one more when all are busy and the set is not full. */
	#pick(): SharedConnection | undefined {
		if (this.#maxHoldMs > 0) this.#rotate(performance.now());
		let best: SharedConnection | undefined;
		for (const shared of this.#held) if (best === undefined || shared.inFlight < best.inFlight) best = shared;
		if (best !== undefined && !isOpen(best.redis)) {
			// Dead, its 'close' not handled yet: a command sent now would fail without having been sent anywhere useful.
			this.#retire(best, new Error(`the connection was ${best.redis.status} when picked`));
			return this.#pick();
		}
		if (best !== undefined && best.inFlight > 0 && this.#held.length < this.#size && this.#acquiring === undefined) this.#acquire();
		return best;
	}

	/** Stops picking connections held longer than maxLifetimeMs; each goes back to the pool once its commands are answered. */
	#rotate(now: number): void {
		for (let i = this.#held.length - 1; i >= 0; i--) {
			const shared = this.#held[i];
			if (now - shared.heldAt < this.#maxHoldMs) continue;
			this.#forget(shared);
			if (shared.inFlight === 0 && shared.lease.active) shared.lease.release();
		}
	}

	#waitForConnection(signal: AbortSignal | undefined): Promise<SharedConnection> {
		const acquiring = this.#acquiring ?? this.#acquire();
		return signal === undefined ? acquiring : abortable(acquiring, signal, this.#pool.name);
	}

	/** One borrow at a time: callers that find nothing held all wait for it. Its failure goes to them, or nowhere when it was only growth. */
	#acquire(): Promise<SharedConnection> {
		const acquiring = acquireOpen(this.#pool).then((lease) => {
			if (this.#closing) {
				lease.release();
				throw new PoolClosedError(this.#pool.name);
			}
			const shared: SharedConnection = {
				lease,
				redis: lease.resource,
				inFlight: 0,
				held: true,
				heldAt: performance.now(),
				idleSince: 0,
				idleTimer: undefined,
				corked: false,
			};
			this.#held.push(shared);
			this.#releaseWhenIdle(shared);
			return shared;
		});
		this.#acquiring = acquiring;
		const done = () => {
			if (this.#acquiring === acquiring) this.#acquiring = undefined;
		};
		acquiring.then(done, done);
		return acquiring;
	}

	/** Gives the connection back after IDLE_RELEASE_MS with nothing in flight; one timer per connection, re-armed only when it fires. */
	#releaseWhenIdle(shared: SharedConnection): void {
		if (!shared.held) return;
		if (this.#closing) return this.#release(shared);
		shared.idleSince = performance.now();
		shared.idleTimer ??= setTimeout(() => this.#checkIdle(shared), IDLE_RELEASE_MS).unref();
	}

	#checkIdle(shared: SharedConnection): void {
		shared.idleTimer = undefined;
		if (!shared.held || shared.inFlight > 0) return;
		const idleMs = performance.now() - shared.idleSince;
		if (idleMs >= IDLE_RELEASE_MS) this.#release(shared);
		else shared.idleTimer = setTimeout(() => this.#checkIdle(shared), IDLE_RELEASE_MS - idleMs).unref();
	}

	#release(shared: SharedConnection): void {
		this.#forget(shared);
		if (shared.lease.active) shared.lease.release();
	}

	/** Destroys the connection, held or already rotated out: a timed-out one must never be reused. */
	#retire(shared: SharedConnection, error: unknown): void {
		this.#forget(shared);
		if (shared.lease.active) shared.lease.destroy(error);
	}

	#forget(shared: SharedConnection): void {
		shared.held = false;
		clearTimeout(shared.idleTimer);
		shared.idleTimer = undefined;
		const index = this.#held.indexOf(shared);
		if (index !== -1) this.#held.splice(index, 1);
	}
}

/** `work`, or ACQUIRE_ABORTED as soon as `signal` aborts. */
function abortable<R>(work: Promise<R>, signal: AbortSignal, pool: string): Promise<R> {
	return raceAbort(work, signal, () => new AcquireAbortedError(pool, signal.reason));
}
