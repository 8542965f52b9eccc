export { type BreakerView, ClientKind, type ClientPool, type ManagedClient, type PoolView } from "./client.ts";
export { ManagerClosedError, PoolExistsError, PoolNotFoundError } from "./errors.ts";
export { assessPool, HEALTH_THRESHOLDS, type HealthReport, HealthStatus, type PoolHealthReport, worstStatus } from "./health.ts";
export { defaultManager, type ManagerEvents, PoolManager, type PoolManagerOptions, type SignalOptions } from "./manager.ts";
