/**
 * The options of a managed MongoDB client: lifeguard's pool names, mapped onto the driver's
 * (the driver pools; lifeguard configures and watches it). Every problem is reported at once,
 * never quoting the URL (it may hold a password).
 */
import type { MongoClientOptions as DriverOptions } from "mongodb";
import { durationProblem } from "../../core/duration.ts";
import { ConfigError, type ConfigProblem } from "../../core/errors.ts";
import { quoteValue } from "../../core/quote-value.ts";

/** The driver options lifeguard sets from its own names; setting them in `driverOptions` too is refused. */
export const MAPPED_DRIVER_OPTIONS = ["maxPoolSize", "minPoolSize", "maxIdleTimeMS", "waitQueueTimeoutMS", "maxConnecting"] as const;

export interface MongoClientOptions {
	/** `mongodb://[user:password@]host[:port][,host…][/db][?options]` or `mongodb+srv://…`. */
	url: string;
	/** The name in the manager, health report and metrics. Default `mongodb <hosts>`. */
	name?: string;
	/** Connections per server at most (the driver's `maxPoolSize`). Default 10. */
	max?: number;
	/** Connections per server kept open (the driver's `minPoolSize`). Default 0. */
	min?: number;
	/** Close a connection idle this long (the driver's `maxIdleTimeMS`; 0 never). Default 600 000. */
	idleTimeoutMs?: number;
	/** How long an operation waits for a connection (the driver's `waitQueueTimeoutMS`; 0 no limit). Default 30 000. */
	acquireTimeoutMs?: number;
	/** Connections being opened at once per server (the driver's `maxConnecting`). Default 2. */
	maxConnecting?: number;
	/** Deadline of a health check's `ping`. Default 2 000. */
	healthTimeoutMs?: number;
	/** Run a health check this often once started (0 never). Default 60 000. */
	healthCheckIntervalMs?: number;
	/** Other driver options (`appName`, `tls`, `serverSelectionTimeoutMS`, …), passed as they are. */
	driverOptions?: DriverOptions;
}

export interface MongoSettings {
	name: string;
	healthTimeoutMs: number;
	healthCheckIntervalMs: number;
	driverOptions: DriverOptions;
	/** Host names and ports from the URL, credentials removed: seed labels before the driver reports servers. */
	hosts: string[];
}

export const MONGO_DEFAULTS = {
	max: 10,
	min: 0,
	idleTimeoutMs: 600_000,
	acquireTimeoutMs: 30_000,
	maxConnecting: 2,
	healthTimeoutMs: 2_000,
	healthCheckIntervalMs: 60_000,
} as const;

/** Checks the options, listing every problem, and maps them to the driver's. */
export function resolveMongoOptions(options: MongoClientOptions): MongoSettings {
	const problems: ConfigProblem[] = [];
	const o = { ...MONGO_DEFAULTS, ...definedOf(options) };
	const hosts = typeof options?.url === "string" ? hostsOf(options.url) : undefined;
	if (hosts === undefined) problems.push({ path: "url", message: "must be a mongodb:// or mongodb+srv:// URL (not shown: it may contain a password)" });
	for (const key of ["max", "maxConnecting"] as const) {
		if (!Number.isInteger(o[key]) || o[key] < 1) problems.push({ path: key, message: `must be an integer >= 1, got ${quoteValue(o[key])}` });
	}
	if (!Number.isInteger(o.min) || o.min < 0) problems.push({ path: "min", message: `must be an integer >= 0, got ${quoteValue(o.min)}` });
	else if (Number.isInteger(o.max) && o.min > o.max) problems.push({ path: "min", message: `must not exceed max (${o.max}), got ${o.min}` });
	for (const key of ["idleTimeoutMs", "acquireTimeoutMs", "healthCheckIntervalMs"] as const) {
		const problem = durationProblem(o[key], { allowZero: true });
		if (problem !== undefined) problems.push({ path: key, message: problem });
	}
	const healthProblem = durationProblem(o.healthTimeoutMs);
	if (healthProblem !== undefined) problems.push({ path: "healthTimeoutMs", message: healthProblem });
	const driverOptions = options?.driverOptions ?? {};
	for (const key of MAPPED_DRIVER_OPTIONS) {
		if (key in driverOptions) problems.push({ path: `driverOptions.${key}`, message: `is set from lifeguard's ${lifeguardNameOf(key)}: set that instead` });
	}
	if (options?.name !== undefined && (typeof options.name !== "string" || options.name === "")) {
		problems.push({ path: "name", message: `must be a non-empty string, got ${quoteValue(options.name)}` });
	}
	if (problems.length > 0) throw new ConfigError(`mongodb client${typeof options?.name === "string" ? ` "${options.name}"` : ""}`, problems);
	const seeds = hosts ?? [];
	return {
		name: options.name ?? `mongodb ${seeds.join(",")}`,
		healthTimeoutMs: o.healthTimeoutMs,
		healthCheckIntervalMs: o.healthCheckIntervalMs,
		hosts: seeds,
		driverOptions: {
			...driverOptions,
			maxPoolSize: o.max,
			minPoolSize: o.min,
			maxIdleTimeMS: o.idleTimeoutMs,
			waitQueueTimeoutMS: o.acquireTimeoutMs,
			maxConnecting: o.maxConnecting,
		},
	};
}

function lifeguardNameOf(key: (typeof MAPPED_DRIVER_OPTIONS)[number]): string {
	return { maxPoolSize: "max", minPoolSize: "min", maxIdleTimeMS: "idleTimeoutMs", waitQueueTimeoutMS: "acquireTimeoutMs", maxConnecting: "maxConnecting" }[
		key
	];
}

function definedOf(options: MongoClientOptions): Partial<typeof MONGO_DEFAULTS> {
	const out: Record<string, unknown> = {};
	for (const key of Object.keys(MONGO_DEFAULTS)) {
		const value = (options as unknown as Record<string, unknown> | undefined)?.[key];
		if (value !== undefined) out[key] = value;
	}
	return out as Partial<typeof MONGO_DEFAULTS>;
}

/**
 * The hosts of a MongoDB URL, lower-cased, credentials dropped. The WHATWG parser cannot read a
 * seed list (`a:1,b:2`), so the authority is cut by hand: after the scheme, up to the first
 * `/` or `?`, after the last `@`.
 */
export function hostsOf(url: string): string[] | undefined {
	const match = /^mongodb(\+srv)?:\/\/([^/?]*)/i.exec(url);
	if (match === null) return undefined;
	const authority = match[2];
	const hosts = authority
		.slice(authority.lastIndexOf("@") + 1)
		.split(",")
		.filter((h) => h !== "")
		.map((h) => (match[1] === undefined && !/:\d+$/.test(h) && !h.endsWith("]") ? `${h}:27017` : h).toLowerCase());
	return hosts.length === 0 ? undefined : hosts;
}
