/**
 * Every metric lifeguard exports to Prometheus, defined once: the names the seed deployments
 * alert on (docs/metrics.md), kept as they are, then the few the shipped alerts and dashboard also need.
 * Every series is labelled `pool` (`orders`, `db/primary`) and `kind` (`postgres`, `http`...),
 * plus `host` for HTTP origins and the extra label listed here.
 */
export const MetricName = {
	size: "connection_pool_size",
	pendingRequests: "connection_pool_pending_requests",
	activeConnections: "connection_pool_active_connections",
	totalConnections: "connection_pool_total_connections",
	failedConnections: "connection_pool_failed_connections",
	waitSeconds: "connection_pool_wait_seconds",
	requestDurationSeconds: "connection_pool_request_duration_seconds",
	usageSeconds: "connection_usage_seconds",
	errorsTotal: "connection_pool_errors_total",
	healthChecksTotal: "connection_pool_health_checks_total",
	utilization: "connection_pool_utilization",
	errorRate: "connection_pool_error_rate",
	efficiency: "connection_pool_efficiency",
	// Beyond the seed deployments' list: what "below min", "creates/closes" and "circuit open" are computed from.
	minConnections: "connection_pool_min_connections",
	maxConnections: "connection_pool_max_connections",
	createdTotal: "connection_pool_connections_created_total",
	closedTotal: "connection_pool_connections_closed_total",
	healthScore: "connection_pool_health_score",
	circuitBreakerOpen: "connection_pool_circuit_breaker_open",
	// lifeguard/distributed (a distributedClient in the manager): labelled by resource, limit or shard map.
	budgetLimit: "lifeguard_budget_limit_slots",
	budgetHeld: "lifeguard_budget_held_slots",
	budgetUsed: "lifeguard_budget_used_slots",
	budgetBorrowed: "lifeguard_budget_borrowed_slots",
	budgetOwed: "lifeguard_budget_owed_slots",
	budgetShare: "lifeguard_budget_share_slots",
	budgetAllowed: "lifeguard_budget_allowed_slots",
	budgetWaiting: "lifeguard_budget_waiting_requests",
	budgetProcesses: "lifeguard_budget_processes",
	budgetFallback: "lifeguard_budget_fallback",
	budgetSyncFailures: "lifeguard_budget_sync_failures_total",
	rateLimitAdmitted: "lifeguard_rate_limit_admitted_total",
	rateLimitRefused: "lifeguard_rate_limit_refused_total",
	rateLimitWaited: "lifeguard_rate_limit_waited_total",
	rateLimitProcesses: "lifeguard_rate_limit_processes",
	rateLimitFallback: "lifeguard_rate_limit_fallback",
	shardCount: "lifeguard_shard_map_shards",
	shardOwned: "lifeguard_shard_map_owned_shards",
	shardProcesses: "lifeguard_shard_map_processes",
	shardReachable: "lifeguard_shard_map_redis_reachable",
} as const;
export type MetricName = (typeof MetricName)[keyof typeof MetricName];

export type MetricType = "gauge" | "counter" | "histogram";

export interface MetricSpec {
	readonly name: MetricName;
	readonly type: MetricType;
	readonly help: string;
	/** The label beyond pool, kind (and host), if any; the distributed metrics carry pool, kind and this one. */
	readonly label?: string;
}

const M = MetricName;

