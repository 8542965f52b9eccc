import type { PoolStats } from "../core/stats.ts";
import type { BreakerView, ClientKind } from "./client.ts";

/** A pool's or a manager's health, from best to worst. `/health/connections` maps them to pass / warn / fail. */
export const HealthStatus = {
	healthy: "healthy",
	degraded: "degraded",
	unhealthy: "unhealthy",
} as const;
export type HealthStatus = (typeof HealthStatus)[keyof typeof HealthStatus];

/**
 * Where a pool's health score (0-100, see `Pool.stats().healthScore`) turns its status:
 * at or above `healthyScore` it may be healthy, below `degradedScore` it is unhealthy.
 */
export const HEALTH_THRESHOLDS = {
	healthyScore: 80,
	degradedScore: 50,
	/** A recent error rate (0-1) at or above this degrades a pool... */
	degradedErrorRate: 0.05,
	/** ...and at or above this makes it unhealthy. */
	unhealthyErrorRate: 0.5,
} as const;

/** One pool's part of the health report. */
export interface PoolHealthReport {
	status: HealthStatus;
	/** The pool's health score, 0-100. */
	score: number;
	/** Why the status is not healthy, one line each; empty when healthy. */
	reasons: string[];
	stats: PoolStats;
	/** Share of recent operations that failed (0-1): failed creates, timed-out or refused acquires, connections lost to errors. */
	errorRate: number;
	/** active / max (0-1). */
	utilization: number;
	/** Share of acquires served by an existing connection (0-1): how well the pool reuses. */
	efficiency: number;
	/** Connections by state, with the bounds. */
	size: { total: number; active: number; idle: number; creating: number; pending: number; min: number; max: number };
	/** The last create error, if any (already free of credentials: adapters redact their messages). */
	lastError: string | undefined;
}

/** One client's part of the report: its pools by label and its breakers. */
export interface ClientHealthReport {
	name: string;
	kind: ClientKind;
	status: HealthStatus;
	reasons: string[];
	/** Each pool by its label inside the client (`primary`, `replica[0]`, an origin). */
	pools: Record<string, PoolHealthReport & { id: string }>;
	breakers: BreakerView[];
}

/** The manager's health report: the worst status of its clients, with reasons, and each pool's report. */
export interface HealthReport {
	status: HealthStatus;
	/** Why the status is not healthy (`db/primary: health score 0 is below 50`); empty when healthy. */
	reasons: string[];
	/** Recent error rate over every pool (0-1). */
	errorRate: number;
	/** True once shutdown began (readiness fails from then on). */
	shuttingDown: boolean;
	clients: Record<string, ClientHealthReport>;
	/** Every pool by its id (`orders`, `db/primary`), flat. */
	pools: Record<string, PoolHealthReport>;
}

const RANK: Record<HealthStatus, number> = { healthy: 0, degraded: 1, unhealthy: 2 };

/**
 * A pool's status from its statistics:
 * - unhealthy: closed or closing, or score below `degradedScore` (50);
 * - degraded: score below `healthyScore` (80), fewer connections than `min`, or saturated
 *   (callers waiting while every connection is in use);
 * - healthy otherwise.
 */
export function assessPool(stats: PoolStats, errorRate = lifetimeErrorRate(stats)): PoolHealthReport {
	const score = stats.healthScore;
	const reasons: string[] = [];
	let status: HealthStatus = HealthStatus.healthy;
	const worsen = (to: HealthStatus, reason: string) => {
		reasons.push(reason);
		if (RANK[to] > RANK[status]) status = to;
	};
	if (stats.state !== "open") worsen(HealthStatus.unhealthy, `pool is ${stats.state}`);
	if (score < HEALTH_THRESHOLDS.degradedScore) worsen(HealthStatus.unhealthy, `health score ${score} is below ${HEALTH_THRESHOLDS.degradedScore}`);
	else if (score < HEALTH_THRESHOLDS.healthyScore) worsen(HealthStatus.degraded, `health score ${score} is below ${HEALTH_THRESHOLDS.healthyScore}`);
	if (stats.state === "open" && stats.total < stats.min) worsen(HealthStatus.degraded, `${stats.total} of min ${stats.min} connections open`);
	if (stats.pending > 0 && stats.active >= stats.max) {
		worsen(HealthStatus.degraded, `saturated: ${stats.pending} callers waiting, all ${stats.max} connections in use`);
	}
	const percent = `${Math.round(errorRate * 1000) / 10}%`;
	if (errorRate >= HEALTH_THRESHOLDS.unhealthyErrorRate)
		worsen(HealthStatus.unhealthy, `error rate ${percent} is at or above ${HEALTH_THRESHOLDS.unhealthyErrorRate * 100}%`);
	else if (errorRate >= HEALTH_THRESHOLDS.degradedErrorRate)
		worsen(HealthStatus.degraded, `error rate ${percent} is at or above ${HEALTH_THRESHOLDS.degradedErrorRate * 100}%`);
	// The last create error explains a bad status; on a healthy pool it is old news.
	if (status !== HealthStatus.healthy && stats.lastCreateError !== undefined) reasons.push(`last create error: ${stats.lastCreateError}`);
	return {
		status,
		score,
		reasons,
		stats,
		errorRate,
		utilization: stats.utilization,
		efficiency: stats.reuseRatio,
		size: { total: stats.total, active: stats.active, idle: stats.idle, creating: stats.creating, pending: stats.pending, min: stats.min, max: stats.max },
		lastError: stats.lastCreateError,
	};
}

/** The counters an error rate is computed from: failures, and everything attempted. */
export function errorCounts(stats: PoolStats): { errors: number; operations: number } {
	const errors = stats.acquires.timeouts + stats.acquires.queueFull + stats.createFailures + stats.destroyedByReason.error;
	const operations = stats.acquires.ok + stats.acquires.timeouts + stats.acquires.queueFull + stats.created + stats.createFailures;
	return { errors, operations };
}

/** The error rate since the pool was created (the manager reports a recent one instead). */
export function lifetimeErrorRate(stats: PoolStats): number {
	const { errors, operations } = errorCounts(stats);
	return operations === 0 ? 0 : Math.min(1, errors / operations);
}

/** A breaker's contribution: open degrades its client (traffic to that target is refused), half-open is a probe in progress. */
export function assessBreakers(breakers: readonly BreakerView[]): { status: HealthStatus; reasons: string[] } {
	const open = breakers.filter((b) => b.state === "open");
	if (open.length === 0) return { status: HealthStatus.healthy, reasons: [] };
	const all = open.length === breakers.length;
	return {
		status: all ? HealthStatus.unhealthy : HealthStatus.degraded,
		reasons: open.map((b) => `circuit breaker for ${b.label} is open${b.lastError ? ` (last error: ${b.lastError})` : ""}`),
	};
}

/** The worst of the statuses; healthy when there are none. */
export function worstStatus(statuses: Iterable<HealthStatus>): HealthStatus {
	let worst: HealthStatus = HealthStatus.healthy;
	for (const status of statuses) if (RANK[status] > RANK[worst]) worst = status;
	return worst;
}
