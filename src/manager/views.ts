import { KeyedPool } from "../core/keyed-pool.ts";
import { type CloseOptions, Pool } from "../core/pool.ts";
import { ClientKind, type ClientPool, type ManagedClient } from "./client.ts";

/** Anything `PoolManager.add()` takes: a core pool, a keyed pool, or a client an adapter returned. */
export type Manageable = Pool<unknown> | KeyedPool<unknown, unknown> | ManagedClient;

/** True for objects that implement `ManagedClient` (checked by shape: clients come from many modules). */
export function isManagedClient(value: unknown): value is ManagedClient {
	if (value === null || typeof value !== "object") return false;
	const c = value as Partial<ManagedClient>;
	return typeof c.name === "string" && typeof c.kind === "string" && typeof c.pools === "function" && typeof c.close === "function";
}

/**
 * The `ManagedClient` view of a core pool: one pool labelled with its own name, so that
 * metrics and reports name it exactly as before (`pool="orders"`).
 */
export function poolClient(pool: Pool<unknown>): ManagedClient {
	const pools: ClientPool[] = [{ label: pool.name, pool }];
	return {
		name: pool.name,
		kind: ClientKind.pool,
		pools: () => pools,
		details: () => ({ options: describeOptions(pool.options) }),
		start: () => pool.start(),
		close: (options?: CloseOptions) => pool.close(options),
		[Symbol.asyncDispose]: () => pool.close(),
	};
}

/**
 * The `ManagedClient` view of a keyed pool: one pool per live key, labelled with the key as the
 * keyed pool names it (`<name>[<key>]` is the per-key pool's own name).
 */
export function keyedClient(keyed: KeyedPool<unknown, unknown>): ManagedClient {
	const prefix = `${keyed.name}[`;
	return {
		name: keyed.name,
		kind: ClientKind.keyed,
		pools: () =>
			keyed.keys().map((key) => {
				const pool = keyed.pool(key);
				const label = pool.name.startsWith(prefix) && pool.name.endsWith("]") ? pool.name.slice(prefix.length, -1) : pool.name;
				return { label, pool };
			}),
		details: () => ({ maxTotal: keyed.maxTotal, total: keyed.size, pending: keyed.pendingCount }),
		// Keys are opened on first use: there is nothing to warm before a key is known.
		start: async () => {},
		close: (options?: CloseOptions) => keyed.close(options),
		[Symbol.asyncDispose]: () => keyed.close(),
	};
}

/** The client view of anything the manager takes; a `ManagedClient` is its own view. */
export function toManagedClient(value: Manageable): ManagedClient {
	if (value instanceof Pool) return poolClient(value);
	if (value instanceof KeyedPool) return keyedClient(value);
	if (isManagedClient(value)) return value;
	throw new TypeError("PoolManager.add() takes a Pool, a KeyedPool or a ManagedClient (an object with name, kind, pools(), start() and close())");
}

/**
 * The id of one pool of a client in flat reports and metrics: the client's name when the pool
 * carries it as its label (a bare pool), `<client>/<label>` otherwise (`db/primary`, `db/replica[0]`).
 */
export function poolId(client: ManagedClient, label: string): string {
	return label === client.name ? client.name : `${client.name}/${label}`;
}

/** The options without functions or secrets-bearing objects, for the admin API. */
function describeOptions(options: object): Record<string, unknown> {
	return Object.fromEntries(Object.entries(options).filter(([, v]) => typeof v === "number" || typeof v === "boolean" || typeof v === "string"));
}
