export type { BudgetedPool, ConnectionBudget } from "./core/connection-budget.ts";
export {
	ConnectionPool,
	type ConnectionPoolOptions,
	type CustomConnection,
	createConnectionPool,
	type ExecuteArgs,
	type ExecuteResult,
} from "./core/custom.ts";
export { type DurationRules, durationProblem, MAX_DURATION_MS } from "./core/duration.ts";
export * from "./core/errors.ts";
export * from "./core/events.ts";
export { Histogram, type HistogramSummary } from "./core/histogram.ts";
export { createKeyedPool, KeyedPool, type KeyedPoolOptions, type KeyedPoolStats } from "./core/keyed-pool.ts";
export { Lease } from "./core/lease.ts";
export { type ErrorClass, POOL_DEFAULTS, type PoolOptions, type ResolvedPoolOptions } from "./core/options.ts";
export { type AcquireOptions, type CloseOptions, type ConnectionHealth, createPool, Pool, type PoolHealth } from "./core/pool.ts";
export type { PoolStats } from "./core/stats.ts";
export { type RunOnLeaseOptions, runOnLease, type WithLeaseOptions, withLease } from "./core/with-lease.ts";
export {
	assessPool,
	type BreakerView,
	ClientKind,
	type ClientPool,
	defaultManager,
	HEALTH_THRESHOLDS,
	type HealthReport,
	HealthStatus,
	installShutdown,
	type ManagedClient,
	ManagerClosedError,
	type ManagerEvents,
	PoolExistsError,
	type PoolHealthReport,
	PoolManager,
	type PoolManagerOptions,
	PoolNotFoundError,
	type PoolView,
	type ShutdownOptions,
	type SignalOptions,
	worstStatus,
} from "./manager/index.ts";