/** Every exported metric with its type and help text, in export order. */
export const METRICS: readonly MetricSpec[] = [
	{ name: M.size, type: "gauge", help: "Connections by state (idle, active, creating, total)", label: "state" },
	{ name: M.pendingRequests, type: "gauge", help: "Callers waiting for a connection" },
	{ name: M.activeConnections, type: "gauge", help: "Connections leased to callers" },
	{ name: M.totalConnections, type: "gauge", help: "Connections open or being opened" },
	{ name: M.failedConnections, type: "counter", help: "Connection attempts that failed" },
	{ name: M.waitSeconds, type: "histogram", help: "Time callers waited for a connection" },
	{ name: M.requestDurationSeconds, type: "histogram", help: "Time from asking for a connection to giving it back (wait + use)" },
	{ name: M.usageSeconds, type: "histogram", help: "Time a connection was held by its borrower" },
	{
		name: M.errorsTotal,
		type: "counter",
		help: "Pool errors by type (timeout, queue_full, create, validation, connection, leak, closed, aborted)",
		label: "type",
	},
	{ name: M.healthChecksTotal, type: "counter", help: "Health assessments of the pool by result (pass, warn, fail)", label: "result" },
	{ name: M.utilization, type: "gauge", help: "Active connections / max (0-1)" },
	{ name: M.errorRate, type: "gauge", help: "Share of operations that failed over about the last minute (0-1)" },
	{ name: M.efficiency, type: "gauge", help: "Share of acquires served by an existing connection (0-1)" },
	{ name: M.minConnections, type: "gauge", help: "Configured minimum connections" },
	{ name: M.maxConnections, type: "gauge", help: "Configured maximum connections" },
	{ name: M.createdTotal, type: "counter", help: "Connections opened" },
	{ name: M.closedTotal, type: "counter", help: "Connections closed, by reason", label: "reason" },
	{ name: M.healthScore, type: "gauge", help: "Pool health score (0-100)" },
	{ name: M.circuitBreakerOpen, type: "gauge", help: "1 while the circuit breaker guarding `breaker` is open, 0.5 half-open, 0 closed", label: "breaker" },
	{ name: M.budgetLimit, type: "gauge", help: "Connection slots of the shared budget over every process", label: "resource" },
	{ name: M.budgetHeld, type: "gauge", help: "Slots this process holds in Redis (in use + granted headroom)", label: "resource" },
	{ name: M.budgetUsed, type: "gauge", help: "Connections open or being opened here under the budget", label: "resource" },
	{ name: M.budgetBorrowed, type: "gauge", help: "Slots held above this process's fair share", label: "resource" },
	{ name: M.budgetOwed, type: "gauge", help: "Slots Redis asked this process to give back (another is owed its share)", label: "resource" },
	{ name: M.budgetShare, type: "gauge", help: "This process's fair share (limit / processes)", label: "resource" },
	{ name: M.budgetAllowed, type: "gauge", help: "Slots this process may use now", label: "resource" },
	{ name: M.budgetWaiting, type: "gauge", help: "Callers waiting for a slot in the pools under the budget", label: "resource" },
	{ name: M.budgetProcesses, type: "gauge", help: "Live processes sharing the budget, as last seen in Redis", label: "resource" },
	{ name: M.budgetFallback, type: "gauge", help: "1 while Redis is unreachable and this process keeps to its static share", label: "resource" },
	{ name: M.budgetSyncFailures, type: "counter", help: "Budget syncs with Redis that failed", label: "resource" },
	{ name: M.rateLimitAdmitted, type: "counter", help: "Calls admitted by the shared rate limit, by source (redis, local: the static share)", label: "limit" },
	{ name: M.rateLimitRefused, type: "counter", help: "Calls refused with RATE_LIMITED", label: "limit" },
	{ name: M.rateLimitWaited, type: "counter", help: "Admitted calls that had to wait for room", label: "limit" },
	{ name: M.rateLimitProcesses, type: "gauge", help: "Live processes sharing the rate limit, as last seen in Redis", label: "limit" },
	{ name: M.rateLimitFallback, type: "gauge", help: "1 while Redis is unreachable and this process keeps to its static share", label: "limit" },
	{ name: M.shardCount, type: "gauge", help: "Shards the keys are spread over", label: "shard_map" },
	{ name: M.shardOwned, type: "gauge", help: "Shards this process owns", label: "shard_map" },
	{ name: M.shardProcesses, type: "gauge", help: "Processes owning at least one shard", label: "shard_map" },
	{ name: M.shardReachable, type: "gauge", help: "1 when the last sync with Redis succeeded", label: "shard_map" },
];

/** Histogram bucket upper bounds in seconds: from a pooled hit (sub-millisecond) to an LLM call. */
export const DEFAULT_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
