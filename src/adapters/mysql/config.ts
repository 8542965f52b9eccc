/**
 * How to reach one MySQL/MariaDB server, checked once when the client is created, and turned
 * into mysql2 connection options for every new connection (the password may be a function,
 * called per connection, for rotating credentials and IAM tokens).
 */
import type { ConnectionOptions, SslOptions } from "mysql2";
import { ConfigError, type ConfigProblem } from "../../core/errors.ts";
import { quoteValue } from "../../core/quote-value.ts";
import { parseConnectionUrl, urlEndpoint } from "../kit/connection-url.ts";
import { callPasswordFunction } from "../kit/permanent-error.ts";

/** Session variables every connection starts with (applied after connect and after every session reset). */
export interface MysqlSessionSettings {
	/** `SET time_zone`, e.g. `'+00:00'` or `'UTC'` (named zones need the server's time zone tables). */
	timeZone?: string;
	/** `SET sql_mode`, e.g. `'STRICT_ALL_TABLES,NO_ZERO_DATE'`. */
	sqlMode?: string;
	/** Any other session variables, by name: `{ lock_wait_timeout: 5 }`. */
	variables?: Record<string, string | number | boolean | null>;
}

/** How a per-call `timeoutMs` stops the statement on the server. */
export type MysqlTimeoutMethod = "auto" | "kill";

/** mysql2 options this adapter does not own, passed through as they are. */
export type MysqlDriverOptions = Omit<
	ConnectionOptions,
	| "uri"
	| "host"
	| "port"
	| "user"
	| "password"
	| "password1"
	| "database"
	| "ssl"
	| "socketPath"
	| "connectTimeout"
	| "multipleStatements"
	| "rowsAsArray"
	| "nestTables"
	| "namedPlaceholders"
	| "queryFormat"
	| "stream"
	| "pool"
	| "isServer"
	| "debug"
>;

export interface MysqlConfig {
	/**
	 * `mysql://user:password@host:port/database` (`mariadb://` works too; user and password
	 * percent-encoded). Query parameters: `ssl` (`true`, `false` or an mysql2 SSL profile name)
	 * and `charset`. Fields given next to `url` override its parts.
	 */
	url?: string;
	/** Default `localhost`. */
	host?: string;
	/** Default 3306. */
	port?: number;
	/** Unix socket path; replaces host and port. */
	socketPath?: string;
	user?: string;
	/** A string, or a function called for every new connection (rotating secrets, IAM auth tokens). */
	password?: string | (() => string | Promise<string>);
	database?: string;
	/** TLS options as mysql2 takes them (`{ ca, rejectUnauthorized, … }`), or an mysql2 SSL profile name. */
	ssl?: string | SslOptions;
	/** Session variables set on every new connection, and again after every session reset. */
	session?: MysqlSessionSettings;
	/**
	 * On release, also clear the session with COM_RESET_CONNECTION (user variables, temporary
	 * tables, prepared statements, session variables, locks), then re-apply `session` and run the
	 * client's `afterCreate` again. One or two extra round trips per release (plus afterCreate's).
	 * Default false: only an open transaction is rolled back.
	 */
	resetSession?: boolean;
	/**
	 * `auto` (default): MariaDB stops a timed-out statement itself (`SET STATEMENT
	 * max_statement_time`); MySQL gets `MAX_EXECUTION_TIME` on SELECT and `KILL QUERY` otherwise.
	 * `kill`: always `KILL QUERY` from a second connection at the deadline.
	 */
	timeoutMethod?: MysqlTimeoutMethod;
	/** Other mysql2 options (typeCast, dateStrings, supportBigNumbers, charset, timezone, connectAttributes, …). */
	driverOptions?: MysqlDriverOptions;
}

/** A checked config: what every connection of one server is opened with. */
export interface ResolvedMysqlConfig {
	host: string;
	port: number;
	socketPath: string | undefined;
	user: string | undefined;
	password: string | (() => string | Promise<string>) | undefined;
	database: string | undefined;
	ssl: string | SslOptions | undefined;
	charset: string | undefined;
	session: MysqlSessionSettings | undefined;
	resetSession: boolean;
	timeoutMethod: MysqlTimeoutMethod;
	driverOptions: MysqlDriverOptions;
	/** `user@host:port/database`, for errors: never the password. */
	label: string;
}

