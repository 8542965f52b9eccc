/**
 * The clients one service fronts: every one as a `ManagedClient` (what stats, admin, health and
 * the dashboard read), and the SQL clients also by name for the SQL endpoints.
 */
import type { SqlClient } from "../adapters/sql/types.ts";
import type { ClientPool, ManagedClient } from "../manager/client.ts";
import { HttpError, ServiceErrorCode } from "./http-errors.ts";

export class ServedClients {
	readonly #clients = new Map<string, ManagedClient>();
	readonly #sql = new Map<string, SqlClient>();

	add(client: ManagedClient): void {
		if (this.#clients.has(client.name)) throw new Error(`two clients are named "${client.name}"`);
		this.#clients.set(client.name, client);
	}

	/** A SQL client, also served at /api/v1/pools/{its name}/…. */
	addSql(client: SqlClient): void {
		this.add(client);
		this.#sql.set(client.name, client);
	}

	list(): ManagedClient[] {
		return [...this.#clients.values()];
	}

	get(name: string): ManagedClient | undefined {
		return this.#clients.get(name);
	}

	/** The SQL client `name`, or a 404 listing the SQL pools there are. */
	sql(name: string): SqlClient {
		const client = this.#sql.get(name);
		if (client === undefined) {
			const known = [...this.#sql.keys()];
			throw new HttpError(
				404,
				ServiceErrorCode.NOT_FOUND,
				`no SQL pool named ${JSON.stringify(name)}; ${known.length === 0 ? "this service has none" : `known: ${known.join(", ")}`}`,
			);
		}
		return client;
	}

	sqlNames(): string[] {
		return [...this.#sql.keys()];
	}

	/** Every pool of every client, with its client; `name` is the pool's own name (its statistics' `name`). */
	pools(): { client: ManagedClient; entry: ClientPool; name: string }[] {
		const all: { client: ManagedClient; entry: ClientPool; name: string }[] = [];
		for (const client of this.#clients.values()) {
			for (const entry of client.pools()) all.push({ client, entry, name: entry.pool.stats().name });
		}
		return all;
	}

	async start(): Promise<void> {
		await Promise.all(this.list().map((client) => client.start()));
	}

	/** Closes every client under one deadline; a client that fails to close does not keep the others open. */
	async close(timeoutMs: number): Promise<void> {
		await Promise.allSettled(this.list().map((client) => client.close({ timeoutMs })));
	}
}
