/**
 * Cooldowns per key: a 429 means "this key, not so fast", not "this backend is broken", so it
 * pauses the key's calls (until the server's Retry-After, or a default) instead of counting as a
 * circuit-breaker failure. Calls that can wait it out within their deadline wait; others are
 * refused at once with RATE_LIMITED.
 */
import { type Deadline, sleep } from "./deadline.ts";
import { RateLimitedError } from "./errors.ts";

export class Cooldowns {
	readonly #until = new Map<string, number>();
	#started = 0;

	/** Pauses `key` for `ms` from now; a shorter cooldown never cuts a longer one. */
	start(key: string, ms: number): void {
		const until = Date.now() + ms;
		if (until > (this.#until.get(key) ?? 0)) this.#until.set(key, until);
		this.#started++;
	}

	remainingMs(key: string): number {
		const until = this.#until.get(key);
		if (until === undefined) return 0;
		const left = until - Date.now();
		if (left <= 0) this.#until.delete(key);
		return Math.max(0, left);
	}

	/** Waits out the cooldown of `key`, or rejects at once with RATE_LIMITED when it outlasts the deadline. */
	async wait(key: string, options: { deadline?: Deadline; signal?: AbortSignal } = {}): Promise<void> {
		const left = this.remainingMs(key);
		if (left === 0) return;
		const remaining = options.deadline?.remainingMs ?? Number.POSITIVE_INFINITY;
		if (left >= remaining) throw new RateLimitedError(key, "cooldown", left, remaining);
		await sleep(left, { signal: options.signal });
	}

	stats(): { started: number; active: Record<string, number> } {
		const active: Record<string, number> = {};
		for (const key of [...this.#until.keys()]) {
			const left = this.remainingMs(key);
			if (left > 0) active[key] = left;
		}
		return { started: this.#started, active };
	}
}
