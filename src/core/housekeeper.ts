import type { ResolvedPoolOptions } from "./options.ts";

/**
 * The pool's background round (idle eviction, lifetime, keepalive, leak checks, refilling
 * `min`): one unref'd interval, armed when the pool first has work for it, stopped by close().
 * Its period is half the shortest duration it enforces (of 30 s when none), between 5 ms and
 * 30 s, so a deadline is acted on at most half a period late.
 */
export class Housekeeper {
	readonly periodMs: number;
	readonly #round: () => void;
	#timer: NodeJS.Timeout | undefined = undefined;

	constructor(options: ResolvedPoolOptions<unknown>, round: () => void) {
		this.periodMs = housekeepingPeriod(options);
		this.#round = round;
	}

	get running(): boolean {
		return this.#timer !== undefined;
	}

	/** Starts the rounds; a no-op when they run already. */
	start(): void {
		if (this.#timer !== undefined) return;
		this.#timer = setInterval(this.#round, this.periodMs);
		this.#timer.unref();
	}

	stop(): void {
		clearInterval(this.#timer);
		this.#timer = undefined;
	}
}

export function housekeepingPeriod(o: ResolvedPoolOptions<unknown>): number {
	const periods = [o.idleTimeoutMs, o.maxLifetimeMs, o.healthCheckIntervalMs, o.leakDetectionMs, o.reclaimAfterMs].filter((ms) => ms > 0);
	const shortest = periods.length === 0 ? 30_000 : Math.min(...periods);
	return Math.min(30_000, Math.max(5, Math.floor(shortest / 2)));
}
