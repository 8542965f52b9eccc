import { performance } from "node:perf_hooks";
import type { ConfigProblem } from "../core/errors.ts";
import type { Pool } from "../core/pool.ts";
import { checkPositiveInteger, distributedConfigError } from "./errors.ts";

/** What caps the sizer besides its own ceiling: a shared budget (see SharedBudget). */
export interface SizingBudget {
	readonly limit: number;
}

export interface AdaptiveSizingOptions {
	/** The lowest effective max. Default the pool's `min`, at least 1. */
	floor?: number;
	/** The highest effective max. Default the pool's `max` when the sizer starts. */
	ceiling?: number;
	/** How often the pool is measured and resized (seed 002's adaptation_interval). Default 1 000 ms. */
	intervalMs?: number;
	/** The share of the effective max the measured concurrency should fill. Default 0.75. */
	targetUtilization?: number;
	/** A wait longer than this in an interval counts as pressure: grow at once. Default 5 ms. */
	waitThresholdMs?: number;
	/** Intervals of low demand in a row before shrinking. Default 5. */
	shrinkAfter?: number;
	/** Never sizes above this budget's limit. */
	budget?: SizingBudget;
}

export interface SizingSample {
	/** Acquires per second in the interval (λ). */
	arrivalRate: number;
	/** Mean lease duration in the interval, ms (W). */
	holdMs: number;
	/** λ × W: the connections the load keeps busy (Little's law). */
	concurrency: number;
	/** Longest wait in the interval, ms. */
	maxWaitMs: number;
	pending: number;
	/** active ÷ effective max at the end of the interval. */
	utilization: number;
	effectiveMax: number;
}

/**
 * Moves a pool's effective max between a floor and a ceiling from what it measures each
 * interval: arrival rate × hold time (Little's law) over a target utilization, and waits. It
 * grows at once under waits and shrinks by a step only after several quiet intervals, so a
 * burst finds room and a lull does not thrash. Every change is a `pool.resize` with an
 * "adaptive: …" reason (a `poolResized` event).
 */
