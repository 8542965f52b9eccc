import type { Lease } from "./lease.ts";
import type { AcquireOptions, Pool } from "./pool.ts";

export interface WithLeaseOptions<T> extends AcquireOptions {
	/**
	 * Whether an error thrown by the work means the connection is broken: true destroys it, false
	 * gives it back for reuse. Default: the pool's `classifyError` (through `lease.reportError`).
	 */
	isConnectionFault?: (error: unknown, resource: T) => boolean | Promise<boolean>;
}

/**
 * The one way to run work on a borrowed connection: acquire, run `fn`, then release; when `fn`
 * throws, destroy the connection if the error is a connection fault, else release it, and
 * rethrow. Adapters build their query/command paths on this so that none of them can forget a
 * release or reuse a broken connection. The resource is read once, before `fn` runs: a lease the
 * pool ends meanwhile (reclaim, close deadline) does not turn the caller's error into LEASE_INVALID.
 */
export async function withLease<T, R>(pool: Pool<T>, fn: (resource: T, lease: Lease<T>) => R | Promise<R>, options?: WithLeaseOptions<T>): Promise<R> {
	const lease = await pool.acquire(options);
	const resource = lease.resource;
	let result: R;
	try {
		result = await fn(resource, lease);
	} catch (error) {
		const fault = options?.isConnectionFault === undefined ? lease.reportError(error) === "connection" : await options.isConnectionFault(error, resource);
		if (fault) lease.destroy(error);
		else lease.release();
		throw error;
	}
	lease.release();
	return result;
}
