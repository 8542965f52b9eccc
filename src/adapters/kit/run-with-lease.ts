/**
 * "Run with a lease": run `fn` on the leased connection, destroy the connection when `fn` failed
 * with a connection fault, give it back otherwise. The SQL and Redis clients' per-call paths go
 * through here, so the rule is written once. The core's `withLease(pool, fn)` is the same rule
 * with the acquire included; the adapters start from a lease they already hold (the SQL router
 * picked the pool and may have moved a read to the primary, the Redis client re-acquires
 * connections found closed) and may hand back through their own `giveBack`, so they share this
 * half of it.
 */
import type { ErrorClass } from "../../core/options.ts";

/** What the primitive needs of a lease: the core's `Lease` is one. */
export interface RunnableLease<C> {
	readonly resource: C;
	release(): void;
	destroy(error?: unknown): void;
}

/**
 * Runs `fn(lease.resource)`; `giveBack` (default `lease.release()`) returns the connection after a
 * success or a caller's error, `lease.destroy(error)` closes it after a connection fault.
 */
export async function runWithLease<C, R>(
	lease: RunnableLease<C>,
	fn: (resource: C) => R | Promise<R>,
	classify: (error: unknown) => ErrorClass,
	giveBack: (lease: RunnableLease<C>) => void = (l) => l.release(),
): Promise<R> {
	let result: R;
	try {
		result = await fn(lease.resource);
	} catch (error) {
		if (classify(error) === "connection") lease.destroy(error);
		else giveBack(lease);
		throw error;
	}
	giveBack(lease);
	return result;
}
