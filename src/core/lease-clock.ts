/** Above this many acquires per second, only a sample of leases is timed. */
const TIMED_LEASES_PER_SECOND = 100_000;
const SAMPLING_WINDOW_MS = 100;

/**
 * Decides which leases are timed (wait, use). performance.now() costs about as much as the rest
 * of an acquire and release, so above TIMED_LEASES_PER_SECOND only 1 lease in N is timed (N a
 * power of two, adapted every SAMPLING_WINDOW_MS): percentiles stay representative and the
 * histograms' `count` says how many leases were timed. Counters are always exact. A lease the
 * clock skips has no times at all (`undefined`), so an untimed borrow records no wait either and
 * zero waits are sampled like the others.
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
	 * The time for the next lease, or undefined when it goes untimed. `now`, when the caller has
	 * already read the clock, is reused for an always-timed lease; a sampled one is still the
	 * sampler's decision, or timing would pass from each released lease to the next through the
	 * handoff. `acquires`: the pool's successful acquires so far, to measure the rate.
	 */
	sample(acquires: number, now?: number): number | undefined {
		if (this.always) return now ?? performance.now();
		if (--this.#untilTimed !== 0) return undefined;
		return this.#read(acquires);
	}

	#read(acquires: number): number {
		const now = performance.now();
		const elapsed = now - this.#windowStart;
		if (elapsed >= SAMPLING_WINDOW_MS) {
			const rate = ((acquires - this.#windowAcquires) * 1000) / elapsed;
			let every = 1;
			while (every < 1024 && rate / every > TIMED_LEASES_PER_SECOND) every *= 2;
			this.#every = every;
			this.#windowStart = now;
			this.#windowAcquires = acquires;
		}
		this.#untilTimed = this.#every;
		return now;
	}
}
