/**
 * One deadline for a whole call: every attempt, backoff sleep, rate-limit wait and pool wait of
 * the call draws from it. Time is `Date.now()` so tests can move it with node:test's mock timers.
 */
import { MAX_DURATION_MS } from "../core/duration.ts";
import { DeadlineExceededError, RequestAbortedError } from "./errors.ts";

export class Deadline {
	/** Epoch ms at which the call must be over; Infinity when it has none. */
	readonly atMs: number;
	readonly timeoutMs: number;
	constructor(timeoutMs: number | undefined, nowMs = Date.now()) {
		this.timeoutMs = timeoutMs ?? Number.POSITIVE_INFINITY;
		this.atMs = nowMs + this.timeoutMs;
	}

	get remainingMs(): number {
		return this.atMs - Date.now();
	}

	get finite(): boolean {
		return Number.isFinite(this.atMs);
	}

	get expired(): boolean {
		return this.remainingMs <= 0;
	}
}

/**
 * Resolves after `ms`, or rejects when the signal aborts first (REQUEST_ABORTED) or the deadline
 * would pass first (DEADLINE_EXCEEDED). The timer is unref'd: a sleeping retry never keeps the
 * process alive on its own.
 */
export function sleep(ms: number, options: { signal?: AbortSignal; deadline?: Deadline; attempts?: number } = {}): Promise<void> {
	const { signal, deadline } = options;
	if (signal?.aborted) return Promise.reject(new RequestAbortedError(signal.reason));
	if (deadline !== undefined && ms > deadline.remainingMs) return Promise.reject(new DeadlineExceededError(deadline.timeoutMs, options.attempts ?? 0));
	if (ms <= 0) return Promise.resolve();
	return new Promise((resolve, reject) => {
		let timer: NodeJS.Timeout | undefined;
		const onAbort = () => {
			clearTimeout(timer);
			reject(new RequestAbortedError(signal?.reason));
		};
		// Node fires a timer longer than 2^31-1 ms after 1 ms: a long wait (a slow rate limit) goes in steps.
		let left = ms;
		const arm = (): void => {
			const step = Math.min(left, MAX_DURATION_MS);
			left -= step;
			timer = setTimeout(() => {
				if (left > 0) return arm();
				signal?.removeEventListener("abort", onAbort);
				resolve();
			}, step);
			timer.unref?.();
		};
		arm();
		signal?.addEventListener("abort", onAbort, { once: true });
	});
}
