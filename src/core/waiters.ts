import { performance } from "node:perf_hooks";
import { Deque } from "./deque.ts";
import { MAX_DURATION_MS } from "./duration.ts";

/** One caller waiting for a connection. */
export class Waiter<T> {
	readonly resolve: (value: T, context: unknown) => void;
	readonly reject: (error: Error, context: unknown) => void;
	/** Handed back to `resolve` or `reject` (see Pool.acquireWith); undefined for a promise's. */
	readonly context: unknown;
	/** performance.now() when the wait began; NaN for an untimed wait without a deadline (nothing needed the time). */
	readonly startedAt: number;
	readonly deadline: number;
	/** The sampler chose to time this acquire: its wait is recorded and its lease timed. */
	readonly timed: boolean;
	signal: AbortSignal | undefined = undefined;
	onAbort: (() => void) | undefined = undefined;
	settled = false;
	priority = 0;
	/** The caller's stack, when leak detection wants it. */
	stack: string | undefined = undefined;

	constructor(
		resolve: (value: T, context: unknown) => void,
		reject: (error: Error, context: unknown) => void,
		context: unknown,
		startedAt: number,
		deadline: number,
		timed = true,
	) {
		this.resolve = resolve;
		this.reject = reject;
		this.context = context;
		this.startedAt = startedAt;
		this.deadline = deadline;
		this.timed = timed;
	}

	/** Abandons the wait when `signal` aborts: `onAbort` runs once, unless the waiter was settled first. */
	watch(signal: AbortSignal, onAbort: () => void): void {
		this.signal = signal;
		this.onAbort = () => {
			if (!this.settled) onAbort();
		};
		signal.addEventListener("abort", this.onAbort, { once: true });
	}

	/** Marks the waiter settled and detaches its abort listener; the caller then resolves or rejects it. */
	settle(): void {
		this.settled = true;
		if (this.signal !== undefined && this.onAbort !== undefined) this.signal.removeEventListener("abort", this.onAbort);
	}
}

/**
 * The wait queue: FIFO within a priority level, level 0 first. Cancelled waiters (timeout,
 * abort) are marked and skipped lazily, so removal is O(1). Deadlines share one timer, armed
 * for the earliest deadline, instead of a timer per waiter: under load every acquire would
 * otherwise create and clear a timer.
 */
export class Waiters<T> {
	readonly #levels: Deque<Waiter<T>>[];
	readonly #onExpire: (waiter: Waiter<T>, now: number) => void;
	#live = 0;
	#timer: NodeJS.Timeout | undefined = undefined;
	#timerAt = Number.POSITIVE_INFINITY;

	constructor(levels: number, onExpire: (waiter: Waiter<T>, now: number) => void) {
		this.#levels = Array.from({ length: levels }, () => new Deque<Waiter<T>>());
		this.#onExpire = onExpire;
	}

	/** Live (not yet settled) waiters. */
	get length(): number {
		return this.#live;
	}

	push(waiter: Waiter<T>): void {
		this.#levels[waiter.priority].push(waiter);
		this.#live++;
		if (waiter.deadline < this.#timerAt) this.#arm(waiter.deadline);
	}

	/** Takes the first live waiter, or undefined. The caller must settle it. */
	shift(): Waiter<T> | undefined {
		if (this.#live === 0) return undefined;
		// An indexed loop: for-of builds an iterator on every release that hands over, unless the optimizer removes it.
		const levels = this.#levels;
		for (let i = 0; i < levels.length; i++) {
			const level = levels[i];
			let waiter = level.shift();
			while (waiter !== undefined) {
				if (!waiter.settled) {
					this.#live--;
					if (this.#live === 0) this.#disarm();
					return waiter;
				}
				waiter = level.shift();
			}
		}
		return undefined;
	}

	/** Takes a waiter out of the queue (abort, timeout); it must not be settled yet. */
	cancel(waiter: Waiter<T>): void {
		waiter.settle();
		this.#live--;
		if (this.#live === 0) {
			this.#disarm();
			for (const level of this.#levels) level.clear();
			return;
		}
		// Cancelled waiters are skipped lazily; compact when they pile up (many aborts, no releases).
		const level = this.#levels[waiter.priority];
		if (level.length > 2 * this.#live + 64) level.filter((w) => !w.settled);
	}

	/** Settles every waiter through `fail` (pool closing). */
	drain(fail: (waiter: Waiter<T>) => void): void {
		this.#disarm();
		const waiting: Waiter<T>[] = [];
		for (const level of this.#levels) {
			for (const waiter of level) if (!waiter.settled) waiting.push(waiter);
			level.clear();
		}
		this.#live = 0;
		// Settled first (abort listeners detached), so a later abort cannot cancel them a second time.
		for (const waiter of waiting) {
			waiter.settle();
			fail(waiter);
		}
	}

	/**
	 * The timer stays ref'd: a caller awaiting `acquire()` must get its POOL_TIMEOUT, not see
	 * the process exit with the promise unsettled. It exists only while someone waits.
	 */
	#arm(at: number): void {
		if (this.#timer !== undefined) clearTimeout(this.#timer);
		this.#timer = undefined;
		this.#timerAt = at;
		if (!Number.isFinite(at)) return;
		// +1: Node rounds timer delays to whole milliseconds and may fire a fraction early.
		// Delays above 2^31-1 ms overflow to 1 ms in Node: cap them, the expiry pass re-arms.
		this.#timer = setTimeout(this.#expire, Math.min(MAX_DURATION_MS, Math.max(0, at - performance.now()) + 1));
	}

	#disarm(): void {
		if (this.#timer !== undefined) clearTimeout(this.#timer);
		this.#timer = undefined;
		this.#timerAt = Number.POSITIVE_INFINITY;
	}

	readonly #expire = (): void => {
		this.#timer = undefined;
		this.#timerAt = Number.POSITIVE_INFINITY;
		const now = performance.now();
		const expired: Waiter<T>[] = [];
		let next = Number.POSITIVE_INFINITY;
		for (const level of this.#levels) {
			for (const waiter of level) {
				if (waiter.settled) continue;
				if (waiter.deadline <= now) expired.push(waiter);
				else if (waiter.deadline < next) next = waiter.deadline;
			}
		}
		for (const waiter of expired) {
			waiter.settle();
			this.#live--;
		}
		if (expired.length > 0) for (const level of this.#levels) level.filter((w) => !w.settled);
		if (this.#live > 0) this.#arm(next);
		for (const waiter of expired) this.#onExpire(waiter, now);
	};
}
