// Imported, as everywhere in src/ (biome.json refuses the global): the global `performance` is an
// accessor that checks its receiver on every read, about as much again as the clock read (counted under callgrind).
import { performance } from "node:perf_hooks";

/**
 * Above this many acquires per second, only a sample of them is timed: 10 000 timed leases a
 * second still give a p99 from 100 of them every second. Each timed acquire reads the clock twice
 * (about 0.15-0.3 µs a read on the 2-core test machine, measured in the drop-ins' profile: 1-2 %
 * of a `SELECT 1` through mysql2), so a pool serving 25 000 queries a second times 1 in 4.
 */
const TIMED_LEASES_PER_SECOND = 10_000;
const SAMPLING_WINDOW_MS = 100;

/**
 * Decides which acquires are timed (wait, use). performance.now() costs about as much as the rest
 * of an acquire and release, so above TIMED_LEASES_PER_SECOND only 1 acquire in N on average is
 * timed (N a power of two, adapted every SAMPLING_WINDOW_MS): percentiles stay representative
 * and the histograms' `count` says how many leases were timed. Counters are always exact. The
 * pool asks once per acquire, when it starts; an acquire the clock skips has no times at all
 * (`undefined`), neither for its wait nor for its lease, so zero waits are sampled like the
 * others. The gap to the next timed acquire is drawn at random (1 to 2N−1): a fixed 1 in N
 * would keep timing the same step of a periodic workload (measured: with four acquires a round,
 * one served at once and three queued, a fixed gap timed only the one served at once).
 */
export class LeaseClock {
	/** Time every lease: a feature needs the time on each borrow (validate, leak detection) or someone listens to `acquired`. */
	always: boolean;
	#every = 1;
	#untilTimed = 1;
	#windowStart = 0;
	#windowAcquires = 0;

	constructor(always: boolean) {
		this.always = always;
	}

	/**
	 * The time the acquire starting now is timed from, or undefined when it goes untimed (its wait
	 * and its lease). `acquires`: the pool's successful acquires so far, to measure the rate.
	 */
	sample(acquires: number): number | undefined {
		if (this.always) return performance.now();
		if (--this.#untilTimed !== 0) return undefined;
		return this.#read(acquires, performance.now());
	}

	#read(acquires: number, now: number): number {
		const elapsed = now - this.#windowStart;
		if (elapsed >= SAMPLING_WINDOW_MS) {
			const rate = ((acquires - this.#windowAcquires) * 1000) / elapsed;
			let every = 1;
			while (every < 1024 && rate / every > TIMED_LEASES_PER_SECOND) every *= 2;
			this.#every = every;
			this.#windowStart = now;
			this.#windowAcquires = acquires;
		}
		const every = this.#every;
		this.#untilTimed = every === 1 ? 1 : 1 + Math.floor(Math.random() * (2 * every - 1));
		return now;
	}

	/** N: on average 1 acquire in N is timed (1 below TIMED_LEASES_PER_SECOND). */
	get every(): number {
		return this.always ? 1 : this.#every;
	}
}
