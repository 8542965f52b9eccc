/**
 * The command path's connections. ioredis pipelines: many callers' commands can be in flight on
 * one connection, and Redis answers them in order. So instead of one exclusive lease per command
 * (a round trip per connection at a time), the multiplexer borrows up to `size` connections from
 * the pool and spreads commands over them, least loaded first. A connection is held only while
 * commands are in flight on it and goes back to the pool once idle (where it is validated,
 * aged and replaced like any other). Only commands that leave no session state come here.
 */
import type { Redis } from "ioredis";
import { AcquireAbortedError, PoolClosedError } from "../../core/errors.ts";
import type { Lease } from "../../core/lease.ts";
import type { Pool } from "../../core/pool.ts";
import { classifyRedisError } from "./errors.ts";

interface SharedConnection {
	readonly lease: Lease<Redis>;
	readonly redis: Redis;
	inFlight: number;
	/** In the multiplexer's set; false once released or retired. */
	held: boolean;
	releaseQueued: boolean;
}

export class Multiplexer {
	readonly #pool: Pool<Redis>;
	readonly #size: number;
	readonly #held: SharedConnection[] = [];
	#acquiring: Promise<SharedConnection> | undefined;
	#closing = false;

	constructor(pool: Pool<Redis>, size: number) {
		this.#pool = pool;
		this.#size = size;
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
		const shared = this.#pick() ?? (await this.#waitForConnection(signal));
		shared.inFlight++;
		try {
			return await send(shared.redis);
		} catch (error) {
			if (classifyRedisError(error) === "connection") this.#retire(shared, error);
			throw error;
		} finally {
			if (--shared.inFlight === 0) this.#releaseWhenIdle(shared);
		}
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
		let best: SharedConnection | undefined;
		for (const shared of this.#held) if (best === undefined || shared.inFlight < best.inFlight) best = shared;
		if (best !== undefined && best.inFlight > 0 && this.#held.length < this.#size && this.#acquiring === undefined) this.#acquire();
		return best;
	}

	#waitForConnection(signal: AbortSignal | undefined): Promise<SharedConnection> {
		const acquiring = this.#acquiring ?? this.#acquire();
		return signal === undefined ? acquiring : abortable(acquiring, signal, this.#pool.name);
	}

	/** One borrow at a time: callers that find nothing held all wait for it. Its failure goes to them, or nowhere when it was only growth. */
	#acquire(): Promise<SharedConnection> {
		const acquiring = this.#pool.acquire().then((lease) => {
			if (this.#closing) {
				lease.release();
				throw new PoolClosedError(this.#pool.name);
			}
			const shared: SharedConnection = { lease, redis: lease.resource, inFlight: 0, held: true, releaseQueued: false };
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

	/**
	 * Gives the connection back once nothing has been in flight for a whole turn of the event
	 * loop: callers that await a reply and send again do so in microtasks, before setImmediate,
	 * so a busy connection stays held and an idle one returns to the pool.
	 */
	#releaseWhenIdle(shared: SharedConnection): void {
		if (shared.releaseQueued || !shared.held) return;
		shared.releaseQueued = true;
		setImmediate(() => {
			shared.releaseQueued = false;
			if (shared.inFlight === 0 && shared.held) this.#release(shared);
		});
	}

	#release(shared: SharedConnection): void {
		this.#forget(shared);
		if (shared.lease.active) shared.lease.release();
	}

	#retire(shared: SharedConnection, error: unknown): void {
		if (!shared.held) return;
		this.#forget(shared);
		if (shared.lease.active) shared.lease.destroy(error);
	}

	#forget(shared: SharedConnection): void {
		shared.held = false;
		const index = this.#held.indexOf(shared);
		if (index !== -1) this.#held.splice(index, 1);
	}
}

/** `work`, or ACQUIRE_ABORTED as soon as `signal` aborts. */
function abortable<R>(work: Promise<R>, signal: AbortSignal, pool: string): Promise<R> {
	if (signal.aborted) return Promise.reject(new AcquireAbortedError(pool, signal.reason));
	return new Promise<R>((resolve, reject) => {
		const onAbort = () => reject(new AcquireAbortedError(pool, signal.reason));
		signal.addEventListener("abort", onAbort, { once: true });
		work.then(
			(value) => {
				signal.removeEventListener("abort", onAbort);
				resolve(value);
			},
			(error: unknown) => {
				signal.removeEventListener("abort", onAbort);
				reject(error);
			},
		);
	});
}
