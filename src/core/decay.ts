/**
 * A count that fades: each event adds 1, and the total halves every `halfLifeMs`. Recent trouble
 * weighs, old trouble is forgotten, without keeping a window of timestamps. Connections count
 * their faults with it, pools their failed creates, timed-out acquires and lost connections.
 */
export class DecayingCounter {
	readonly #halfLifeMs: number;
	#value = 0;
	#at = 0;

	constructor(halfLifeMs: number) {
		this.#halfLifeMs = halfLifeMs;
	}

	/** Adds one event at `now` (performance.now()). */
	bump(now: number): void {
		this.#value = this.valueAt(now) + 1;
		this.#at = now;
	}

	/** The decayed count at `now`. */
	valueAt(now: number): number {
		if (this.#value === 0) return 0;
		return this.#value * 0.5 ** ((now - this.#at) / this.#halfLifeMs);
	}
}

/** One minute: how fast both a connection's and a pool's recent trouble fade. */
export const TROUBLE_HALF_LIFE_MS = 60_000;
