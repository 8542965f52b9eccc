/**
 * lifeguard/distributed: limits shared by every process through Redis — a connection budget
 * pools take slots from, and rate limits per key. See docs/distributed.md.
 */

export type { RedisLike } from "./redis-connection.ts";
export { createSharedBudget, SharedBudget, type SharedBudgetOptions, type SharedBudgetStats } from "./shared-budget.ts";
