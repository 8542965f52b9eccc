/**
 * How to reach one PostgreSQL server: a URL, an object, or both (the object's fields win).
 * Parsed here, once, so that no error ever echoes a password: pg and the URL parser are never
 * handed a string that could end up in a message.
 */
import type { ConnectionOptions } from "node:tls";
import { ConfigError, type ConfigProblem } from "../../core/errors.ts";
import { quoteValue } from "../../core/quote-value.ts";
import { parseConnectionUrl, urlEndpoint } from "../kit/connection-url.ts";

/** A password, or a function called for every new connection (rotating credentials, IAM tokens). */
export type PasswordSource = string | (() => string | Promise<string>);

export interface PostgresServerOptions {
	/** `postgres://user:password@host:port/database?sslmode=require&application_name=app`. Fields given beside it win. */
	url?: string;
	/** Host name, IP, or a Unix socket directory (`/var/run/postgresql`). Default: pg's (PGHOST, else localhost). */
	host?: string;
	port?: number;
	user?: string;
	/** Called for every new connection when a function. */
	password?: PasswordSource;
	database?: string;
	/** TLS: `true`, or Node's `tls.connect` options (ca, cert, key, rejectUnauthorized, servername…), passed to pg as is. */
	ssl?: boolean | ConnectionOptions;
	/**
	 * libpq's `sslmode` (also read from the URL); `ssl` wins when both are given. `prefer` tries TLS
	 * and falls back to a plain connection only when the server says it has no TLS (as libpq does);
	 * `require` encrypts without checking the certificate; `verify-ca` checks the certificate chain
	 * but not the host name; `verify-full` checks both.
	 */
	sslmode?: SslMode;
	/** Shown in pg_stat_activity. Default `lifeguard`. */
	applicationName?: string;
	/**
	 * Server settings sent in the startup packet (`search_path`, `TimeZone`, `statement_timeout`…):
	 * no extra round trip, and they are the session defaults, so they survive DISCARD ALL.
	 */
	sessionParameters?: Record<string, string>;
	/** TCP keepalive on the socket. Default true. */
	keepAlive?: boolean;
}

export type SslMode = "disable" | "allow" | "prefer" | "require" | "verify-ca" | "verify-full";

/** A server given as a URL string or as options. */
export type PostgresServer = string | PostgresServerOptions;

/** A server with its URL folded in; what the driver connects with. */
export interface ResolvedServer {
	host: string | undefined;
	port: number | undefined;
	user: string | undefined;
	password: PasswordSource | undefined;
	database: string | undefined;
	ssl: boolean | ConnectionOptions | undefined;
	/** `prefer`: try `ssl`, and connect without TLS when the server has none. */
	sslFallback: boolean;
	applicationName: string;
	/** The startup `options` string (`-c name=value …`), or undefined. */
	startupOptions: string | undefined;
	keepAlive: boolean;
}

const DEFAULT_APPLICATION_NAME = "lifeguard";

/** Every field of {@link PostgresServerOptions}: an object, so that `satisfies` fails the build when the type gains a field not listed. */
const SERVER_KEYS = {
	url: true,
	host: true,
	port: true,
	user: true,
	password: true,
	database: true,
	ssl: true,
	sslmode: true,
	applicationName: true,
	sessionParameters: true,
	keepAlive: true,
} as const satisfies Record<keyof PostgresServerOptions, true>;

/** pg and libpq spellings users copy, with the field that takes their place. */
const FIELD_HINTS: Record<string, string> = {
	connectionString: "url",
	hostname: "host",
	username: "user",
	dbname: "database",
	application_name: "applicationName",
	connectionTimeoutMillis: "the pool's createTimeoutMs",
	connect_timeout: "the pool's createTimeoutMs",
	statement_timeout: "statementTimeoutMs (or sessionParameters.statement_timeout)",
	options: "sessionParameters",
};

/** libpq URL parameters that other options of lifeguard cover: refused with where their setting goes. */
const URL_PARAMETER_HINTS: Record<string, string> = {
	connect_timeout: "set the pool's createTimeoutMs (milliseconds) instead: it bounds the whole connect, TLS and authentication included",
	sslrootcert: "pass ssl: { ca } (the certificate's contents) in the server options",
	sslcert: "pass ssl: { cert } in the server options",
	sslkey: "pass ssl: { key } in the server options",
	target_session_attrs: "give replicas in `replicas`; lifeguard routes reads itself",
	keepalives: "set keepAlive in the server options",
	password: "put the password in the URL's user info (percent-encoded) or the password field",
};

