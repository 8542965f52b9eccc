/**
 * The options of `createRedisClient`: where Redis is, how each connection is set up, and the
 * pool options passed through to the core. Every problem is reported at once, and never with
 * the value of a password or of a URL (it may hold one).
 */
import type { ConnectionOptions as TlsOptions } from "node:tls";
import type { Redis, RedisOptions } from "ioredis";
import { durationProblem } from "../../core/duration.ts";
import type { ConfigProblem } from "../../core/errors.ts";
import type { PoolOptions } from "../../core/options.ts";
import { quoteValue } from "../../core/quote-value.ts";
import { parseConnectionUrl, urlEndpoint } from "../kit/connection-url.ts";

/** A password, or a function that returns one (called for every new connection: rotating tokens, secret stores). */
export type RedisPassword = string | (() => string | Promise<string>);

/** The core pool options a Redis client passes through (`create`, `validate`, `reset`, … are the adapter's). */
export type RedisPoolOptions = Omit<
	PoolOptions<Redis>,
	"create" | "destroy" | "validate" | "afterCreate" | "reset" | "classifyError" | "ref" | "unref" | "healthCheckIntervalMs"
>;

export interface RedisClientOptions extends RedisPoolOptions {
	/** `redis://[user[:password]@]host[:port][/db]`, or `rediss://` for TLS. Explicit options below override its parts. */
	url?: string;
	/** Default `127.0.0.1`. */
	host?: string;
	/** Default 6379. */
	port?: number;
	/** Database index selected on every connection. Default 0. */
	db?: number;
	/** ACL user (Redis >= 6). */
	username?: string;
	password?: RedisPassword;
	/** TLS options, passed to `tls.connect` as they are. `rediss://` URLs imply `{}`. */
	tls?: TlsOptions;
	/** Prepended to every key by ioredis (on the connections the client creates, leased ones included). */
	keyPrefix?: string;
	/** CLIENT SETNAME for every connection, so they are easy to find in CLIENT LIST. */
	connectionName?: string;
	/** Session setup after connecting (and again after a RESET on release). A throw fails the connection. */
	afterCreate?: (redis: Redis, signal: AbortSignal) => void | Promise<void>;
	/** PING idle connections this often, so dead ones are replaced before a caller meets them. 0 disables. Default 0. */
	keepaliveMs?: number;
	/**
	 * Connections the command path (`command`, `pipeline`, `get`, …) multiplexes callers onto.
	 * Default 1: one pipelined connection carries the command path's whole load, and commands run
	 * in the order they were sent, as on a single ioredis client. With more, only commands sent
	 * in the same tick are sure to keep their order.
	 */
	sharedConnections?: number;
	/** Default `timeoutMs` of `command`/`pipeline` calls that do not block. 0 disables. Default 0. */
	commandTimeoutMs?: number;
	/**
	 * Other ioredis options (`protocol`, `stringNumbers`, `enableReadyCheck`, …). The options the
	 * pool relies on (reconnects, offline queue, lazy connect, connect timeout) cannot be set here.
	 */
	driverOptions?: RedisOptions;
	/**
	 * Find the primary through Redis Sentinel instead of `host`/`port`: every new connection asks
	 * the sentinels where `masterName`'s primary is, so after a failover the connections the pool
	 * replaces go to the new primary.
	 */
	sentinel?: RedisSentinelOptions;
}

/** Where the sentinels are and which monitored primary to use. */
export interface RedisSentinelOptions {
	/** At least one sentinel; they are asked in turn. */
	sentinels: readonly { host: string; port: number }[];
	/** The name the sentinels monitor the primary under (`sentinel monitor <name> …`). */
	masterName: string;
	/** AUTH for the sentinels themselves (the data nodes use `username`/`password`). */
	sentinelPassword?: string;
}

/** Where and how to connect, resolved. */
export interface RedisSettings {
	host: string;
	port: number;
	db: number;
	username: string | undefined;
	password: RedisPassword | undefined;
	tls: TlsOptions | undefined;
	keyPrefix: string | undefined;
	connectionName: string | undefined;
	afterCreate: ((redis: Redis, signal: AbortSignal) => void | Promise<void>) | undefined;
	sharedConnections: number;
	commandTimeoutMs: number;
	driverOptions: RedisOptions;
	sentinel: RedisSentinelOptions | undefined;
}

export const REDIS_DEFAULTS = {
	name: "redis",
	host: "127.0.0.1",
	port: 6379,
	db: 0,
	sharedConnections: 1,
	commandTimeoutMs: 0,
	keepaliveMs: 0,
} as const;

