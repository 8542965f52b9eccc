/**
 * `lifeguard/sqlite`: the embedded SQL client, on Node's built-in node:sqlite (no native addon, no
 * server). Each pooled connection's database runs in its own host (a child process by default), so
 * statements never block the event loop and a statement timeout really stops the statement.
 * See docs/adapters/sqlite.md; the contract shared with PostgreSQL and MySQL is docs/adapters/sql.md.
 */
import { ConfigError, type ConfigProblem } from "../../core/errors.ts";
import { createSqlClient, SQL_CLIENT_OPTION_KEYS } from "../sql/client.ts";
import type { SqlClient, SqlClientOptions } from "../sql/types.ts";
import { isPrivateDatabase, resolveSqliteConfig, SQLITE_DEFAULTS, type SqliteConfig } from "./config.ts";
import { sqliteDriver } from "./driver.ts";

export * from "../sql/errors.ts";
export type * from "../sql/types.ts";
export { type ResolvedSqliteConfig, resolveSqliteConfig, SQLITE_DEFAULTS, SQLITE_JOURNAL_MODES, type SqliteConfig, type SqliteJournalMode } from "./config.ts";
export { SqliteConnection } from "./connection.ts";
export { sqliteDriver } from "./driver.ts";
export type { SqliteError } from "./errors.ts";
export { isConnectionFault, isConnectionFault as isSqliteConnectionFault } from "./faults.ts";
export type { HostKind as SqliteHostKind } from "./host.ts";

/** Most connections to a file database unless `pool.max` says otherwise: each is a process, and SQLite writes one at a time anyway. */
export const SQLITE_FILE_MAX_CONNECTIONS = 4;

/** A private database (`:memory:`, `""`) lives in its one connection: the pool keeps exactly that one, for the client's whole life. */
const PRIVATE_DATABASE_POOL = { max: 1, min: 1, maxLifetimeMs: 0 } as const;

/**
 * The SQL client's options that a SQLite client does not take: the database is given by the
 * {@link SqliteConfig} options themselves, and there are no replicas to route to.
 */
const SERVER_OPTIONS = ["primary", "replicas", "replicaSelection", "readYourWritesMs"] as const satisfies readonly (keyof SqlClientOptions<unknown>)[];

/** The SQL client's options a SQLite client passes on as they are: every other one, including options added to the SQL client later. */
const CLIENT_OPTIONS: ReadonlySet<string> = new Set(SQL_CLIENT_OPTION_KEYS.filter((key) => !(SERVER_OPTIONS as readonly string[]).includes(key)));

/**
 * The database (see {@link SqliteConfig}) and the SQL client's options. There are no replicas:
 * with WAL, every connection of the pool reads concurrently, and they see each other's commits at once.
 */
export interface SqliteClientOptions extends SqliteConfig, Omit<SqlClientOptions<SqliteConfig>, (typeof SERVER_OPTIONS)[number]> {}

/**
 * Creates a SQLite client. Nothing opens until the first statement or `start()`.
 *
 * Defaults: `:memory:` (one connection, the database lives as long as the client); a file database
 * gets WAL, a 5 s busy timeout and up to {@link SQLITE_FILE_MAX_CONNECTIONS} connections.
 *
 * @example
 * const db = createSqliteClient({ filename: "data/app.db" });
 * await db.query("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT)", [], { fetch: "none" });
 * const note = await db.query("SELECT * FROM notes WHERE id = ?", [1], { fetch: "one" });
 */
export function createSqliteClient(options: SqliteClientOptions = {}): SqlClient {
	const { client, config } = splitOptions(options);
	const { pool } = client;
	const problems: ConfigProblem[] = [];
	try {
		resolveSqliteConfig(config);
	} catch (error) {
		if (!(error instanceof ConfigError)) throw error;
		problems.push(...error.problems);
	}
	const filename = config.filename ?? SQLITE_DEFAULTS.filename;
	const poolOptions = { ...pool };
	if (typeof filename === "string" && isPrivateDatabase(filename)) {
		for (const [key, required] of Object.entries(PRIVATE_DATABASE_POOL) as [keyof typeof PRIVATE_DATABASE_POOL, number][]) {
			const value = pool?.[key];
			if (value !== undefined && value !== required) {
				problems.push({
					path: `pool.${key}`,
					message: `must be ${required} (or unset) for a ${JSON.stringify(filename)} database, which exists only inside its one connection; use a file for more connections`,
				});
			}
		}
		Object.assign(poolOptions, PRIVATE_DATABASE_POOL);
	} else {
		poolOptions.max ??= SQLITE_FILE_MAX_CONNECTIONS;
	}
	if (problems.length > 0) throw new ConfigError("createSqliteClient", problems);
	return createSqlClient(sqliteDriver, { ...client, primary: config, pool: poolOptions });
}

/**
 * The SQL client's options, and the database's: everything else, server options included (SQLite
 * takes none, and the database's check reports them as unknown).
 */
function splitOptions(options: SqliteClientOptions): { client: Omit<SqlClientOptions<SqliteConfig>, "primary">; config: SqliteConfig } {
	const client: Record<string, unknown> = {};
	const config: Record<string, unknown> = {};
	for (const [key, value] of Object.entries(options)) (CLIENT_OPTIONS.has(key) ? client : config)[key] = value;
	return { client: client as Omit<SqlClientOptions<SqliteConfig>, "primary">, config: config as SqliteConfig };
}