const KNOWN_KEYS = new Set([
	"url",
	"host",
	"port",
	"socketPath",
	"user",
	"password",
	"database",
	"ssl",
	"session",
	"resetSession",
	"timeoutMethod",
	"driverOptions",
]);
const URL_PARAMS = new Set(["ssl", "charset"]);
const DEFAULT_PORT = 3306;

/** Checks a config and fills in the URL's parts; throws one ConfigError listing every problem, never echoing a secret. */
export function resolveMysqlConfig(config: MysqlConfig | string, path = "mysql"): ResolvedMysqlConfig {
	const problems: ConfigProblem[] = [];
	const given: MysqlConfig = typeof config === "string" ? { url: config } : config;
	if (given === null || typeof given !== "object") {
		throw new ConfigError(path, [{ path, message: "expected a URL string or an object like { host, user, password, database }" }]);
	}
	for (const key of Object.keys(given)) {
		if (!KNOWN_KEYS.has(key)) problems.push({ path: `${path}.${key}`, message: "unknown option (mysql2-specific options go in driverOptions)" });
	}
	const fromUrl = given.url === undefined ? {} : parseMysqlUrl(given.url, `${path}.url`, problems);
	const merged = { ...fromUrl, ...definedOnly(given) };

	const text = (key: "host" | "socketPath" | "user" | "database") => {
		const v = merged[key];
		if (v !== undefined && (typeof v !== "string" || v.length === 0)) problems.push({ path: `${path}.${key}`, message: "must be a non-empty string" });
	};
	text("host");
	text("socketPath");
	text("user");
	text("database");
	const port = merged.port ?? DEFAULT_PORT;
	if (!Number.isInteger(port) || port < 1 || port > 65535)
		problems.push({ path: `${path}.port`, message: `must be an integer from 1 to 65535, got ${quoteValue(port)}` });
	const password = merged.password;
	if (password !== undefined && typeof password !== "string" && typeof password !== "function") {
		problems.push({ path: `${path}.password`, message: `must be a string or a function returning one, got ${typeof password}` });
	}
	if (merged.ssl !== undefined && typeof merged.ssl !== "string" && (typeof merged.ssl !== "object" || merged.ssl === null)) {
		problems.push({ path: `${path}.ssl`, message: "must be mysql2 SSL options ({ ca, rejectUnauthorized, … }) or an SSL profile name" });
	}
	if (merged.resetSession !== undefined && typeof merged.resetSession !== "boolean") {
		problems.push({ path: `${path}.resetSession`, message: "must be a boolean" });
	}
	const timeoutMethod = merged.timeoutMethod ?? "auto";
	if (timeoutMethod !== "auto" && timeoutMethod !== "kill") problems.push({ path: `${path}.timeoutMethod`, message: `must be "auto" or "kill"` });
	checkSession(merged.session, `${path}.session`, problems);
	const driverOptions = merged.driverOptions ?? {};
	if (typeof driverOptions !== "object" || driverOptions === null)
		problems.push({ path: `${path}.driverOptions`, message: "must be an object of mysql2 options" });
	if (problems.length > 0) throw new ConfigError("MySQL connection config", problems);

	const host = merged.host ?? "localhost";
	const where = merged.socketPath ?? `${host}:${port}`;
	return {
		host,
		port,
		socketPath: merged.socketPath,
		user: merged.user,
		password,
		database: merged.database,
		ssl: merged.ssl,
		charset: (merged as { charset?: string }).charset,
		session: merged.session,
		resetSession: merged.resetSession ?? false,
		timeoutMethod,
		driverOptions,
		label: `${merged.user ?? "(default user)"}@${where}${merged.database === undefined ? "" : `/${merged.database}`}`,
	};
}

/** mysql2 options for one new connection; calls the password function if there is one. */
export async function connectionOptions(config: ResolvedMysqlConfig): Promise<ConnectionOptions> {
	const password = typeof config.password === "function" ? await callPasswordFunction("MySQL", config.label, config.password) : config.password;
	return {
		// BIGINT past 2^53 comes back as an exact string (mysql2 rounds it to a number by default); smaller values stay numbers.
		supportBigNumbers: true,
		...config.driverOptions,
		host: config.host,
		port: config.port,
		socketPath: config.socketPath,
		user: config.user,
		password,
		database: config.database,
		charset: config.charset ?? config.driverOptions.charset,
		// A copy: mysql2 writes rejectUnauthorized into the object it is given.
		ssl: typeof config.ssl === "object" ? { ...config.ssl } : config.ssl,
		// The pool's createTimeoutMs aborts the connect; a second timer in mysql2 would only race it.
		connectTimeout: 0,
		multipleStatements: false,
	};
}

