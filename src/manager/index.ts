export { type BreakerView, ClientKind, type ClientPool, type ManagedClient, type PoolView } from "./client.ts";
export { RecentErrorRate } from "./error-rate.ts";
export { ManagerClosedError, PoolExistsError, PoolNotFoundError } from "./errors.ts";
export {
	assessBreakers,
	assessPool,
	type ClientHealthReport,
	errorCounts,
	HEALTH_THRESHOLDS,
	type HealthReport,
	HealthStatus,
	lifetimeErrorRate,
	type PoolHealthReport,
	worstStatus,
} from "./health.ts";
export {
	defaultManager,
	type HealthCheckCounts,
	type ManagedPool,
	type ManagerEvents,
	PoolManager,
	type PoolManagerOptions,
	type Readiness,
	type SignalOptions,
} from "./manager.ts";
export { type ClosableServer, installShutdown, type ShutdownHandle, type ShutdownOptions, type ShutdownStep } from "./shutdown.ts";
export { isManagedClient, keyedClient, type Manageable, poolClient, poolId, toManagedClient } from "./views.ts";
