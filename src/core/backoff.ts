/**
 * Capped exponential backoff with "full jitter" (a random delay between half and all of the
 * current step), so a fleet of pools that lost the same database does not reconnect in lockstep.
 */
export class Backoff {
	readonly #initialMs: number;
	readonly #maxMs: number;
	#failures = 0;

	constructor(initialMs: number, maxMs: number) {
		this.#initialMs = initialMs;
		this.#maxMs = maxMs;
	}

	get failures(): number {
		return this.#failures;
	}

	/** Records a failure and returns how long to wait before the next attempt. */
	fail(): number {
		const step = Math.min(this.#maxMs, this.#initialMs * 2 ** Math.min(this.#failures, 30));
		this.#failures++;
		return step / 2 + Math.random() * (step / 2);
	}

	succeed(): void {
		this.#failures = 0;
	}
}