/** The `SET SESSION …` statement for these settings, or undefined when there is nothing to set. */
export function sessionStatement(session: MysqlSessionSettings | undefined): { sql: string; params: unknown[] } | undefined {
	if (session === undefined) return undefined;
	const assignments: string[] = [];
	const params: unknown[] = [];
	const set = (name: string, value: unknown) => {
		assignments.push(`${name} = ?`);
		params.push(value);
	};
	if (session.timeZone !== undefined) set("time_zone", session.timeZone);
	if (session.sqlMode !== undefined) set("sql_mode", session.sqlMode);
	for (const [name, value] of Object.entries(session.variables ?? {})) set(name, value);
	if (assignments.length === 0) return undefined;
	return { sql: `SET SESSION ${assignments.join(", ")}`, params };
}

const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function checkSession(session: MysqlSessionSettings | undefined, path: string, problems: ConfigProblem[]): void {
	if (session === undefined) return;
	if (typeof session !== "object" || session === null) {
		problems.push({ path, message: "must be an object like { timeZone, sqlMode, variables }" });
		return;
	}
	for (const key of ["timeZone", "sqlMode"] as const) {
		if (session[key] !== undefined && typeof session[key] !== "string") problems.push({ path: `${path}.${key}`, message: "must be a string" });
	}
	for (const [name, value] of Object.entries(session.variables ?? {})) {
		// Names go into the SQL text (values are escaped parameters), so only plain identifiers pass.
		if (!VARIABLE_NAME.test(name)) problems.push({ path: `${path}.variables.${name}`, message: "not a valid variable name (letters, digits, _)" });
		if (name.toLowerCase() === "autocommit") {
			problems.push({
				path: `${path}.variables.${name}`,
				message:
					"cannot be set here: every release switches autocommit back on (left off, a caller's writes would be undone by the next release's ROLLBACK); use transaction()",
			});
		}
		if (value !== null && !["string", "number", "boolean"].includes(typeof value)) {
			problems.push({ path: `${path}.variables.${name}`, message: `must be a string, number, boolean or null, got ${typeof value}` });
		}
	}
}

function definedOnly(config: MysqlConfig): Partial<MysqlConfig> {
	return Object.fromEntries(Object.entries(config).filter(([key, value]) => value !== undefined && key !== "url")) as Partial<MysqlConfig>;
}

function parseMysqlUrl(url: unknown, path: string, problems: ConfigProblem[]): Partial<MysqlConfig> & { charset?: string } {
	// The URL may hold a password: problems describe it, never quote it.
	const shape = "expected mysql://user:password@host:port/database";
	if (typeof url !== "string") {
		problems.push({ path, message: `must be a string; ${shape}` });
		return {};
	}
	const read = parseConnectionUrl(url);
	if (read.problem !== undefined) {
		problems.push({ path, message: `${read.problem}; ${shape}` });
		return {};
	}
	const parsed = read.url;
	if (parsed.protocol !== "mysql:" && parsed.protocol !== "mariadb:") {
		problems.push({ path, message: `scheme must be mysql: or mariadb:, got ${parsed.protocol}; ${shape}` });
		return {};
	}
	const out: Partial<MysqlConfig> & { charset?: string } = {};
	const { host, port, database } = urlEndpoint(parsed);
	if (host !== undefined) out.host = host;
	if (port !== undefined) out.port = port;
	if (read.username !== undefined) out.user = read.username;
	if (read.password !== undefined) out.password = read.password;
	if (database !== undefined) out.database = database;
	for (const [key, value] of parsed.searchParams) {
		if (!URL_PARAMS.has(key)) {
			problems.push({ path: `${path}?${key}`, message: `unknown URL parameter (known: ${[...URL_PARAMS].join(", ")})` });
		} else if (key === "ssl") {
			out.ssl = value === "true" || value === "1" ? {} : value === "false" || value === "0" ? undefined : value;
		} else {
			out.charset = value;
		}
	}
	return out;
}
