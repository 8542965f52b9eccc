/**
 * `mysql2/promise`'s `createPool` on the lifeguard core: change `from "mysql2/promise"` to
 * `from "lifeguard/compat/mysql2/promise"` and keep your code. The pool is mysql2's own
 * `PromisePool` around the callback drop-in of `lifeguard/compat/mysql2` (see
 * docs/compat-mysql2.md), with `core` for the lifeguard pool underneath.
 */
import type { PoolConnection } from "mysql2";
import type { Pool as PromisePool } from "mysql2/promise";
import type { Pool as CorePool } from "../core/pool.ts";
import { createPool as createCallbackPool, type PoolOptions } from "./mysql2.ts";

export type { PoolOptions } from "./mysql2.ts";

/** What `createPool` returns: mysql2's `PromisePool`, plus `core`. */
export type CompatPromisePool = PromisePool & {
	/** The lifeguard pool underneath: `stats()`, `health()`, CMAP events, `PoolManager.add()`. */
	readonly core: CorePool<PoolConnection>;
};

/** Creates a promise pool with mysql2's API on the lifeguard core, as `mysql2/promise`'s `createPool`. */
export function createPool(options: PoolOptions | string): CompatPromisePool {
	const pool = createCallbackPool(options);
	const promisePool = pool.promise() as CompatPromisePool;
	Object.defineProperty(promisePool, "core", { value: pool.core, enumerable: false });
	return promisePool;
}

export default { createPool };
