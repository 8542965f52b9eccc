/**
 * A Prometheus-style histogram: cumulative from creation, never reset. The pool's own
 * histograms are windows that `resetStats()` clears, so exported counts would go down; this one
 * is fed from the pool's events instead.
 */
export class CumulativeHistogram {
	readonly bounds: readonly number[];
	/** counts[i]: observations <= bounds[i] that are > bounds[i-1] (made cumulative on export). */
	readonly #counts: Float64Array;
	#count = 0;
	#sum = 0;

	constructor(bounds: readonly number[]) {
		this.bounds = bounds;
		this.#counts = new Float64Array(bounds.length);
	}

	/** Records one duration in seconds; NaN (an untimed lease) is skipped. */
	observe(seconds: number): void {
		if (Number.isNaN(seconds)) return;
		const bounds = this.bounds;
		let i = 0;
		while (i < bounds.length && seconds > bounds[i]) i++;
		if (i < bounds.length) this.#counts[i]++;
		this.#count++;
		this.#sum += seconds;
	}

	get count(): number {
		return this.#count;
	}

	get sum(): number {
		return this.#sum;
	}

	/** Cumulative counts per bound (`le`), the last bound's followed by +Inf = count. */
	cumulative(): number[] {
		const out: number[] = [];
		let running = 0;
		for (const n of this.#counts) out.push((running += n));
		return out;
	}
}
