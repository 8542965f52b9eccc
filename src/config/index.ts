/**
 * `lifeguard/config`: one schema for every pool kind, sources with a fixed precedence (defaults,
 * YAML with environment sections, CONNECTION_POOL_*, LIFEGUARD_POOLS__*), typed resolved options,
 * `explain()` with secrets masked, building the clients into a manager, and pool sizing.
 * See docs/config.md.
 */

export { didYouMean } from "../core/did-you-mean.ts";
export { type CreatePoolsOptions, corePoolOptions, createPools, type PoolBuilder, registerPoolBuilder } from "./builders.ts";
export { KIND_PREFIX, KIND_VARIABLES, MONITORING_VARIABLES, POOL_PREFIX } from "./env.ts";
export { type ExplainedSetting, explain, formatExplanation } from "./explain.ts";
export { type LoadConfigOptions, loadConfig, type ResolvedConfig } from "./load.ts";
export {
	DATABASE_KINDS,
	ENVIRONMENTS,
	type MonitoringConfig,
	monitoringSchema,
	POOL_KINDS,
	type PoolConfig,
	type PoolConfigOf,
	type PoolKind,
	poolSchemas,
} from "./schema.ts";
export { assessPoolSize, type PoolSizeAssessment, type PoolSizeInput, type PoolSizeRecommendation, recommendPoolSize, type SizeVerdict } from "./sizing.ts";
