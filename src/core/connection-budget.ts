import type { Pool, PoolBudget } from "./pool.ts";

/** What a budget may do to the pool it gates: wake its waiters, close an idle connection. */
export interface BudgetedPool {
	readonly name: string;
	/** Serve waiters again: call it when a slot may have become free. */
	wake(): void;
	/** Closes one idle connection (reason `idle`) so its slot goes back; false when none is idle. */
	evictIdle(): boolean;
	/** Callers waiting in the pool now, plus the connections `min` still lacks: the demand a budget may ask more slots for. */
	pending(): number;
}

/**
 * A connection budget outside the pool (shared with other pools or other processes, see
 * `lifeguard/distributed`). The pool asks for one slot before every create and gives it back when
 * the connection closes or the create fails. Everything is synchronous: a budget that needs I/O
 * answers from what it already holds and wakes the pool once it got more.
 */
export interface ConnectionBudget {
	/** Takes one slot for a create; false when none is free now. */
	tryReserve(): boolean;
	/** Gives one slot back. */
	release(): void;
	/**
	 * The pool has waiters it could not create for. It does not retry on its own: the budget calls
	 * `wake()` on the handle from `attach` once a slot may be free, so a refusal waits, never spins.
	 */
	blocked?(): void;
	/** True while the budget wants slots back: a connection coming back is then closed instead of reused. */
	overdrawn?(): boolean;
	/** Called once, when the pool is built. */
	attach?(pool: BudgetedPool): void;
}

/**
 * Warm-up creates do not report a refusal (only waiters do), so a budget that grants on demand
 * (SharedBudget) must see `min` as demand or `start()` would wait for a slot nobody asked for.
 */
function warmDeficit(pool: Pool<unknown>): number {
	return Math.max(0, pool.options.min - pool.size);
}

/** Adapts a public budget to the pool's internal hooks (the keyed pool's budget has more of them). @internal */
export function externalBudget(budget: ConnectionBudget, pool: Pool<unknown>): PoolBudget {
	budget.attach?.({ name: pool.name, wake: () => pool.poke(), evictIdle: () => pool.evictOneIdle(), pending: () => pool.pendingCount + warmDeficit(pool) });
	return {
		tryReserve: () => budget.tryReserve(),
		release: () => budget.release(),
		blocked: () => budget.blocked?.(),
		idle: (p) => {
			if (budget.overdrawn?.() === true) p.evictOneIdle();
		},
		overdrawn: () => budget.overdrawn?.() === true,
		empty: () => {},
		claim: () => true,
		unclaim: () => {},
	};
}
