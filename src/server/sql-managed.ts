/**
 * A SQL client seen as a `ManagedClient` when its adapter does not implement the interface itself:
 * its pools are read through `stats()`. Clients that do implement it are used as they are.
 */
import type { SqlClient } from "../adapters/sql/types.ts";
import type { PoolStats } from "../core/stats.ts";
import type { ClientKind, ClientPool, ManagedClient } from "../manager/client.ts";
import { HttpError, ServiceErrorCode } from "./http-errors.ts";

export function managedSql(name: string, kind: ClientKind, client: SqlClient): ManagedClient {
	const own = client as SqlClient & Partial<ManagedClient>;
	if (typeof own.pools === "function" && typeof own.start === "function") return own as unknown as ManagedClient;
	const unsupported = () => {
		throw new HttpError(501, ServiceErrorCode.NOT_SUPPORTED, `pool "${name}": this SQL client does not expose its pools for this action`);
	};
	const view = (label: string, read: () => PoolStats): ClientPool => ({ label, pool: { stats: read, resetStats: unsupported, clear: unsupported } });
	return {
		name,
		kind,
		pools: () => {
			const stats = client.stats();
			return [view("primary", () => client.stats().primary), ...stats.replicas.map((_, i) => view(`replica[${i}]`, () => client.stats().replicas[i]))];
		},
		details: () => {
			const stats = client.stats();
			return { dialect: client.dialect, leases: stats.leases, routed: stats.routed };
		},
		start: () => client.initialize(),
		close: (options) => client.close(options),
		[Symbol.asyncDispose]: () => client.close(),
	};
}
