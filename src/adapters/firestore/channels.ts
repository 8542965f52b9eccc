/**
 * The channels operations run on. A Firestore instance is a gRPC channel that multiplexes many
 * calls, so an operation does not lease one for itself: the set borrows channels from the core
 * pool and sends each operation to the one with the least work in flight. It spreads over up
 * to `min` channels as soon as two operations overlap, opens more (up to `max`) only when every
 * held channel carries `maxInFlightPerChannel`, and hands a channel back to the pool once it has
 * had nothing in flight for HOLD_MS, where the core validates it, ages it and closes it when
 * idle like any other connection. A channel that failed with a channel fault takes no new work
 * and is destroyed once its last operation returns.
 */
import { performance } from "node:perf_hooks";
import type { Firestore } from "@google-cloud/firestore";
import { PoolClosedError } from "../../core/errors.ts";
import type { Lease } from "../../core/lease.ts";
import type { Pool } from "../../core/pool.ts";
import { isChannelFault } from "./errors.ts";

/**
 * How long a channel stays held with nothing in flight: long enough that a steady stream of
 * operations does not churn through acquire and release, short enough that an idle client's
 * channels are back in the pool (and its idle timeout) almost at once.
 */
const HOLD_MS = 50;

interface Channel {
	readonly lease: Lease<Firestore>;
	inFlight: number;
	/** Failed with a channel fault: destroyed once inFlight reaches 0. */
	fault: unknown;
	releaseTimer: NodeJS.Timeout | undefined;
}

export interface RunOptions {
	signal?: AbortSignal;
	/** Covers waiting for a channel too. */
	timeoutMs: number;
	/** The error for a missed deadline. */
	onTimeout: () => Error;
}

export class ChannelSet {
	readonly #pool: Pool<Firestore>;
	readonly #perChannel: number;
	readonly #held: Channel[] = [];
	#borrowing = 0;
	#inProgress: Promise<Channel> | undefined;
	/** Callers waiting on `#inProgress`. */
	#sharing = 0;
	#closed = false;

	constructor(pool: Pool<Firestore>, maxInFlightPerChannel: number) {
		this.#pool = pool;
		this.#perChannel = maxInFlightPerChannel;
	}

	/** Channels held right now (0 when the client is idle). */
	get held(): number {
		return this.#held.length;
	}

