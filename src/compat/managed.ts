/**
 * What the SQL drop-ins (compat/pg, compat/mysql2) are as ManagedClients, so that the manager,
 * metrics and health endpoints read them like any lifeguard client: named after their core
 * pool, which is their one `primary` pool, with nothing to warm (pg-pool and mysql2 open
 * connections on demand, and so do the drop-ins).
 */
import { EventEmitter } from "node:events";
import type { CloseOptions, Pool as CorePool } from "../core/pool.ts";
import type { ClientKind, ClientPool, ManagedClient } from "../manager/client.ts";

export abstract class ManagedCompatPool<T> extends EventEmitter implements ManagedClient {
	/** The lifeguard pool underneath: `stats()`, `health()`, CMAP events, `PoolManager.add()`. */
	abstract readonly core: CorePool<T>;
	abstract readonly kind: ClientKind;
	/** `end()` with a deadline (each drop-in says what happens to checked-out connections). */
	abstract close(options?: CloseOptions): Promise<void>;

	constructor() {
		// As the drivers' pools: a listener's rejected promise is not turned into an 'error' event.
		super({ captureRejections: false });
	}

	/** The pool's name (the `name` option, else the core's `pool-<n>`). */
	get name(): string {
		return this.core.name;
	}

	pools(): ClientPool[] {
		return [{ label: "primary", pool: this.core }];
	}

	/** Connections open on demand, as with the driver's pool: there is nothing to warm. */
	start(): Promise<void> {
		return Promise.resolve();
	}

	/** `await using pool = …` closes it at scope exit. */
	[Symbol.asyncDispose](): Promise<void> {
		return this.close();
	}
}
