/**
 * Leases only connections whose socket is still open. A connection can die between two borrows
 * without its 'close' having been handled yet (the pool validates with PING only after
 * `validateAfterIdleMs` idle); this check costs nothing and spares the caller a CONNECTION_LOST
 * for a command that would never even have been sent.
 */
import { performance } from "node:perf_hooks";
import type { Redis } from "ioredis";
import type { Lease } from "../../core/lease.ts";
import type { AcquireOptions, Pool } from "../../core/pool.ts";
import type { RunOnLeaseOptions } from "../../core/with-lease.ts";
import { isConnectionFault } from "./faults.ts";

export function isOpen(redis: Redis): boolean {
	return redis.status === "ready" && (redis.stream as Redis["stream"] | undefined)?.writable === true;
}

/** `pool.acquire`, destroying and replacing connections found closed, within the one deadline. */
export async function acquireOpen(pool: Pool<Redis>, options?: AcquireOptions): Promise<Lease<Redis>> {
	const deadline = performance.now() + (options?.timeoutMs ?? pool.options.acquireTimeoutMs);
	let lease = await pool.acquire(options);
	while (!isOpen(lease.resource)) {
		lease.destroy(new Error(`the connection was ${lease.resource.status} when leased`));
		lease = await pool.acquire({ ...options, timeoutMs: Math.max(0, deadline - performance.now()) });
	}
	return lease;
}

/**
 * How the dedicated paths (client and cluster) end a lease with the core's runOnLease: destroyed
 * after a connection fault, released otherwise. The predicate is the pool's classifyError, passed
 * directly so that a fault is not counted on the connection a second time before its destroy.
 */
export const DEDICATED: RunOnLeaseOptions<Redis> = { isConnectionFault };
