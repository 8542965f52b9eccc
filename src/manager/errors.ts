import { ErrorCode, LifeguardError } from "../core/errors.ts";

/** `create()` or `add()` with a name the manager already holds. */
export class PoolExistsError extends LifeguardError {
	readonly pool: string;
	constructor(pool: string) {
		super(ErrorCode.POOL_EXISTS, `a pool named "${pool}" is already managed; pick another name, or remove("${pool}") first`);
		this.pool = pool;
	}
}

/** `get()` or `remove()` of a name the manager does not hold; the message lists the names it does hold. */
export class PoolNotFoundError extends LifeguardError {
	readonly pool: string;
	readonly known: string[];
	/** `kind` is set when the name is managed but is a client rather than a core pool. */
	constructor(pool: string, known: string[], kind?: string) {
		const names = known.length === 0 ? "none yet" : known.map((name) => `"${name}"`).join(", ");
		super(
			ErrorCode.POOL_NOT_FOUND,
			kind === undefined
				? `no pool named "${pool}" is managed (known pools: ${names}); create it with create("${pool}", options) or add(pool)`
				: `"${pool}" is a ${kind} client, not a core pool: use client("${pool}") to get it`,
		);
		this.pool = pool;
		this.known = known;
	}
}

/** `create()` or `add()` after the manager was closed. */
export class ManagerClosedError extends LifeguardError {
	constructor(pool: string) {
		super(ErrorCode.POOL_CLOSED, `cannot add pool "${pool}": the pool manager is closed (close() was called or a shutdown signal arrived)`);
	}
}