export class AdaptiveSizer {
	readonly pool: Pool<unknown>;
	readonly floor: number;
	readonly ceiling: number;
	readonly #intervalMs: number;
	readonly #target: number;
	readonly #waitThresholdMs: number;
	readonly #shrinkAfter: number;
	readonly #timer: NodeJS.Timeout;
	#arrivals = 0;
	#holdTotal = 0;
	#holds = 0;
	#maxWait = 0;
	#quiet = 0;
	#last: SizingSample | undefined;
	/** Per connection, when its lease began (NaN between leases): written over, not deleted per lease, so the map does not churn. */
	readonly #leasedAt = new Map<number, number>();
	readonly #onAcquired = (e: { connectionId: number; durationMs: number }) => {
		this.#arrivals++;
		if (e.durationMs > this.#maxWait) this.#maxWait = e.durationMs;
		this.#leasedAt.set(e.connectionId, performance.now());
	};
	readonly #onReleased = (e: { connectionId: number }) => {
		const at = this.#leasedAt.get(e.connectionId);
		if (at === undefined || Number.isNaN(at)) return;
		this.#leasedAt.set(e.connectionId, Number.NaN);
		this.#holdTotal += performance.now() - at;
		this.#holds++;
	};
	readonly #onClosed = (e: { connectionId: number }) => {
		this.#leasedAt.delete(e.connectionId);
	};

	constructor(pool: Pool<unknown>, options: AdaptiveSizingOptions = {}) {
		const problems: ConfigProblem[] = [];
		checkPositiveInteger(problems, "floor", options.floor, false);
		checkPositiveInteger(problems, "ceiling", options.ceiling, false);
		checkPositiveInteger(problems, "intervalMs", options.intervalMs, false, 10);
		checkPositiveInteger(problems, "shrinkAfter", options.shrinkAfter, false);
		const t = options.targetUtilization;
		if (t !== undefined && !(typeof t === "number" && t > 0 && t <= 1)) problems.push({ path: "targetUtilization", message: "must be a number in (0, 1]" });
		const w = options.waitThresholdMs;
		if (w !== undefined && !(typeof w === "number" && w >= 0)) problems.push({ path: "waitThresholdMs", message: "must be a number >= 0" });
		const floor = options.floor ?? Math.max(1, pool.options.min);
		let ceiling = options.ceiling ?? pool.options.max;
		if (options.budget !== undefined) ceiling = Math.min(ceiling, options.budget.limit);
		if (floor > ceiling) problems.push({ path: "floor", message: `floor (${floor}) is above the ceiling (${ceiling})` });
		if (floor < pool.options.min) problems.push({ path: "floor", message: `floor (${floor}) is below the pool's min (${pool.options.min})` });
		if (problems.length > 0) throw distributedConfigError(`AdaptiveSizer(pool "${pool.name}")`, problems);
		this.pool = pool;
		this.floor = floor;
		this.ceiling = ceiling;
		this.#intervalMs = options.intervalMs ?? 1_000;
		this.#target = t ?? 0.75;
		this.#waitThresholdMs = w ?? 5;
		this.#shrinkAfter = options.shrinkAfter ?? 5;
		pool.on("acquired", this.#onAcquired);
		pool.on("released", this.#onReleased);
		pool.on("connectionClosed", this.#onClosed);
		if (pool.options.max > ceiling) pool.resize({ max: ceiling, reason: `adaptive: ceiling ${ceiling}` });
		this.#timer = setInterval(() => this.#adapt(), this.#intervalMs);
		this.#timer.unref();
	}

	/** The last interval's measurements. */
	get last(): SizingSample | undefined {
		return this.#last;
	}

	stop(): void {
		clearInterval(this.#timer);
		this.pool.off("acquired", this.#onAcquired);
		this.pool.off("released", this.#onReleased);
		this.pool.off("connectionClosed", this.#onClosed);
	}

	#adapt(): void {
		if (this.pool.closed) return this.stop();
		const seconds = this.#intervalMs / 1_000;
		const arrivalRate = this.#arrivals / seconds;
		const holdMs = this.#holds > 0 ? this.#holdTotal / this.#holds : 0;
		// Leases still out count too: a hold longer than the interval has not been released yet.
		const concurrency = Math.max((arrivalRate * holdMs) / 1_000, this.pool.activeCount);
		const current = this.pool.options.max;
		const pending = this.pool.pendingCount;
		const sample: SizingSample = {
			arrivalRate,
			holdMs,
			concurrency,
			maxWaitMs: this.#maxWait,
			pending,
			utilization: this.pool.activeCount / current,
			effectiveMax: current,
		};
		this.#last = sample;
		this.#arrivals = 0;
		this.#holdTotal = 0;
		this.#holds = 0;
		const maxWait = this.#maxWait;
		this.#maxWait = 0;
		const wanted = Math.ceil(concurrency / this.#target);
		const pressed = pending > 0 || maxWait > this.#waitThresholdMs;
		const figures = `λ ${arrivalRate.toFixed(1)}/s × hold ${holdMs.toFixed(1)} ms = ${concurrency.toFixed(1)} busy, max wait ${maxWait.toFixed(1)} ms, ${pending} waiting`;
		if (pressed || wanted > current) {
			this.#quiet = 0;
			// Fast: at least double under waits, or straight to what the load needs.
			const grown = Math.min(this.ceiling, Math.max(wanted, pressed ? current * 2 : current + 1, current + pending));
			if (grown > current) this.#resize(grown, `adaptive: grow (${figures})`);
			return;
		}
		if (wanted < current) {
			if (++this.#quiet < this.#shrinkAfter) return;
			this.#quiet = 0;
			// Slow: one step of a quarter at most, never below what the load needs.
			const step = Math.max(1, Math.floor((current - wanted) / 4));
			const shrunk = Math.max(this.floor, wanted, current - step);
			if (shrunk < current) this.#resize(shrunk, `adaptive: shrink (${figures})`);
			return;
		}
		this.#quiet = 0;
	}

	#resize(max: number, reason: string): void {
		if (max === this.pool.options.max) return;
		this.pool.resize({ max, reason });
	}
}

/** Starts adaptive sizing of `pool`; `stop()` ends it (the pool keeps its last size). */
export function adaptPoolSize<T>(pool: Pool<T>, options?: AdaptiveSizingOptions): AdaptiveSizer {
	return new AdaptiveSizer(pool as Pool<unknown>, options);
}
