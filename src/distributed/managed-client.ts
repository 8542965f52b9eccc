import { type CloseOptions, closeTimeout } from "../core/pool.ts";
import { PoolCounters, type PoolStats, statsSnapshot } from "../core/stats.ts";
import type { ClientPool, ManagedClient, PoolView } from "../manager/client.ts";
import type { ShardMap } from "./shard-map.ts";
import type { SharedBudget, SharedBudgetStats } from "./shared-budget.ts";
import type { SharedRateLimit, SharedRateLimitStats } from "./shared-rate-limit.ts";

/** The client kind of {@link distributedClient}: metrics read its `details()` as {@link DistributedDetails}. */
export const DISTRIBUTED_KIND = "distributed";

export interface ShardMapDetails {
	name: string;
	processId: string;
	affinity: string;
	reachable: boolean;
	shardCount: number;
	/** Owner process of each shard. */
	owners: string[];
}

/** What a distributed client's `details()` returns: the admin API shows it, metrics export it. */
export interface DistributedDetails {
	budgets: SharedBudgetStats[];
	rateLimits: SharedRateLimitStats[];
	shards: ShardMapDetails[];
}

export interface DistributedClientOptions {
	/** Default "distributed". */
	name?: string;
	budgets?: SharedBudget[];
	rateLimits?: SharedRateLimit[];
	shards?: ShardMap[];
}

/**
 * Shows a shared budget as a pool to the manager, metrics and the admin API: `max` is the global
 * limit, `total` the slots this process holds, `active` its open connections, `pending` the
 * callers waiting for a slot. Health drops to 50 in fallback (Redis unreachable).
 */
export function budgetPoolView(budget: SharedBudget): PoolView {
	// No acquires pass through the budget itself: its counters stay zero, the gauges carry the figures.
	const counters = new PoolCounters();
	return {
		stats(): PoolStats {
			const s = budget.stats();
			return statsSnapshot(
				{
					name: `budget:${s.resource}`,
					state: "open",
					generation: 0,
					min: 0,
					max: s.limit,
					total: s.held,
					active: s.used,
					idle: Math.max(0, s.held - s.used),
					creating: 0,
					pending: s.waiting,
					healthScore: s.fallback ? 50 : 100,
					lastCreateError: s.fallback ? "Redis unreachable: keeping to the static share" : undefined,
				},
				counters,
			);
		},
		resetStats: () => {},
		clear: () => {},
	};
}

/** A ManagedClient over the distributed parts, for a PoolManager: budgets as pools, every statistic in `details()`. */
export function distributedClient(options: DistributedClientOptions): ManagedClient {
	const budgets = options.budgets ?? [];
	const rateLimits = options.rateLimits ?? [];
	const shards = options.shards ?? [];
	const views: ClientPool[] = budgets.map((b) => ({ label: `budget:${b.resource}`, pool: budgetPoolView(b) }));
	const close = async (options?: CloseOptions) => {
		closeTimeout("distributed: close", options);
		await Promise.all([...budgets, ...rateLimits, ...shards].map((part) => part.close()));
	};
	return {
		name: options.name ?? "distributed",
		kind: DISTRIBUTED_KIND,
		pools: () => views,
		details: (): DistributedDetails & Record<string, unknown> => ({
			budgets: budgets.map((b) => b.stats()),
			rateLimits: rateLimits.map((r) => r.stats()),
			shards: shards.map((m) => ({
				name: m.name,
				processId: m.processId,
				affinity: m.affinity,
				reachable: m.reachable,
				shardCount: m.shardCount,
				owners: [...m.owners],
			})),
		}),
		start: async () => {
			await Promise.all([...budgets.map((b) => b.start()), ...shards.map((m) => m.start())]);
		},
		close,
		// A manager closes the pools first: the budget's slots stay taken while their connections drain.
		closesLast: true,
		[Symbol.asyncDispose]: () => close(),
	};
}
