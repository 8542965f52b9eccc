/**
 * A managed WebSocket seen as a pool of one, so the manager, metrics and health endpoints read
 * it like any other pool: open is an active connection, a handshake in progress is a create,
 * each successful open a created connection, a failed attempt a create failure, a heartbeat
 * timeout a failed validation, and queued sends are the waiters.
 */
import { Histogram } from "../../core/histogram.ts";
import { closeCounts, type PoolStats } from "../../core/stats.ts";
import type { PoolView } from "../../manager/client.ts";
import { ConnectionState, type WebSocketConnection } from "./connection.ts";

/** Points lost per failure in a row while down, so the health report turns degraded, then unhealthy. */
const SCORE_PER_FAILURE = 25;

const EMPTY = new Histogram().summary();

export function connectionPoolView(manager: string, connection: WebSocketConnection): PoolView {
	return {
		stats: () => connectionPoolStats(manager, connection),
		resetStats: () => connection.resetStats(),
		// A new generation of a pool of one: replace its socket.
		clear: () => {
			if (connection.state !== ConnectionState.closed) connection.reconnect();
		},
	};
}

export function connectionPoolStats(manager: string, connection: WebSocketConnection): PoolStats {
	const s = connection.stats();
	const open = s.state === ConnectionState.open ? 1 : 0;
	const creating = s.state === ConnectionState.connecting ? 1 : 0;
	const closedSockets = Math.max(0, s.opens - open);
	const healthScore = open === 1 ? 100 : s.state === ConnectionState.stopped ? 0 : Math.max(0, 100 - SCORE_PER_FAILURE * Math.max(1, s.failures));
	return {
		name: `${manager}[${connection.label}]`,
		state: s.state === ConnectionState.closed ? "closed" : "open",
		generation: s.opens,
		min: 1,
		max: 1,
		total: open + creating,
		active: open,
		idle: 0,
		creating,
		pending: s.queued,
		peak: { total: s.opens > 0 ? 1 : open + creating, active: s.opens > 0 ? 1 : 0, pending: s.peakQueued },
		created: s.opens,
		createFailures: s.failedAttempts,
		destroyed: closedSockets,
		destroyedByReason: closeCounts({ error: closedSockets }),
		validationFailures: s.heartbeatTimeouts,
		acquires: { ok: 0, failed: 0, timeouts: 0, aborted: 0, queueFull: 0, closed: 0 },
		leaks: 0,
		waitMs: EMPTY,
		useMs: EMPTY,
		createMs: s.handshakeMs,
		reuseRatio: 0,
		utilization: open,
		healthScore,
		lastCreateError: s.lastError,
	};
}
