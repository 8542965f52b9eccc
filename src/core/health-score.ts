import { ConnState, type PooledConnection } from "./connection.ts";
import type { ConnectionHealth } from "./pool-types.ts";

/** The median validation latency of a pool's connections: what "slow" is measured against. NaN when none was measured. */
export function medianLatency(connections: Iterable<PooledConnection<unknown>>): number {
	const known: number[] = [];
	for (const conn of connections) if (!Number.isNaN(conn.latencyMs)) known.push(conn.latencyMs);
	if (known.length === 0) return Number.NaN;
	known.sort((a, b) => a - b);
	return known[known.length >> 1];
}

/**
 * Pool health 0-100: the mean score of its connections (100 with none), less 10 per unit of
 * recent trouble (failed creates, timed-out acquires, connections lost to errors; decayed, see
 * DecayingCounter), at most 50.
 */
export function poolHealthScore(connections: Iterable<PooledConnection<unknown>>, now: number, referenceLatencyMs: number, recentTrouble: number): number {
	let sum = 0;
	let count = 0;
	for (const conn of connections) {
		sum += conn.healthScore(now, referenceLatencyMs);
		count++;
	}
	const mean = count === 0 ? 100 : sum / count;
	const penalty = Math.min(50, 10 * recentTrouble);
	return Math.max(0, Math.round(mean - penalty));
}

/** One connection's line in `pool.health()`. */
export function connectionHealth(conn: PooledConnection<unknown>, now: number, referenceLatencyMs: number): ConnectionHealth {
	return {
		connectionId: conn.id,
		state: conn.state === ConnState.idle ? "idle" : conn.state === ConnState.leased ? "active" : "busy",
		score: conn.healthScore(now, referenceLatencyMs),
		latencyMs: conn.latencyMs,
		ageMs: now - conn.createdAt,
		uses: conn.uses,
		faults: conn.faults,
	};
}
