import type { Lease } from "./lease.ts";
import type { AcquireOptions, Pool } from "./pool.ts";

/** How `runOnLease` decides what becomes of the connection when the work fails. */
export interface RunOnLeaseOptions<T> {
	/**
	 * Whether an error thrown by the work means the connection is broken: true destroys it, false
	 * gives it back for reuse. Default: the pool's `classifyError` (through `lease.reportError`).
	 */
	isConnectionFault?: (error: unknown, resource: T) => boolean | Promise<boolean>;
	/**
	 * For a failure that left the work running on the connection (a SQL statement whose caller's
	 * signal aborted runs until the server has answered the cancel): a promise that settles once
	 * the work has stopped, resolving with its final error, or undefined when it completed after
	 * all. The caller gets its error at once; the lease is kept until then, so nothing else runs on
	 * the connection meanwhile, and is then released or destroyed by the same rule (a classifier
	 * that throws destroys). Return undefined for an ordinary failure. Default: every failure is
	 * ordinary.
	 */
	stillRunning?: (error: unknown) => Promise<unknown> | undefined;
}

export interface WithLeaseOptions<T> extends AcquireOptions, RunOnLeaseOptions<T> {}

/**
 * The one way to run work on a borrowed connection: run `fn`, then release the lease; when `fn`
 * throws, destroy the connection if the error is a connection fault, else release it, and
 * rethrow. `withLease` (with the acquire), `Pool.use`, `ConnectionPool.execute` and the SQL and
 * Redis clients' per-call paths all end here, so that none of them can forget a release or
 * reuse a broken connection; the adapters start from a lease they acquired themselves (a router
 * picked the pool, a closed connection was skipped). The resource is read once, before `fn`
 * runs: a lease the pool ends meanwhile (reclaim, close deadline) does not turn the caller's error
 * into LEASE_INVALID, and the release after it is silent (see Lease).
 */
export async function runOnLease<T, R>(lease: Lease<T>, fn: (resource: T, lease: Lease<T>) => R | Promise<R>, options?: RunOnLeaseOptions<T>): Promise<R> {
	const resource = lease.resource;
	let result: R;
	try {
		result = await fn(resource, lease);
	} catch (error) {
		let running: Promise<unknown> | undefined;
		try {
			running = options?.stillRunning?.(error);
		} catch {
			// Whether the work still runs is unknown: the connection cannot be trusted to the next borrower.
			lease.destroy(error);
			throw error;
		}
		if (running !== undefined) {
			void running.then((late) => (late === undefined ? lease.release() : giveBackAfter(lease, late, resource, options))).catch(() => lease.destroy());
		} else await giveBackAfter(lease, error, resource, options);
		throw error;
	}
	lease.release();
	return result;
}

/**
 * After a failure: destroys the connection when the error broke it, else releases it. A classifier
 * that throws or rejects destroys (the connection's state is unknown) and never replaces the
 * caller's error, which the caller rethrows: the lease always ends here.
 */
async function giveBackAfter<T>(lease: Lease<T>, error: unknown, resource: T, options: RunOnLeaseOptions<T> | undefined): Promise<void> {
	let fault: boolean;
	try {
		fault = options?.isConnectionFault === undefined ? lease.reportError(error) === "connection" : await options.isConnectionFault(error, resource);
	} catch {
		fault = true;
	}
	if (fault) lease.destroy(error);
	else lease.release();
}

/** Acquires a lease from `pool` (with `options`), then {@link runOnLease}. */
export async function withLease<T, R>(pool: Pool<T>, fn: (resource: T, lease: Lease<T>) => R | Promise<R>, options?: WithLeaseOptions<T>): Promise<R> {
	return runOnLease(await pool.acquire(options), fn, options);
}
