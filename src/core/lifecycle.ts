import { MAX_DURATION_MS } from "./duration.ts";

/**
 * The pieces of start() and close() that are not policy: the callers awaiting start(), the
 * pool's background work (creates, checks, destroys) that close() waits for, the latch that
 * wakes close() once the last lease is back, and the one close promise that keeps the process
 * alive until it settles. When start() resolves and the order of the close sequence are the
 * pool's (`#checkStarted`, `#close`).
 */

/** The callers awaiting start(): all settled at once (`min` open, a failFast create error, close). */
export class StartLatch {
	#waiting: { resolve: () => void; reject: (error: Error) => void }[] = [];

	get pending(): boolean {
		return this.#waiting.length > 0;
	}

	wait(): Promise<void> {
		return new Promise<void>((resolve, reject) => this.#waiting.push({ resolve, reject }));
	}

	resolve(): void {
		for (const w of this.#take()) w.resolve();
	}

	reject(error: Error): void {
		for (const w of this.#take()) w.reject(error);
	}

	#take(): { resolve: () => void; reject: (error: Error) => void }[] {
		const waiting = this.#waiting;
		this.#waiting = [];
		return waiting;
	}
}

/** Work the pool started and close() waits for. Its failures are the work's to report, never unhandled here. */
export class PendingWork {
	readonly #work = new Set<Promise<unknown>>();

	get size(): number {
		return this.#work.size;
	}

	track(work: Promise<unknown>): void {
		this.#work.add(work);
		work.finally(() => this.#work.delete(work)).catch(() => {});
	}

	/** Resolves once nothing is pending, including work started while waiting. */
	async settle(): Promise<void> {
		while (this.#work.size > 0) await Promise.allSettled([...this.#work]);
	}
}

/** Wakes close() once no lease is out and no check runs, or at its deadline. */
export class DrainLatch {
	#waiting: (() => void)[] = [];

	/** Resolves at the first `notify(0)` or after `timeoutMs` (never for Infinity). */
	wait(timeoutMs: number): Promise<void> {
		let timer: NodeJS.Timeout | undefined;
		return Promise.race([
			new Promise<void>((resolve) => this.#waiting.push(resolve)),
			new Promise<void>((resolve) => {
				if (timeoutMs !== Number.POSITIVE_INFINITY) timer = setTimeout(resolve, timeoutMs).unref();
			}),
		]).finally(() => clearTimeout(timer));
	}

	/** The pool calls it once nothing is out (no lease, no check): every waiting close() wakes. */
	notify(): void {
		if (this.#waiting.length === 0) return;
		const waiting = this.#waiting;
		this.#waiting = [];
		for (const resolve of waiting) resolve();
	}
}

/**
 * Runs `sequence` once and returns its promise to every caller (a close() from a listener during
 * this one gets the same promise). The pool's timers are unref'd, so an awaited close() with only
 * them left would end the process mid-await (exit code 13): a handle keeps it alive until the
 * sequence settles.
 */
export class Once {
	#promise: Promise<void> | undefined = undefined;

	run(sequence: () => Promise<void>): Promise<void> {
		if (this.#promise === undefined) {
			// The promise exists before any work starts, so that a re-entrant call finds it.
			let done: () => void = () => {};
			this.#promise = new Promise<void>((resolve) => (done = resolve));
			const keepAlive = setInterval(() => {}, MAX_DURATION_MS);
			void sequence().finally(() => {
				clearInterval(keepAlive);
				done();
			});
		}
		return this.#promise;
	}
}
