/**
 * lifeguard/distributed: limits shared by every process through Redis — a connection budget
 * pools take slots from, and rate limits per key. See docs/distributed.md.
 */

export { AdaptiveSizer, type AdaptiveSizingOptions, adaptPoolSize, type SizingBudget, type SizingSample } from "./adaptive-sizer.ts";
export {
	budgetPoolView,
	DISTRIBUTED_KIND,
	type DistributedClientOptions,
	type DistributedDetails,
	distributedClient,
	type ShardMapDetails,
} from "./managed-client.ts";
export type { RedisLike } from "./redis-connection.ts";
export {
	AFFINITIES,
	type Affinity,
	type DistributedPoolConfig,
	ShardMap,
	type ShardMapEvents,
	type ShardMapOptions,
	shardMapFromConfig,
} from "./shard-map.ts";
export { createSharedBudget, SharedBudget, type SharedBudgetOptions, type SharedBudgetStats } from "./shared-budget.ts";
export {
	createSharedRateLimit,
	type RateAdmission,
	SharedRateLimit,
	type SharedRateLimitOptions,
	type SharedRateLimitStats,
	type TakeOptions,
} from "./shared-rate-limit.ts";
