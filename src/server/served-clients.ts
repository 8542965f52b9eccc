/**
 * The clients one service fronts: a `PoolManager` (stats, health, readiness, shutdown for every
 * client), plus the SQL clients by name for the SQL endpoints.
 */
import { LlmClient } from "../adapters/llm/client.ts";
import type { SqlClient, SqlClientStats } from "../adapters/sql/types.ts";
import type { ManagedClient } from "../manager/client.ts";
import { type ManagedPool, PoolManager } from "../manager/manager.ts";
import { HttpError, ServiceErrorCode } from "./http-errors.ts";
import { isSqlClient } from "./sql-client-check.ts";

export class ServedClients {
	readonly manager: PoolManager;
	readonly #sql = new Map<string, SqlClient>();
	readonly #llm: LlmClient[] = [];

	/** `adopt`: serve the SQL and LLM clients the manager already holds (a manager built by lifeguard/config's createPools). */
	constructor(manager = new PoolManager(), options?: { adopt?: boolean }) {
		this.manager = manager;
		if (options?.adopt !== true) return;
		for (const name of manager.list()) {
			const client = manager.client<unknown>(name);
			if (client instanceof LlmClient) this.#llm.push(client);
			else if (isSqlClient(client)) this.#sql.set(client.name, client);
		}
	}

	add(client: ManagedClient): void {
		this.manager.add(client);
	}

	/** A SQL client, also served at /api/v1/pools/{its name}/…. */
	addSql(client: SqlClient): void {
		this.manager.add(client);
		this.#sql.set(client.name, client);
	}

	/** An LLM client, served through the gateway (/v1/…). */
	addLlm(client: LlmClient): void {
		this.manager.add(client);
		this.#llm.push(client);
	}

	llms(): LlmClient[] {
		return this.#llm;
	}

	list(): ManagedClient[] {
		return this.manager.clients();
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

	/** The SQL client `name`'s own statistics (connection-id leases, routing), or undefined when it is not a SQL client. */
	sqlStats(name: string): SqlClientStats | undefined {
		return this.#sql.get(name)?.stats();
	}

	/** Every pool of every client (`id` is the manager's: `embedded/primary`). */
	pools(): ManagedPool[] {
		return this.manager.managedPools();
	}

	async start(): Promise<void> {
		await this.manager.start();
	}

	/** Closes every client under one deadline. */
	async close(timeoutMs: number): Promise<void> {
		await this.manager.close({ timeoutMs });
	}
}
