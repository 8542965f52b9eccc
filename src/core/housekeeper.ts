import type { PooledConnection } from "./connection.ts";
import type { Deque } from "./deque.ts";
import { CloseReason } from "./events.ts";
import type { ResolvedPoolOptions } from "./options.ts";

/**
 * The pool's background round (idle eviction, lifetime, keepalive, leak checks, refilling
 * `min`): one unref'd interval, armed when the pool first has work for it, stopped by close().
 * Its period is half the shortest duration it enforces (of 30 s when none), between 5 ms and
 * 30 s, so a deadline is acted on at most half a period late.
 */
export class Housekeeper {
	readonly periodMs: number;
	readonly #round: () => void;
	#timer: NodeJS.Timeout | undefined = undefined;

	constructor(options: ResolvedPoolOptions<unknown>, round: () => void) {
		this.periodMs = housekeepingPeriod(options);
		this.#round = round;
	}

	get running(): boolean {
		return this.#timer !== undefined;
	}

	/** Starts the rounds; a no-op when they run already. */
	start(): void {
		if (this.#timer !== undefined) return;
		this.#timer = setInterval(this.#round, this.periodMs);
		this.#timer.unref();
	}

	stop(): void {
		clearInterval(this.#timer);
		this.#timer = undefined;
	}
}

export function housekeepingPeriod(o: ResolvedPoolOptions<unknown>): number {
	const periods = [o.idleTimeoutMs, o.maxLifetimeMs, o.healthCheckIntervalMs, o.leakDetectionMs, o.reclaimAfterMs].filter((ms) => ms > 0);
	const shortest = periods.length === 0 ? 30_000 : Math.min(...periods);
	return Math.min(30_000, Math.max(5, Math.floor(shortest / 2)));
}

/** What one round does with the idle connections: close these (with their reason), validate those (keepalive). */
export interface IdleSweep<T> {
	retired: [PooledConnection<T>, CloseReason][];
	due: PooledConnection<T>[];
}

/**
 * Takes out of `idle` the connections the round acts on: those the retirement decision
 * (`retireReason`) closes, those idle past `idleTimeoutMs` while the pool holds more than `min`
 * (`excess` of them at most, the longest-listed first), and those due for a keepalive
 * validation. The rest stay, in order. It only collects: the pool acts after, since retiring
 * pumps and the pump must not see the idle list mid-filter. An idle connection released untimed
 * gets its idle time stamped here.
 */
export function sweepIdle<T>(
	idle: Deque<PooledConnection<T>>,
	now: number,
	o: ResolvedPoolOptions<T>,
	excess: number,
	retireReason: (conn: PooledConnection<T>) => CloseReason | undefined,
): IdleSweep<T> {
	const sweep: IdleSweep<T> = { retired: [], due: [] };
	const keepalive = o.healthCheckIntervalMs > 0 && o.validate !== undefined;
	idle.filter((conn) => {
		conn.idleSince ??= now;
		const reason = retireReason(conn);
		if (reason !== undefined) sweep.retired.push([conn, reason]);
		else if (o.idleTimeoutMs > 0 && excess > 0 && now - conn.idleSince >= o.idleTimeoutMs) {
			excess--;
			sweep.retired.push([conn, CloseReason.idle]);
		} else if (keepalive && now - conn.checkedAt >= o.healthCheckIntervalMs) sweep.due.push(conn);
		else return true;
		return false;
	});
	return sweep;
}
