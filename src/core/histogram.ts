/**
 * A log-linear histogram of durations (HdrHistogram's layout, fixed precision): 32 linear
 * sub-buckets per power of two of microseconds, so a percentile is within ~3% of the truth.
 * Recording is a few integer operations and one array increment: cheap enough for every acquire.
 */
const SUB_BITS = 5;
const SUB_COUNT = 1 << SUB_BITS;
const MAX_EXPONENT = 40; // 2^40 µs ≈ 12.7 days; larger values land in the last bucket

export interface HistogramSummary {
	count: number;
	mean: number;
	p50: number;
	p90: number;
	p99: number;
	max: number;
}

export class Histogram {
	#counts = new Float64Array((MAX_EXPONENT + 1) * SUB_COUNT);
	#count = 0;
	/** Exact zeros (an acquire served at once), kept apart: one increment instead of a bucket lookup on the hottest path. */
	#zeros = 0;
	#sum = 0;
	#max = 0;

	/** Records one duration in milliseconds. */
	record(ms: number): void {
		const us = ms > 0 ? Math.floor(ms * 1000) : 0;
		this.#counts[bucketOf(us)]++;
		this.#count++;
		this.#sum += ms;
		if (ms > this.#max) this.#max = ms;
	}

	/** Records a duration of exactly zero. */
	recordZero(): void {
		this.#zeros++;
	}

	get count(): number {
		return this.#count + this.#zeros;
	}

	/** The value at quantile q (0..1), in milliseconds: the upper edge of its bucket, capped at the max seen. */
	quantile(q: number): number {
		const total = this.#count + this.#zeros;
		if (total === 0) return 0;
		const rank = Math.max(1, Math.ceil(q * total));
		if (rank <= this.#zeros) return 0;
		let seen = this.#zeros;
		const counts = this.#counts;
		for (let i = 0; i < counts.length; i++) {
			seen += counts[i];
			if (seen >= rank) return Math.min(upperEdgeMs(i), this.#max);
		}
		return this.#max;
	}

	summary(): HistogramSummary {
		const count = this.#count + this.#zeros;
		return {
			count,
			mean: count === 0 ? 0 : this.#sum / count,
			p50: this.quantile(0.5),
			p90: this.quantile(0.9),
			p99: this.quantile(0.99),
			max: this.#max,
		};
	}

	reset(): void {
		this.#counts.fill(0);
		this.#count = 0;
		this.#zeros = 0;
		this.#sum = 0;
		this.#max = 0;
	}
}

function bucketOf(us: number): number {
	if (us < SUB_COUNT) return us;
	if (us < 0x80000000) {
		// Integer fast path: the exponent from the highest set bit, the sub-bucket by a shift.
		const shift = 31 - Math.clz32(us) - SUB_BITS;
		return (shift + 1) * SUB_COUNT + (us >>> shift) - SUB_COUNT;
	}
	const exponent = Math.floor(Math.log2(us));
	if (exponent > MAX_EXPONENT) return (MAX_EXPONENT + 1) * SUB_COUNT - 1;
	const shift = exponent - SUB_BITS;
	return (shift + 1) * SUB_COUNT + Math.floor(us / 2 ** shift) - SUB_COUNT;
}

function upperEdgeMs(index: number): number {
	if (index < SUB_COUNT) return (index + 1) / 1000;
	const shift = Math.floor(index / SUB_COUNT) - 1;
	const sub = index % SUB_COUNT;
	return ((SUB_COUNT + sub + 1) * 2 ** shift) / 1000;
}
