import type { ClientHealthReport, HealthReport, HealthStatus } from "../../manager/health.ts";
import { redactSecrets } from "../redact.ts";

/** The `application/health+json` statuses (draft-inadarei-api-health-check), mapped from the report's. */
export const CheckStatus = { healthy: "pass", degraded: "warn", unhealthy: "fail" } as const satisfies Record<HealthStatus, string>;
export type CheckStatus = (typeof CheckStatus)[keyof typeof CheckStatus];

export interface HealthCheck {
	componentId: string;
	componentType: string;
	observedValue: number;
	observedUnit: string;
	status: CheckStatus;
	time: string;
	output?: string;
	[key: string]: unknown;
}

export interface HealthJson {
	status: CheckStatus;
	description: string;
	serviceId?: string;
	version?: string;
	releaseId?: string;
	notes?: string[];
	output?: string;
	checks: Record<string, HealthCheck[]>;
}

export interface HealthJsonOptions {
	serviceId?: string;
	version?: string;
	releaseId?: string;
	description?: string;
}

/**
 * The manager's report as `application/health+json`: one check per pool (`<pool id>:connections`,
 * its open connections as the observed value, with utilization, error rate, score and size) and
 * one per circuit breaker (`<client>:circuitBreaker`).
 */
export function toHealthJson(report: HealthReport, options: HealthJsonOptions = {}, now = new Date()): HealthJson {
	const time = now.toISOString();
	const checks: Record<string, HealthCheck[]> = {};
	for (const client of Object.values(report.clients)) {
		for (const pool of Object.values(client.pools)) {
			checks[`${pool.id}:connections`] = [
				{
					componentId: pool.id,
					componentType: client.kind,
					observedValue: pool.size.total,
					observedUnit: "connections",
					status: CheckStatus[pool.status],
					time,
					...(pool.reasons.length > 0 ? { output: redactSecrets(pool.reasons.join("; ")) } : {}),
					size: pool.size,
					utilization: pool.utilization,
					efficiency: pool.efficiency,
					errorRate: pool.errorRate,
					healthScore: pool.score,
					...(pool.lastError !== undefined ? { lastError: redactSecrets(pool.lastError) } : {}),
				},
			];
		}
		if (client.breakers.length > 0) checks[`${client.name}:circuitBreaker`] = breakerChecks(client, time);
	}
	const json: HealthJson = {
		status: CheckStatus[report.status],
		description: options.description ?? "connection pools",
		...(options.serviceId !== undefined ? { serviceId: options.serviceId } : {}),
		...(options.version !== undefined ? { version: options.version } : {}),
		...(options.releaseId !== undefined ? { releaseId: options.releaseId } : {}),
		checks,
	};
	if (report.reasons.length > 0) json.output = redactSecrets(report.reasons.join("; "));
	if (report.shuttingDown) json.notes = ["shutting down"];
	return json;
}

function breakerChecks(client: ClientHealthReport, time: string): HealthCheck[] {
	return client.breakers.map((b) => ({
		componentId: b.label,
		componentType: client.kind,
		observedValue: b.failures,
		observedUnit: "failures",
		status: b.state === "open" ? "fail" : b.state === "halfOpen" ? "warn" : "pass",
		time,
		state: b.state,
		...(b.retryAtMs !== undefined ? { retryAt: new Date(b.retryAtMs).toISOString() } : {}),
		...(b.lastError !== undefined ? { output: redactSecrets(b.lastError) } : {}),
	}));
}
