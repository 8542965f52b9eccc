/**
 * `lifeguard/redis`: a pooled Redis client on ioredis. See docs/adapters/redis.md.
 */
export {
	type CommandOptions,
	type CommandRequest,
	createRedisClient,
	type PipelineCommand,
	RedisClient,
	type RedisClientStats,
	type SetOptions,
} from "./client.ts";
export {
	type ClusterPipelineCommand,
	type ClusterTransactionOptions,
	createRedisClusterClient,
	RedisClusterClient,
	type RedisClusterOptions,
	type RedisNodeAddress,
} from "./cluster.ts";
export type { RedisArg } from "./commands.ts";
export { REDIS_DEFAULTS, type RedisClientOptions, type RedisPassword, type RedisPoolOptions, type RedisSentinelOptions } from "./config.ts";
export {
	RedisCommandError,
	RedisConnectionLostError,
	RedisCrossSlotError,
	RedisDriverMissingError,
	RedisErrorCode,
	RedisTimeoutError,
} from "./errors.ts";
export { classifyRedisError, isConnectionFault } from "./faults.ts";
export { type MessageHandler, type SubscribeOptions, Subscription } from "./subscription.ts";
export { type CommandResult, RedisTransaction, type TransactionOptions, type TransactionOutcome } from "./transaction.ts";
