/**
 * The driver's connection pool for one server, seen through its CMAP events. The driver pools
 * for itself (lifeguard does not put a second pool in front of it); this view turns the events
 * into the core's `PoolStats` and re-emits them as the core's pool events, so the manager,
 * health report and metrics read a MongoDB pool like any other.
 */
import { EventEmitter } from "node:events";
import { performance } from "node:perf_hooks";
import { messageOf } from "../../core/errors.ts";
import { AcquireFailReason, CloseReason, PoolEvent, type PoolEvents } from "../../core/events.ts";
import { PoolCounters, type PoolStats, statsSnapshot } from "../../core/stats.ts";
import type { PoolView } from "../../manager/client.ts";
import { redactUrlCredentials } from "../kit/connection-url.ts";
import { OutcomeScore } from "../kit/outcome-score.ts";

type ConnectionState = "creating" | "idle" | "active";

interface Connection {
	state: ConnectionState;
	/** Checked out at least once: the next checkout reuses it. */
	used: boolean;
	checkedOutAt: number;
}

/** The CMAP event fields this view reads (the driver's event classes have more). */
export interface CmapEvent {
	address: string;
	connectionId?: number | string;
	durationMS?: number;
	reason?: string;
	error?: unknown;
	options?: { maxPoolSize?: number; minPoolSize?: number };
}

/** CMAP's close reasons in lifeguard's vocabulary. */
const CLOSE_REASONS: Record<string, CloseReason> = {
	stale: CloseReason.stale,
	idle: CloseReason.idle,
	error: CloseReason.error,
	poolClosed: CloseReason.poolClosed,
};

/** CMAP's check-out failure reasons in lifeguard's vocabulary. */
const CHECKOUT_FAILURES: Record<string, AcquireFailReason> = {
	poolClosed: AcquireFailReason.poolClosed,
	timeout: AcquireFailReason.timeout,
	connectionError: AcquireFailReason.createError,
};

export class CmapPool extends EventEmitter<PoolEvents> implements PoolView {
	/** `<client name>` plus the server: what pool events and errors name. */
	readonly name: string;
	readonly address: string;
	readonly #counters = new PoolCounters();
	readonly #connections = new Map<string, Connection>();
	/** Connections by state, kept as they move so the check-out path never scans them. */
	readonly #count: Record<ConnectionState, number> = { creating: 0, idle: 0, active: 0 };
	readonly #score = new OutcomeScore();
	readonly #clear: () => void;
	#state: PoolStats["state"] = "open";
	#generation = 0;
	#min: number;
	#max: number;
	#pending = 0;
	#lastCreateError: string | undefined;

	constructor(name: string, address: string, bounds: { min: number; max: number }, clear: () => void) {
		super({ captureRejections: false });
		this.name = name;
		this.address = address;
		this.#min = bounds.min;
		this.#max = bounds.max;
		this.#clear = clear;
	}

