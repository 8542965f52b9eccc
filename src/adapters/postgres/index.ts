/**
 * `lifeguard/postgres`: a pooled PostgreSQL client (primary + read replicas) on node-postgres.
 * See docs/adapters/postgres.md; the contract shared with MySQL and SQLite is docs/adapters/sql.md.
 */
import { ConfigError } from "../../core/errors.ts";
import { createSqlClient } from "../sql/client.ts";
import type { SqlClient, SqlClientOptions } from "../sql/types.ts";
import { type PostgresServer, resolveServer } from "./config.ts";
import { PostgresDriver } from "./driver.ts";

/** A URL with its credentials replaced by `***`, safe for logs (also when the password holds an unencoded `/`, `?`, `#` or `@`). */
export { redactUrlCredentials as redactUrl } from "../kit/connection-url.ts";
export * from "../sql/errors.ts";
export type * from "../sql/types.ts";
export type { PasswordSource, PostgresServer, PostgresServerOptions } from "./config.ts";
export { isConnectionFault } from "./faults.ts";

export interface PostgresClientOptions extends SqlClientOptions<PostgresServer> {
	/**
	 * What happens to a released connection. `rollback` (default): a transaction left open is rolled
	 * back; nothing else is sent. `discard`: also DISCARD ALL (drops temp tables, prepared
	 * statements, LISTENs and SET values; one round trip per release — use `sessionParameters`
	 * for settings that must survive it).
	 */
	reset?: "rollback" | "discard";
}

/**
 * Creates a PostgreSQL client. Nothing connects until the first statement or `start()`.
 *
 * @example
 * const db = createPostgresClient({ primary: "postgres://app@db:5432/app", pool: { max: 10 } });
 * const user = await db.query("SELECT * FROM users WHERE id = $1", [id], { fetch: "one" });
 */
export function createPostgresClient(options: PostgresClientOptions): SqlClient {
	const { reset, ...common } = options;
	if (reset !== undefined && reset !== "rollback" && reset !== "discard") {
		throw new ConfigError("createPostgresClient", [{ path: "reset", message: `must be "rollback" or "discard", got ${JSON.stringify(reset)}` }]);
	}
	if (reset === "discard" && options.afterCreate !== undefined) {
		// DISCARD ALL would silently undo afterCreate's setup at the first release.
		throw new ConfigError("createPostgresClient", [
			{
				path: "afterCreate",
				message:
					'reset: "discard" undoes what afterCreate sets up at every release; put settings in the servers\' sessionParameters instead (they survive DISCARD ALL)',
			},
		]);
	}
	const driver = new PostgresDriver({ discardOnRelease: reset === "discard" });
	return createSqlClient(driver, {
		...common,
		primary: resolveServer(options.primary, "primary"),
		replicas: options.replicas?.map((server, i) => resolveServer(server, `replicas[${i}]`)),
	});
}