/** Checks and resolves one server's options; `path` names it in errors (`primary`, `replicas[0]`). */
export function resolveServer(server: PostgresServer, path: string): ResolvedServer {
	const options: PostgresServerOptions = typeof server === "string" ? { url: server } : server;
	if (options === null || typeof options !== "object") {
		throw new ConfigError("createPostgresClient", [{ path, message: "expected a postgres:// URL or an object with host, user, database…" }]);
	}
	const problems: ConfigProblem[] = [];
	for (const key of Object.keys(options)) {
		if (key in SERVER_KEYS) continue;
		const hint = FIELD_HINTS[key];
		problems.push({
			path: `${path}.${key}`,
			message: `unknown field${hint === undefined ? "" : `; use ${hint}`}; known: ${Object.keys(SERVER_KEYS).join(", ")}`,
		});
	}
	const fromUrl = options.url === undefined ? {} : parseUrl(options.url, `${path}.url`, problems);
	const port = options.port ?? fromUrl.port;
	if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65_535))
		problems.push({ path: `${path}.port`, message: `must be 1-65535, got ${port}` });
	if (options.password !== undefined && typeof options.password !== "string" && typeof options.password !== "function") {
		problems.push({ path: `${path}.password`, message: "must be a string or a function returning one (its value is never shown)" });
	}
	const parameters = { ...fromUrl.sessionParameters, ...options.sessionParameters };
	for (const name of Object.keys(parameters)) {
		if (!/^[A-Za-z_][A-Za-z0-9_.]*$/.test(name)) problems.push({ path: `${path}.sessionParameters`, message: `${JSON.stringify(name)} is not a setting name` });
	}
	let tls: { ssl: boolean | ConnectionOptions | undefined; fallback: boolean } = { ssl: fromUrl.ssl, fallback: fromUrl.sslFallback ?? false };
	if (options.sslmode !== undefined) {
		const mode = sslFromMode(options.sslmode);
		if (mode === null) problems.push({ path: `${path}.sslmode`, message: `must be one of ${SSL_MODES}, got ${quoteValue(options.sslmode)}` });
		else tls = mode;
	}
	if (options.ssl !== undefined) tls = { ssl: options.ssl, fallback: false };
	if (problems.length > 0) throw new ConfigError("createPostgresClient", problems);
	return {
		host: options.host ?? fromUrl.host,
		port,
		user: options.user ?? fromUrl.user,
		password: options.password ?? fromUrl.password,
		database: options.database ?? fromUrl.database,
		ssl: tls.ssl,
		sslFallback: tls.fallback,
		applicationName: options.applicationName ?? fromUrl.applicationName ?? DEFAULT_APPLICATION_NAME,
		startupOptions: startupOptions(parameters),
		keepAlive: options.keepAlive ?? true,
	};
}

type UrlFields = Partial<Omit<ResolvedServer, "startupOptions" | "keepAlive" | "applicationName" | "sslFallback">> & { sslFallback?: boolean } & {
	applicationName?: string;
	sessionParameters?: Record<string, string>;
};

/** Stands in for an empty host (`postgres://user@/db?host=/socket/dir`), which libpq accepts and WHATWG URL does not. */
const NO_HOST = "lifeguard.no-host.invalid";

function parseUrl(url: string, path: string, problems: ConfigProblem[]): UrlFields {
	const read = parseConnectionUrl(String(url).replace(/^([^:/?#]+:\/\/[^/?#]*@)(?=[/?#]|$)/, `$1${NO_HOST}`));
	if (read.problem !== undefined) {
		problems.push({ path, message: `${read.problem}; expected postgres://user:password@host:port/database` });
		return {};
	}
	const parsed = read.url;
	if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:") {
		problems.push({ path, message: `must start with postgres:// or postgresql://, got ${JSON.stringify(parsed.protocol)}` });
		return {};
	}
	const fields: UrlFields = {};
	const { host, port, database } = urlEndpoint(parsed);
	if (host !== undefined && host !== NO_HOST) fields.host = host;
	if (port !== undefined) fields.port = port;
	if (read.username !== undefined) fields.user = read.username;
	if (read.password !== undefined) fields.password = read.password;
	if (database !== undefined) fields.database = database;
	for (const [key, value] of parsed.searchParams) {
		if (key === "host") fields.host = value;
		else if (key === "port") fields.port = Number(value);
		else if (key === "user") fields.user = value;
		else if (key === "dbname") fields.database = value;
		else if (key === "application_name") fields.applicationName = value;
		else if (key === "sslmode") {
			const mode = sslFromMode(value);
			if (mode === null) problems.push({ path, message: `unknown sslmode ${JSON.stringify(value)} (${SSL_MODES})` });
			else {
				fields.ssl = mode.ssl;
				fields.sslFallback = mode.fallback;
			}
		} else if (key === "options") {
			// The libpq form: options=-c search_path=app -c TimeZone=UTC
			for (const match of value.matchAll(/-c\s*([A-Za-z_][A-Za-z0-9_.]*)=(\S+)/g)) {
				fields.sessionParameters ??= {};
				fields.sessionParameters[match[1]] = match[2];
			}
		} else {
			const hint = URL_PARAMETER_HINTS[key];
			problems.push({
				path,
				message: `unsupported URL parameter ${JSON.stringify(key)}${hint === undefined ? " (supported: host, port, user, dbname, application_name, sslmode, options)" : `: ${hint}`}`,
			});
		}
	}
	return fields;
}

const SSL_MODES = "disable, allow, prefer, require, verify-ca, verify-full";

/**
 * libpq's sslmode as pg's `ssl` option, and whether a server without TLS is still accepted; null
 * when unknown. `allow` (plain first, TLS if the server insists) connects plain: pg cannot retry the
 * other way round, and a server that insists refuses the plain attempt with a clear error.
 */
function sslFromMode(mode: string): { ssl: boolean | ConnectionOptions; fallback: boolean } | null {
	switch (mode) {
		case "disable":
		case "allow":
			return { ssl: false, fallback: false };
		case "prefer":
			// Encryption when the server offers it, as libpq: the certificate is not checked (prefer is no authentication).
			return { ssl: { rejectUnauthorized: false }, fallback: true };
		case "require":
			return { ssl: { rejectUnauthorized: false }, fallback: false };
		case "verify-ca":
			// The chain is checked, the host name is not: what verify-ca means in libpq.
			return { ssl: { rejectUnauthorized: true, checkServerIdentity: () => undefined }, fallback: false };
		case "verify-full":
			return { ssl: { rejectUnauthorized: true }, fallback: false };
		default:
			return null;
	}
}

/** `-c name=value` pairs, with spaces and backslashes escaped as the server's options parser expects. */
function startupOptions(parameters: Record<string, string>): string | undefined {
	const pairs = Object.entries(parameters).map(([name, value]) => `-c ${name}=${String(value).replace(/[\\\s]/g, (c) => `\\${c}`)}`);
	return pairs.length === 0 ? undefined : pairs.join(" ");
}