	/** Runs `fn` on the least loaded channel within the deadline; a channel fault retires that channel. */
	async run<R>(fn: (db: Firestore) => Promise<R>, options: RunOptions): Promise<R> {
		if (this.#closed) throw new PoolClosedError(this.#pool.name);
		const started = performance.now();
		// Picked and counted in the same synchronous step, so a burst of calls sees each other's load.
		let channel = this.#pick(options);
		if (channel === undefined) {
			channel = await this.#borrowShared(options);
		}
		channel.inFlight++;
		clearTimeout(channel.releaseTimer);
		try {
			const remaining = Math.max(1, options.timeoutMs - (performance.now() - started));
			const db = channel.lease.resource;
			return await withinDeadline(tracked(db, fn(db)), remaining, options);
		} catch (error) {
			if (channel.fault === undefined && isChannelFault(error)) this.#retire(channel, error);
			throw error;
		} finally {
			channel.inFlight--;
			if (channel.inFlight === 0) this.#settle(channel);
		}
	}

	/** Takes no new work; channels go back to the pool as their operations finish. */
	close(): void {
		this.#closed = true;
		for (const channel of [...this.#held]) if (channel.inFlight === 0) this.#giveBack(channel);
	}

	/** The least loaded held channel, or undefined when a new one must be waited for. Starts growing the set when it should. */
	#pick(options: RunOptions): Channel | undefined {
		let best: Channel | undefined;
		for (const channel of this.#held) if (best === undefined || channel.inFlight < best.inFlight) best = channel;
		const opened = this.#held.length + this.#borrowing;
		const { min, max } = this.#pool.options;
		if (best === undefined || (best.inFlight >= this.#perChannel && opened < max)) return undefined;
		if (best.inFlight > 0 && opened < min) this.#borrow({ ...options, signal: undefined }).catch(() => {});
		return best;
	}

	/**
	 * A channel for a caller that found none with room. Callers share a borrow under way while its
	 * channel would still have room for them (and once `max` channels are open or being opened);
	 * below `min` each takes its own, so a cold burst spreads over the warm channels at once.
	 * The borrow ignores callers' signals (one caller's abort must not fail the others sharing it).
	 */
	async #borrowShared(options: RunOptions): Promise<Channel> {
		const opened = this.#held.length + this.#borrowing;
		const { min, max } = this.#pool.options;
		const shared = this.#inProgress;
		let channel: Promise<Channel>;
		if (shared !== undefined && (opened >= max || (opened >= min && this.#sharing < this.#perChannel))) {
			this.#sharing++;
			channel = shared;
		} else {
			const borrow = this.#borrow({ ...options, signal: undefined });
			this.#inProgress = borrow;
			this.#sharing = 1;
			const clear = () => {
				if (this.#inProgress === borrow) this.#inProgress = undefined;
			};
			borrow.then(clear, clear);
			channel = borrow;
		}
		const picked = await channel;
		options.signal?.throwIfAborted();
		return picked;
	}

	async #borrow(options: RunOptions): Promise<Channel> {
		this.#borrowing++;
		try {
			const lease = await this.#pool.acquire({ signal: options.signal, timeoutMs: options.timeoutMs });
			const channel: Channel = { lease, inFlight: 0, fault: undefined, releaseTimer: undefined };
			if (this.#closed) {
				lease.release();
				throw new PoolClosedError(this.#pool.name);
			}
			this.#held.push(channel);
			this.#settle(channel);
			return channel;
		} finally {
			this.#borrowing--;
		}
	}

	#retire(channel: Channel, error: unknown): void {
		channel.fault = error;
		this.#drop(channel);
	}

	/** A channel with nothing in flight: destroyed if it failed, otherwise handed back after HOLD_MS. */
	#settle(channel: Channel): void {
		if (channel.fault !== undefined) {
			channel.lease.destroy(channel.fault);
			return;
		}
		if (this.#closed) {
			this.#giveBack(channel);
			return;
		}
		clearTimeout(channel.releaseTimer);
		channel.releaseTimer = setTimeout(() => {
			if (channel.inFlight === 0) this.#giveBack(channel);
		}, HOLD_MS);
		channel.releaseTimer.unref();
	}

	#giveBack(channel: Channel): void {
		clearTimeout(channel.releaseTimer);
		this.#drop(channel);
		channel.lease.release();
	}

	#drop(channel: Channel): void {
		const i = this.#held.indexOf(channel);
		if (i >= 0) this.#held.splice(i, 1);
	}
}

/**
 * Driver calls not settled yet, by channel. A call abandoned at its deadline keeps running inside
 * the driver (it retries UNAVAILABLE with backoff), and terminating its instance under it makes
 * the driver's next retry an unhandled rejection; so a channel is terminated once they settle.
 */
const pendingWork = new WeakMap<Firestore, Set<Promise<unknown>>>();

/** Registers a driver call on `db` so that the channel is terminated only once it settles. */
export function tracked<R>(db: Firestore, work: Promise<R>): Promise<R> {
	let pending = pendingWork.get(db);
	if (pending === undefined) pendingWork.set(db, (pending = new Set()));
	const set = pending;
	set.add(work);
	const done = () => set.delete(work);
	work.then(done, done);
	return work;
}

/** Resolves when the channel's driver calls have settled, or after `capMs`. */
export async function workSettled(db: Firestore, capMs: number): Promise<void> {
	const pending = pendingWork.get(db);
	if (pending === undefined || pending.size === 0) return;
	let timer: NodeJS.Timeout | undefined;
	const cap = new Promise<void>((resolve) => {
		timer = setTimeout(resolve, capMs);
		timer.unref();
	});
	await Promise.race([Promise.allSettled([...pending]), cap]);
	clearTimeout(timer);
}

/** `work` within `timeoutMs` and before `signal` aborts; the work itself cannot be withdrawn from the driver. */
function withinDeadline<R>(work: Promise<R>, timeoutMs: number, options: RunOptions): Promise<R> {
	const { signal } = options;
	signal?.throwIfAborted();
	return new Promise<R>((resolve, reject) => {
		const onAbort = () => finish(() => reject(signal?.reason));
		const timer = setTimeout(() => finish(() => reject(options.onTimeout())), timeoutMs);
		let done = false;
		const finish = (settle: () => void) => {
			if (done) return;
			done = true;
			clearTimeout(timer);
			signal?.removeEventListener("abort", onAbort);
			settle();
		};
		signal?.addEventListener("abort", onAbort, { once: true });
		work.then(
			(value) => finish(() => resolve(value)),
			(error: unknown) => finish(() => reject(error)),
		);
	});
}