const REDIS_KEYS = [
	"url",
	"host",
	"port",
	"db",
	"username",
	"password",
	"tls",
	"keyPrefix",
	"connectionName",
	"afterCreate",
	"keepaliveMs",
	"sharedConnections",
	"commandTimeoutMs",
	"driverOptions",
	"sentinel",
] as const;

/** ioredis options the pool depends on: set by the adapter, refused in `driverOptions`. */
const FORCED_DRIVER_KEYS = [
	"lazyConnect",
	"enableOfflineQueue",
	"offlineQueue",
	"retryStrategy",
	"maxRetriesPerRequest",
	"connectTimeout",
	"autoResubscribe",
	"autoResendUnfulfilledCommands",
	"reconnectOnError",
	"sentinels",
	"name",
	"Connector",
];

/** ioredis options that have a first-class option above. */
const PROMOTED_DRIVER_KEYS = ["host", "port", "db", "username", "password", "tls", "keyPrefix", "connectionName", "path"];

interface UrlParts {
	host?: string;
	port?: number;
	db?: number;
	username?: string;
	password?: string;
	tls?: TlsOptions;
}

function parseRedisUrl(url: unknown, problems: ConfigProblem[]): UrlParts {
	const hidden = "(the value is not shown: it may contain a password)";
	if (typeof url !== "string") {
		problems.push({ path: "url", message: `must be a string like redis://host:6379/0 ${hidden}` });
		return {};
	}
	const read = parseConnectionUrl(url);
	if (read.problem !== undefined) {
		problems.push({ path: "url", message: `${read.problem}; expected redis://[user[:password]@]host[:port][/db]` });
		return {};
	}
	const parsed = read.url;
	if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
		problems.push({ path: "url", message: `must start with redis:// or rediss://, got ${parsed.protocol}//` });
		return {};
	}
	const parts: UrlParts = {};
	const endpoint = urlEndpoint(parsed);
	if (endpoint.host !== undefined) parts.host = endpoint.host;
	if (endpoint.port !== undefined) parts.port = endpoint.port;
	if (read.username !== undefined) parts.username = read.username;
	if (read.password !== undefined) parts.password = read.password;
	if (endpoint.database !== undefined) {
		const db = Number(endpoint.database);
		if (Number.isInteger(db) && db >= 0) parts.db = db;
		else problems.push({ path: "url", message: `the path must be a database index like /0 ${hidden}` });
	}
	if (parsed.protocol === "rediss:") parts.tls = {};
	return parts;
}

/**
 * Splits `options` into the adapter's settings and the core pool's options, with every problem
 * found (the pool options are checked by the core when the pool is created).
 */
