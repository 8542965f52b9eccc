import { performance } from "node:perf_hooks";
import type { PoolStats } from "../core/stats.ts";
import { errorCounts } from "./health.ts";

interface Mark {
	at: number;
	errors: number;
	operations: number;
}

/**
 * A pool's recent error rate from its cumulative counters, without timers: each reading is
 * compared with a baseline between one and two windows old, so an outage an hour ago no
 * longer degrades the pool but a burst of failures shows at once. Before any operation in the
 * window the rate is 0.
 */
export class RecentErrorRate {
	readonly #windowMs: number;
	#base: Mark | undefined;
	#next: Mark | undefined;

	constructor(windowMs = 60_000) {
		this.#windowMs = windowMs;
	}

	read(stats: PoolStats, now = performance.now()): number {
		const { errors, operations } = errorCounts(stats);
		const mark = { at: now, errors, operations };
		if (this.#base === undefined || errors < this.#base.errors || operations < this.#base.operations) {
			// A pool under a reused name starts from zero again.
			this.#base = { at: now, errors: 0, operations: 0 };
			this.#next = mark;
		} else if (this.#next === undefined || now - this.#next.at >= this.#windowMs) {
			this.#base = this.#next ?? this.#base;
			this.#next = mark;
		}
		const ops = operations - this.#base.operations;
		return ops <= 0 ? 0 : Math.min(1, (errors - this.#base.errors) / ops);
	}
}
