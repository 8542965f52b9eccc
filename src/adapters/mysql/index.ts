/**
 * `lifeguard/mysql`: a pooled MySQL/MariaDB client (primary + read replicas) on mysql2.
 * See docs/adapters/mysql.md; the contract shared with PostgreSQL and SQLite is docs/adapters/sql.md.
 */
import { ConfigError, type ConfigProblem } from "../../core/errors.ts";
import { createSqlClient } from "../sql/client.ts";
import type { SqlClient, SqlClientOptions } from "../sql/types.ts";
import { type MysqlConfig, type ResolvedMysqlConfig, resolveMysqlConfig } from "./config.ts";
import { mysqlDriver } from "./driver.ts";

export * from "../sql/errors.ts";
export type * from "../sql/types.ts";
export type { MysqlConfig, MysqlDriverOptions, MysqlSessionSettings, MysqlTimeoutMethod, ResolvedMysqlConfig } from "./config.ts";
export { resolveMysqlConfig } from "./config.ts";
export { MysqlConnection, type ServerFlavor } from "./connection.ts";
export { mysqlDriver } from "./driver.ts";
export { MysqlErrno } from "./errno.ts";
export { isConnectionFault, isMysqlConnectionFault } from "./faults.ts";

/** A server: a `mysql://` URL or a {@link MysqlConfig}. */
export type MysqlServer = MysqlConfig | string;

export type MysqlClientOptions = SqlClientOptions<MysqlServer>;

/**
 * Creates a MySQL/MariaDB client. Nothing connects until the first statement or `start()`.
 *
 * @example
 * const db = createMysqlClient({ primary: "mysql://app@db:3306/app", pool: { max: 10 } });
 * const user = await db.query("SELECT * FROM users WHERE id = ?", [id], { fetch: "one" });
 */
export function createMysqlClient(options: MysqlClientOptions): SqlClient {
	const problems: ConfigProblem[] = [];
	const resolve = (server: MysqlServer, path: string): ResolvedMysqlConfig | undefined => {
		try {
			return resolveMysqlConfig(server, path);
		} catch (error) {
			if (!(error instanceof ConfigError)) throw error;
			problems.push(...error.problems);
			return undefined;
		}
	};
	const primary = options?.primary === undefined ? undefined : resolve(options.primary, "primary");
	const replicas = Array.isArray(options?.replicas) ? options.replicas.map((server, i) => resolve(server, `replicas[${i}]`)) : undefined;
	if (problems.length > 0) throw new ConfigError("createMysqlClient", problems);
	return createSqlClient(mysqlDriver, {
		...options,
		primary: primary as ResolvedMysqlConfig,
		replicas: replicas as ResolvedMysqlConfig[] | undefined,
	});
}