	/** Feeds one CMAP event (by the driver's event name) into the statistics. */
	record(event: string, e: CmapEvent): void {
		const id = String(e.connectionId ?? "");
		const numericId = Number(e.connectionId ?? 0);
		const c = this.#counters;
		switch (event) {
			case "connectionPoolCreated":
				this.#state = "open";
				if (e.options?.maxPoolSize !== undefined) this.#max = e.options.maxPoolSize;
				if (e.options?.minPoolSize !== undefined) this.#min = e.options.minPoolSize;
				return;
			case "connectionPoolReady":
				this.#state = "open";
				this.#emit(PoolEvent.poolReady, { pool: this.name });
				return;
			case "connectionPoolCleared":
				this.#generation++;
				this.#score.failure();
				this.#emit(PoolEvent.poolCleared, { pool: this.name, generation: this.#generation });
				return;
			case "connectionPoolClosed":
				this.#state = "closed";
				this.#emit(PoolEvent.poolClosed, { pool: this.name });
				return;
			case "connectionCreated":
				this.#connections.set(id, { state: "creating", used: false, checkedOutAt: 0 });
				this.#count.creating++;
				this.#emit(PoolEvent.connectionCreated, { pool: this.name, connectionId: numericId });
				return;
			case "connectionReady": {
				const conn = this.#connections.get(id);
				if (conn !== undefined) this.#move(conn, "idle");
				c.created++;
				c.create.record(e.durationMS ?? 0);
				this.#peaks();
				this.#emit(PoolEvent.connectionReady, { pool: this.name, connectionId: numericId, durationMs: e.durationMS ?? 0 });
				return;
			}
			case "connectionClosed": {
				const conn = this.#connections.get(id);
				this.#connections.delete(id);
				if (conn !== undefined) this.#count[conn.state]--;
				const reason = CLOSE_REASONS[e.reason ?? ""] ?? CloseReason.destroyed;
				if (conn?.state === "creating") {
					c.createFailures++;
					if (e.error !== undefined && e.error !== null) this.#lastCreateError = redactUrlCredentials(messageOf(e.error));
				} else {
					c.destroyed++;
					c.destroyedByReason[reason]++;
				}
				if (reason === CloseReason.error) this.#score.failure();
				this.#emit(PoolEvent.connectionClosed, { pool: this.name, connectionId: numericId, reason, error: e.error ?? undefined });
				return;
			}
			case "connectionCheckOutStarted":
				this.#pending++;
				this.#peaks();
				this.#emit(PoolEvent.acquireStarted, { pool: this.name });
				return;
			case "connectionCheckOutFailed": {
				this.#pending = Math.max(0, this.#pending - 1);
				const reason = CHECKOUT_FAILURES[e.reason ?? ""] ?? AcquireFailReason.createError;
				if (reason === AcquireFailReason.timeout) c.timeouts++;
				else if (reason === AcquireFailReason.poolClosed) c.closedRejects++;
				else {
					c.aborted++;
					if (e.error !== undefined && e.error !== null) this.#lastCreateError = redactUrlCredentials(messageOf(e.error));
				}
				this.#score.failure();
				const error = e.error instanceof Error ? e.error : new Error(`check-out failed: ${e.reason ?? "unknown"}`);
				this.#emit(PoolEvent.acquireFailed, { pool: this.name, reason, durationMs: e.durationMS ?? 0, error });
				return;
			}
			case "connectionCheckedOut": {
				this.#pending = Math.max(0, this.#pending - 1);
				const conn = this.#connections.get(id);
				if (conn !== undefined) {
					if (!conn.used) c.lentFresh++;
					conn.used = true;
					this.#move(conn, "active");
					conn.checkedOutAt = performance.now();
				}
				c.acquiredOk++;
				c.wait.record(e.durationMS ?? 0);
				this.#score.success();
				this.#peaks();
				this.#emit(PoolEvent.acquired, { pool: this.name, connectionId: numericId, durationMs: e.durationMS ?? 0 });
				return;
			}
			case "connectionCheckedIn": {
				const conn = this.#connections.get(id);
				if (conn !== undefined && conn.state === "active") {
					this.#move(conn, "idle");
					c.use.record(performance.now() - conn.checkedOutAt);
				}
				this.#emit(PoolEvent.released, { pool: this.name, connectionId: numericId });
				return;
			}
		}
	}

	/** A health check's result (a `ping`) counts toward the pool's health score. */
	recordHealthCheck(ok: boolean): void {
		if (ok) this.#score.success();
		else this.#score.failure();
	}

	stats(): PoolStats {
		const { creating, idle, active } = this.#count;
		return statsSnapshot(
			{
				name: this.name,
				state: this.#state,
				generation: this.#generation,
				min: this.#min,
				max: this.#max,
				total: creating + idle + active,
				active,
				idle,
				creating,
				pending: this.#pending,
				healthScore: this.#state === "closed" ? 0 : this.#score.value,
				lastCreateError: this.#lastCreateError,
			},
			this.#counters,
		);
	}

	resetStats(): void {
		const s = this.stats();
		this.#counters.resetWindow(s.total, s.active, s.pending);
	}

	/** Asks the driver to clear this server's pool (a new generation; CMAP's `clear()`). */
	clear(): void {
		this.#clear();
	}

	#peaks(): void {
		const c = this.#counters;
		c.peakTotal = Math.max(c.peakTotal, this.#connections.size);
		c.peakActive = Math.max(c.peakActive, this.#count.active);
		c.peakPending = Math.max(c.peakPending, this.#pending);
	}

	#move(conn: Connection, to: ConnectionState): void {
		this.#count[conn.state]--;
		this.#count[to]++;
		conn.state = to;
	}

	#emit<E extends keyof PoolEvents>(event: E, ...payload: PoolEvents[E]): void {
		if (this.listenerCount(event as string) > 0) (this.emit as (e: E, ...p: PoolEvents[E]) => boolean)(event, ...payload);
	}
}
