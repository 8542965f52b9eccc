import { DecayingCounter, TROUBLE_HALF_LIFE_MS } from "./decay.ts";
import type { Lease } from "./lease.ts";

/** Where a pooled connection is in its life. */
export const ConnState = {
	idle: 0,
	leased: 1,
	/** Being validated, reset or otherwise worked on by the pool itself. */
	busy: 2,
	closed: 3,
} as const;
export type ConnState = (typeof ConnState)[keyof typeof ConnState];

/** The lowest score a connection without faults can have (all the latency and age penalties): 100 - 30 - 15. */
export const FAULTLESS_MIN_SCORE = 55;

/** The pool's record of one connection: the resource plus what the pool knows about it. */
export class PooledConnection<T> {
	readonly id: number;
	readonly resource: T;
	readonly generation: number;
	readonly createdAt: number;
	/** Absolute time (performance.now()) after which the connection is retired; Infinity when unbounded. */
	readonly retireAt: number;
	state: ConnState = ConnState.busy;
	lease: Lease<T> | null = null;
	/** When it last became idle (or was created); undefined after an untimed release, until the housekeeper stamps it. */
	idleSince: number | undefined;
	/** When it was last validated successfully (borrow check or keepalive). */
	checkedAt: number;
	uses = 0;
	faults = 0;
	/** Set by `pool.invalidate()`: the backend told us this connection is gone. */
	dead = false;
	/** Set by the housekeeper once past `retireAt`: closed when next seen idle or released. */
	expired = false;
	/** Round-trip latency (validation), smoothed; NaN until measured. */
	latencyMs = Number.NaN;
	readonly #recentFaults = new DecayingCounter(TROUBLE_HALF_LIFE_MS);

	constructor(id: number, resource: T, generation: number, now: number, lifetimeMs: number) {
		this.id = id;
		this.resource = resource;
		this.generation = generation;
		this.createdAt = now;
		this.idleSince = now;
		this.checkedAt = now;
		this.retireAt = lifetimeMs > 0 ? now + lifetimeMs : Number.POSITIVE_INFINITY;
	}

	/** A connection fault (reset, timeout, protocol error, failed validation) seen on this connection. */
	recordFault(now: number): void {
		this.faults++;
		this.#recentFaults.bump(now);
	}

	recordLatency(ms: number): void {
		this.latencyMs = Number.isNaN(this.latencyMs) ? ms : 0.7 * this.latencyMs + 0.3 * ms;
	}

	/** Faults with exponential decay (half-life one minute): recent trouble weighs, old trouble fades. */
	recentErrors(now: number): number {
		return this.#recentFaults.valueAt(now);
	}

	/**
	 * Health 0-100: starts at 100, loses up to 40 for a poor fault rate, up to 50 for recent
	 * faults (20 each), up to 30 when its latency is well above its pool's (`referenceLatencyMs`,
	 * the pool's median: a connection routed to a degraded node), and up to 15 as it nears its
	 * lifetime. Callers' own errors never count.
	 */
	healthScore(now: number, referenceLatencyMs = Number.NaN): number {
		const faultRate = this.faults / Math.max(this.uses, 1);
		const ratePenalty = 40 * Math.min(1, faultRate * 2);
		const recentPenalty = Math.min(50, 20 * this.recentErrors(now));
		const age = now - this.createdAt;
		const lifetime = this.retireAt - this.createdAt;
		const agePenalty = Number.isFinite(lifetime) && lifetime > 0 ? 15 * Math.min(1, Math.max(0, age / lifetime - 0.5) * 2) : 0;
		const ratio = this.latencyMs / referenceLatencyMs;
		// Sub-2 ms latencies are noise; only a connection more than twice as slow as its peers loses points.
		const latencyPenalty = this.latencyMs >= 2 && ratio > 2 ? Math.min(30, (ratio - 2) * 10) : 0;
		return Math.max(0, Math.round(100 - ratePenalty - recentPenalty - latencyPenalty - agePenalty));
	}
}
