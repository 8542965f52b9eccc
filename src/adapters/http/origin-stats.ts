/**
 * What the HTTP client counts per origin on top of its pool's statistics: requests and their
 * outcomes, timeouts by kind, retries and re-sends, sockets that closed on their own and why,
 * HTTP/2 streams. The pool already counts connections, connect times and waits.
 */

import type { HistogramSummary } from "../../core/histogram.ts";
import type { PoolStats } from "../../core/stats.ts";
import type { BreakerStats } from "../../resilience/circuit-breakers.ts";
import type { HttpProtocol, SocketCloseReason } from "./connection.ts";

export type TimeoutKind = "headers" | "body" | "deadline" | "acquire" | "connect";

export class OriginCounters {
	requests = 0;
	/** Requests written to a connection: attempts, re-sends included. */
	sends = 0;
	/** Sends on a connection that had already carried a request. */
	reusedSends = 0;
	responses = { "1xx": 0, "2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0 };
	/** Calls that ended in an error (after any retries). */
	errors = 0;
	timeouts: Record<TimeoutKind, number> = { headers: 0, body: 0, deadline: 0, acquire: 0, connect: 0 };
	/** Retries made by the retry policy. */
	retries = 0;
	/** Requests that met a dead keep-alive connection (reset on reuse) and were sent once more on another. */
	staleRetries = 0;
	/** Requests re-sent because their connection closed before they were written (HTTP/2 GOAWAY, an expiring keep-alive). */
	resends = 0;
	/** 429s seen; each starts a cooldown when cooldowns are on. */
	tooManyRequests = 0;
	socketClosedBy: Record<SocketCloseReason, number> = { keepAliveExpired: 0, serverClosed: 0, goaway: 0, error: 0 };
	streamsRunning = 0;
	streamsPeak = 0;
	streamsTotal = 0;
	protocol: HttpProtocol | undefined;
}

export interface OriginStats {
	origin: string;
	protocol: HttpProtocol | undefined;
	/** Connections open (idle or busy), being opened, idle, carrying requests; callers waiting for one. */
	connected: number;
	connecting: number;
	free: number;
	running: number;
	pending: number;
	created: number;
	connectFailures: number;
	/** The pool's reasons (idle, lifetime, error, poolClosed…); a socket that closed on its own is an `error` close there, with its cause in `socketClosedBy`. */
	closedByReason: PoolStats["destroyedByReason"];
	socketClosedBy: Record<SocketCloseReason, number>;
	requests: number;
	responses: OriginCounters["responses"];
	errors: number;
	timeouts: Record<TimeoutKind, number>;
	retries: number;
	staleRetries: number;
	resends: number;
	tooManyRequests: number;
	streams: { running: number; peak: number; total: number };
	/** TCP + TLS connect times, ms. */
	connectMs: HistogramSummary;
	/** Waits for a connection, ms. */
	waitMs: HistogramSummary;
	/** Share of sends that went over an already used connection (0-1). */
	reuseRatio: number;
	/** Busy connections / maxConnectionsPerOrigin (0-1). */
	utilization: number;
	cooldownMs: number;
	breaker?: BreakerStats;
}

export interface HttpClientStats {
	name: string;
	maxConnections: number;
	maxConnectionsPerOrigin: number;
	maxWaiters: number;
	/** Connections open or opening over all origins. */
	connections: number;
	pending: number;
	requests: number;
	errors: number;
	reuseRatio: number;
	/** Connections in use / maxConnections (0-1). */
	utilization: number;
	origins: Record<string, OriginStats>;
}

export function originStats(origin: string, c: OriginCounters, pool: PoolStats, cooldownMs: number, breaker: BreakerStats | undefined): OriginStats {
	return {
		origin,
		protocol: c.protocol,
		connected: pool.total - pool.creating,
		connecting: pool.creating,
		free: pool.idle,
		running: pool.active,
		pending: pool.pending,
		created: pool.created,
		connectFailures: pool.createFailures,
		closedByReason: pool.destroyedByReason,
		socketClosedBy: { ...c.socketClosedBy },
		requests: c.requests,
		responses: { ...c.responses },
		errors: c.errors,
		timeouts: { ...c.timeouts },
		retries: c.retries,
		staleRetries: c.staleRetries,
		resends: c.resends,
		tooManyRequests: c.tooManyRequests,
		streams: { running: c.streamsRunning, peak: c.streamsPeak, total: c.streamsTotal },
		connectMs: pool.createMs,
		waitMs: pool.waitMs,
		reuseRatio: c.sends === 0 ? 0 : c.reusedSends / c.sends,
		utilization: pool.utilization,
		cooldownMs,
		...(breaker === undefined ? {} : { breaker }),
	};
}
