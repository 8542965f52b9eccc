import type { PooledConnection } from "./connection.ts";
import type { Lease } from "./lease.ts";
import type { PoolCounters } from "./stats.ts";

/** What a leak report says (the `leakDetected` event's payload less the pool's name). */
export interface LeakReport {
	connectionId: number;
	heldMs: number;
	stack: string | undefined;
}

/**
 * Leases held too long: reported past `leakDetectionMs` (the `leakDetected` event, or a
 * `LIFEGUARD_LEAK` process warning when nobody listens), taken back past `reclaimAfterMs`. Each
 * lease counts as one leak in the stats, whichever of the two sees it first. The housekeeping
 * round runs the check; `pool.reclaim(lease)` counts through here too.
 */
export class LeakWatch {
	readonly #name: string;
	readonly #detectMs: number;
	readonly #reclaimMs: number;
	readonly #counters: PoolCounters;

	constructor(name: string, options: { leakDetectionMs: number; reclaimAfterMs: number }, counters: PoolCounters) {
		this.#name = name;
		this.#detectMs = options.leakDetectionMs;
		this.#reclaimMs = options.reclaimAfterMs;
		this.#counters = counters;
	}

	/** True when either check is on. */
	get enabled(): boolean {
		return this.#detectMs > 0 || this.#reclaimMs > 0;
	}

	/** Counts a lease as leaked once; true the first time. */
	count(lease: Lease<unknown>): boolean {
		if (lease.leakReported) return false;
		lease.leakReported = true;
		this.#counters.leaks++;
		return true;
	}

	/**
	 * Reports the leases of `conns` held past leakDetectionMs (through `report`, or a warning when
	 * it is undefined) and hands each connection whose lease is past reclaimAfterMs to `reclaim`,
	 * for the pool to retire (reason `leaked`), in the same pass: a lease's report comes before its
	 * reclaim, and before the next lease's.
	 */
	check<T>(
		conns: Iterable<PooledConnection<T>>,
		now: number,
		report: ((leak: LeakReport) => void) | undefined,
		reclaim: (conn: PooledConnection<T>) => void,
	): void {
		for (const conn of conns) {
			const lease = conn.lease;
			if (lease === null) continue;
			// Leak detection times every lease (LeaseClock.always), so acquiredAt is known.
			const heldMs = now - (lease.acquiredAt ?? now);
			if (this.#detectMs > 0 && heldMs >= this.#detectMs && this.count(lease)) {
				if (report !== undefined) report({ connectionId: conn.id, heldMs, stack: lease.stack });
				else {
					process.emitWarning(
						`pool "${this.#name}": connection ${conn.id} has been leased for ${Math.round(heldMs)} ms (leakDetectionMs ${this.#detectMs}); borrower's stack:\n${lease.stack ?? "(not captured)"}`,
						{ code: "LIFEGUARD_LEAK" },
					);
				}
			}
			if (this.#reclaimMs > 0 && heldMs >= this.#reclaimMs) {
				this.count(lease);
				reclaim(conn);
			}
		}
	}
}
