import type { PoolStats } from "../core/stats.ts";

export interface PoolSizeInput {
	/** Requests per second that each need a connection (at the peak you size for). */
	arrivalRatePerSecond: number;
	/** How long each request holds its connection, in milliseconds (p90 or p99 rather than the mean for bursty traffic). */
	holdTimeMs: number;
	/** Multiplier for bursts and variance. Default 1.5. */
	headroom?: number;
	/** Bounds of the answer. Default 1 and 100. */
	min?: number;
	max?: number;
}

export interface PoolSizeRecommendation {
	/** The pool size to configure (`max`). */
	size: number;
	/** Little's law before headroom and bounds: connections busy on average. */
	concurrent: number;
	explanation: string;
}

/**
 * Little's law: connections in use on average = arrival rate × time each is held. The size is
 * that times a headroom for bursts, rounded up, within [min, max]. With 200 requests/s holding a
 * connection 25 ms: 5 busy on average, 8 with 1.5 headroom.
 */
export function recommendPoolSize(input: PoolSizeInput): PoolSizeRecommendation {
	const headroom = input.headroom ?? 1.5;
	const min = input.min ?? 1;
	const max = input.max ?? 100;
	for (const [name, v] of Object.entries({ arrivalRatePerSecond: input.arrivalRatePerSecond, holdTimeMs: input.holdTimeMs, headroom })) {
		if (!Number.isFinite(v) || v < 0) throw new RangeError(`${name} must be a finite number >= 0, got ${String(v)}`);
	}
	if (!(min >= 1 && max >= min)) throw new RangeError(`need 1 <= min <= max, got min ${min}, max ${max}`);
	const concurrent = (input.arrivalRatePerSecond * input.holdTimeMs) / 1000;
	const wanted = Math.ceil(concurrent * headroom - 1e-9);
	const size = Math.min(max, Math.max(min, wanted));
	const bound = size !== wanted ? ` (bounded to [${min}, ${max}] from ${wanted})` : "";
	return {
		size,
		concurrent,
		explanation: `${input.arrivalRatePerSecond}/s × ${input.holdTimeMs} ms = ${round(concurrent)} connections busy on average; × ${headroom} headroom = ${size}${bound}`,
	};
}

export type SizeVerdict = "too small" | "too large" | "fits";

export interface PoolSizeAssessment {
	verdict: SizeVerdict;
	reasons: string[];
	/** A `max` to try, from Little's law on the measured traffic when the window is known, else from the peaks. */
	suggestedMax: number;
}

/**
 * Says from measured statistics whether a pool is too small (callers waited with every
 * connection in use, or timed out) or too large (the busiest moment used under half of `max`).
 * `windowSeconds` is how long the statistics window lasted (since `resetStats()`); with it the
 * suggestion uses Little's law on the measured rate and hold time.
 */
export function assessPoolSize(stats: PoolStats, options: { windowSeconds?: number; headroom?: number } = {}): PoolSizeAssessment {
	const reasons: string[] = [];
	let verdict: SizeVerdict = "fits";
	const starved = stats.peak.pending > 0 && stats.peak.active >= stats.max;
	if (starved) reasons.push(`callers waited (peak ${stats.peak.pending}) while all ${stats.max} connections were in use`);
	if (stats.acquires.timeouts > 0) reasons.push(`${stats.acquires.timeouts} acquires timed out`);
	if (starved || stats.acquires.timeouts > 0) verdict = "too small";
	else if (stats.max > Math.max(2, stats.min) && stats.peak.active * 2 < stats.max && stats.acquires.ok > 0) {
		verdict = "too large";
		reasons.push(`at its busiest the pool used ${stats.peak.active} of ${stats.max} connections`);
	}
	let suggestedMax = verdict === "too small" ? stats.max * 2 : verdict === "too large" ? Math.max(stats.min, 1, Math.ceil(stats.peak.active * 1.5)) : stats.max;
	if (options.windowSeconds !== undefined && options.windowSeconds > 0 && stats.useMs.count > 0) {
		const rate = stats.useMs.count / options.windowSeconds;
		const fromLaw = recommendPoolSize({
			arrivalRatePerSecond: rate,
			holdTimeMs: stats.useMs.p99,
			headroom: options.headroom,
			min: Math.max(1, stats.min),
			max: 10_000,
		});
		reasons.push(`measured ${round(rate)}/s holding p99 ${round(stats.useMs.p99)} ms: ${fromLaw.explanation}`);
		if (verdict !== "fits") suggestedMax = verdict === "too small" ? Math.max(fromLaw.size, stats.max + 1) : Math.min(fromLaw.size, stats.max - 1);
	}
	return { verdict, reasons, suggestedMax };
}

function round(n: number): number {
	return Math.round(n * 100) / 100;
}