export function resolveRedisOptions(options: RedisClientOptions): {
	settings: RedisSettings;
	poolOptions: RedisPoolOptions & { healthCheckIntervalMs: number };
	problems: ConfigProblem[];
} {
	const problems: ConfigProblem[] = [];
	const raw = (options ?? {}) as Record<string, unknown>;
	const fromUrl = raw.url === undefined ? {} : parseRedisUrl(raw.url, problems);

	const integer = (key: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined => {
		if (value === undefined) return undefined;
		if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
			problems.push({
				path: key,
				message: `must be an integer from ${min}${max === Number.MAX_SAFE_INTEGER ? " up" : ` to ${max}`}, got ${quoteValue(value)}`,
			});
			return undefined;
		}
		return value;
	};
	const text = (key: string, value: unknown): string | undefined => {
		if (value === undefined) return undefined;
		if (typeof value !== "string" || value === "") {
			problems.push({ path: key, message: `must be a non-empty string, got ${typeof value}` });
			return undefined;
		}
		return value;
	};

	const port = integer("port", raw.port, 1, 65_535) ?? fromUrl.port ?? REDIS_DEFAULTS.port;
	const db = integer("db", raw.db, 0) ?? fromUrl.db ?? REDIS_DEFAULTS.db;
	const max = typeof raw.max === "number" ? raw.max : 10;
	const sharedConnections = integer("sharedConnections", raw.sharedConnections, 1) ?? Math.min(REDIS_DEFAULTS.sharedConnections, max);
	if (sharedConnections > max) problems.push({ path: "sharedConnections", message: `must not exceed max (${max}), got ${sharedConnections}` });
	const keepaliveMs = nonNegative("keepaliveMs", raw.keepaliveMs, problems) ?? REDIS_DEFAULTS.keepaliveMs;
	const commandTimeoutMs = nonNegative("commandTimeoutMs", raw.commandTimeoutMs, problems) ?? REDIS_DEFAULTS.commandTimeoutMs;

	if (raw.password !== undefined && typeof raw.password !== "string" && typeof raw.password !== "function") {
		problems.push({ path: "password", message: `must be a string or a function returning one, got ${typeof raw.password}` });
	}
	if (raw.afterCreate !== undefined && typeof raw.afterCreate !== "function") {
		problems.push({ path: "afterCreate", message: `must be a function (redis, signal) => void, got ${typeof raw.afterCreate}` });
	}
	if (raw.tls !== undefined && (raw.tls === null || typeof raw.tls !== "object")) {
		problems.push({ path: "tls", message: `must be an object of tls.connect options (use {} for defaults), got ${quoteValue(raw.tls)}` });
	}
	const driverOptions = (raw.driverOptions ?? {}) as Record<string, unknown>;
	if (typeof driverOptions !== "object" || driverOptions === null) {
		problems.push({ path: "driverOptions", message: "must be an object of ioredis options" });
	} else {
		for (const key of FORCED_DRIVER_KEYS) {
			if (driverOptions[key] !== undefined) {
				problems.push({
					path: `driverOptions.${key}`,
					message: "is set by lifeguard: the pool replaces dead connections itself, so ioredis must not reconnect or queue",
				});
			}
		}
		for (const key of PROMOTED_DRIVER_KEYS) {
			if (driverOptions[key] !== undefined) problems.push({ path: `driverOptions.${key}`, message: `set it as the top-level option \`${key}\`` });
		}
	}

	const sentinel = raw.sentinel === undefined ? undefined : checkSentinel(raw.sentinel, problems);

	const poolOptions: Record<string, unknown> = { name: REDIS_DEFAULTS.name };
	for (const [key, value] of Object.entries(raw)) {
		if (!(REDIS_KEYS as readonly string[]).includes(key)) poolOptions[key] = value;
	}
	poolOptions.healthCheckIntervalMs = keepaliveMs;

	return {
		settings: {
			host: text("host", raw.host) ?? fromUrl.host ?? REDIS_DEFAULTS.host,
			port,
			db,
			username: text("username", raw.username) ?? fromUrl.username,
			password: (raw.password as RedisPassword | undefined) ?? fromUrl.password,
			tls: (raw.tls as TlsOptions | undefined) ?? fromUrl.tls,
			keyPrefix: text("keyPrefix", raw.keyPrefix),
			connectionName: text("connectionName", raw.connectionName),
			afterCreate: raw.afterCreate as RedisSettings["afterCreate"],
			sharedConnections,
			commandTimeoutMs,
			driverOptions: driverOptions as RedisOptions,
			sentinel,
		},
		poolOptions: poolOptions as RedisPoolOptions & { healthCheckIntervalMs: number },
		problems,
	};
}

function nonNegative(key: string, value: unknown, problems: ConfigProblem[]): number | undefined {
	if (value === undefined) return undefined;
	// 0 means "off" for these (no command timeout, no keepalive); NaN, strings and values past 2^31-1 ms are refused as everywhere.
	const problem = durationProblem(value, { allowZero: true });
	if (problem !== undefined) {
		problems.push({ path: key, message: problem });
		return undefined;
	}
	return value as number;
}

function checkSentinel(value: unknown, problems: ConfigProblem[]): RedisSentinelOptions | undefined {
	if (value === null || typeof value !== "object") {
		problems.push({ path: "sentinel", message: "must be an object { sentinels: [{ host, port }], masterName }" });
		return undefined;
	}
	const raw = value as Record<string, unknown>;
	const before = problems.length;
	if (!Array.isArray(raw.sentinels) || raw.sentinels.length === 0) {
		problems.push({ path: "sentinel.sentinels", message: "must be a non-empty array of { host, port }" });
	} else {
		raw.sentinels.forEach((entry: unknown, i: number) => {
			const e = (entry ?? {}) as Record<string, unknown>;
			if (typeof e.host !== "string" || e.host === "") problems.push({ path: `sentinel.sentinels[${i}].host`, message: "must be a non-empty string" });
			if (typeof e.port !== "number" || !Number.isInteger(e.port) || e.port < 1 || e.port > 65_535) {
				problems.push({ path: `sentinel.sentinels[${i}].port`, message: `must be an integer from 1 to 65535, got ${quoteValue(e.port)}` });
			}
		});
	}
	if (typeof raw.masterName !== "string" || raw.masterName === "") {
		problems.push({ path: "sentinel.masterName", message: "must be the name the sentinels monitor the primary under, like mymaster" });
	}
	if (raw.sentinelPassword !== undefined && typeof raw.sentinelPassword !== "string") {
		problems.push({ path: "sentinel.sentinelPassword", message: `must be a string, got ${typeof raw.sentinelPassword}` });
	}
	return problems.length === before ? (raw as unknown as RedisSentinelOptions) : undefined;
}
