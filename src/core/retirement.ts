import { performance } from "node:perf_hooks";
import { FAULTLESS_MIN_SCORE, type PooledConnection } from "./connection.ts";
import { CloseReason } from "./events.ts";

/**
 * Whether a connection must be closed rather than lent or kept, and why: the one decision every
 * path of the pool asks (taking an idle one, a new one arriving, a release, the end of a
 * validation or reset, the housekeeping round), so that they cannot disagree or check in
 * different orders. It owns the pool's generation (`clear()` starts a new one) and learns when
 * the pool closes; the connection brings its own markers (`dead`, `expired`, its lifetime and
 * faults). Sizing (a connection above `max`, idle past `idleTimeoutMs`) is the pool's policy,
 * not the connection's state, and stays with the pool.
 */
export class Retirement {
	/** Connections of an older generation are `stale`. */
	generation = 0;
	/** Set once by close(): every connection seen from then on retires with `poolClosed`. */
	poolClosed = false;
	readonly #unhealthyThreshold: number;

	constructor(unhealthyThreshold: number) {
		this.#unhealthyThreshold = unhealthyThreshold;
	}

	/**
	 * The reason `conn` retires now, or undefined to keep it. `now` undefined (an untimed borrow or
	 * release) skips the lifetime check that needs the time: the housekeeper marks such
	 * connections `expired` instead. `referenceLatencyMs` is the pool's median latency, which only
	 * the housekeeping round computes.
	 */
	reason(conn: PooledConnection<unknown>, now: number | undefined, referenceLatencyMs = Number.NaN): CloseReason | undefined {
		if (conn.dead) return CloseReason.error;
		if (this.poolClosed) return CloseReason.poolClosed;
		if (conn.generation !== this.generation) return CloseReason.stale;
		if (conn.expired || (now !== undefined && now >= conn.retireAt)) return CloseReason.lifetime;
		// Without faults a connection scores at least FAULTLESS_MIN_SCORE: the score, which costs a few
		// Math.pow, is only worth computing when it could fall below the threshold.
		if (conn.faults > 0 || this.#unhealthyThreshold > FAULTLESS_MIN_SCORE) {
			if (conn.healthScore(now ?? performance.now(), referenceLatencyMs) < this.#unhealthyThreshold) return CloseReason.unhealthy;
		}
		return undefined;
	}
}
