import type { PoolStats } from "../core/stats.ts";

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
} as const;

/** One pool's part of the health report. */
export interface PoolHealthReport {
	status: HealthStatus;
	/** The pool's health score, 0-100. */
	score: number;
	/** Why the status is not healthy, one line each; empty when healthy. */
	reasons: string[];
	stats: PoolStats;
}

/** The manager's health report: the worst status of its pools, and each pool's report. */
export interface HealthReport {
	status: HealthStatus;
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
export function assessPool(stats: PoolStats): PoolHealthReport {
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
	// The last create error explains a bad status; on a healthy pool it is old news.
	if (status !== HealthStatus.healthy && stats.lastCreateError !== undefined) reasons.push(`last create error: ${stats.lastCreateError}`);
	return { status, score, reasons, stats };
}

/** The worst of the statuses; healthy when there are none. */
export function worstStatus(statuses: Iterable<HealthStatus>): HealthStatus {
	let worst: HealthStatus = HealthStatus.healthy;
	for (const status of statuses) if (RANK[status] > RANK[worst]) worst = status;
	return worst;
}
