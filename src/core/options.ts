import type { ConnectionBudget } from "./connection-budget.ts";
import { type DurationRules, durationProblem } from "./duration.ts";
import { ConfigError, type ConfigProblem } from "./errors.ts";
import { quoteValue } from "./quote-value.ts";

/** close(options)'s checks, with the pool's other option validators (pool.ts imports them from here). */
export { checkCloseOptions } from "./close-options.ts";

/** How an error relates to the connection it happened on. */
export type ErrorClass = "connection" | "caller";

export interface PoolOptions<T> {
	/** Shown in errors, events and metrics. Default: `pool-<n>`. */
	name?: string;
	/** Opens one connection. Must honour `signal` (aborted at `createTimeoutMs` or on close). */
	create: (signal: AbortSignal) => T | Promise<T>;
	/** Closes one connection. Errors are swallowed (counted); it is bounded by `destroyTimeoutMs`. */
	destroy?: (resource: T) => void | Promise<void>;
	/** Checks a connection before it is lent after `validateAfterIdleMs` idle. Return false or throw: invalid. */
	validate?: (resource: T, signal: AbortSignal) => boolean | undefined | Promise<boolean | undefined>;
	/** Session setup after creation (search_path, timezone). A throw fails the creation. */
	afterCreate?: (resource: T, signal: AbortSignal) => void | Promise<void>;
	/** Runs on every release; a throw (or a rejection) destroys the connection instead of reusing it. */
	reset?: (resource: T) => void | Promise<void>;
	/** Tells connection faults (lower health, destroy) from the caller's errors (SQL syntax). Default: every error is the caller's. */
	classifyError?: (error: unknown) => ErrorClass;
	/**
	 * With `allowExitOnIdle`, called when a connection goes idle so that it stops keeping the
	 * process alive (e.g. `socket.unref()`), and `ref` when it is lent again. Adapters provide these.
	 */
	unref?: (resource: T) => void;
	ref?: (resource: T) => void;
	/** Idle connections never keep the process alive (needs `ref`/`unref`; the pool's own timers never do). Default false. */
	allowExitOnIdle?: boolean;
	/** Connections kept warm (after `start()`), and the floor idle eviction stops at. Default 0. */
	min?: number;
	/** Most connections open at once, in use + idle + being created. Default 10. */
	max?: number;
	/** Default deadline of `acquire()`. Default 30 000 ms. */
	acquireTimeoutMs?: number;
	/** Deadline of one `create` (+ `afterCreate`). Default 10 000 ms. */
	createTimeoutMs?: number;
	/** Deadline of one `destroy`. Default 5 000 ms. */
	destroyTimeoutMs?: number;
	/** Deadline of one `validate`. Default 5 000 ms. */
	validateTimeoutMs?: number;
	/** Idle connections above `min` are closed after this long unused. 0 disables. Default 600 000 ms. */
	idleTimeoutMs?: number;
	/** Connections are retired after this age (when idle, or on release). 0 disables. Default 1 800 000 ms. */
	maxLifetimeMs?: number;
	/** Each connection's lifetime is shortened by a random amount up to this. Default 2.5% of `maxLifetimeMs`. */
	maxLifetimeJitterMs?: number;
	/** Validate on borrow when a connection has been idle longer than this. Default 500 ms. */
	validateAfterIdleMs?: number;
	/** Keepalive: validate idle connections in the background this often. 0 disables. Default 0. */
	healthCheckIntervalMs?: number;
	/** Most callers waiting at once; more are rejected at once with POOL_QUEUE_FULL. Default Infinity. */
	maxWaiters?: number;
	/** Most connections being created at once (CMAP's maxConnecting). Default 2. */
	maxConnecting?: number;
	/** Warn (event `leakDetected` + process warning with the borrower's stack) when a lease is held this long. 0 disables. */
	leakDetectionMs?: number;
	/** Take a connection back from a borrower after this long and destroy it (reason `leaked`). 0 disables. */
	reclaimAfterMs?: number;
	/** Which idle connection is reused first: the most recent (`lifo`, keeps few connections hot) or the oldest (`fifo`). Default `lifo`. */
	idleOrder?: "lifo" | "fifo";
	/** First retry delay after a failed create. Default 100 ms. */
	createRetryInitialMs?: number;
	/** Cap of the retry delay after repeated failed creates. Default 1 000 ms. */
	createRetryMaxMs?: number;
	/** `start()` rejects on the first failed create instead of retrying. Default false. */
	failFast?: boolean;
	/** A connection whose health score falls below this (0-100) is closed on release (reason `unhealthy`). Default 30. */
	unhealthyThreshold?: number;
	/** Number of priority levels for `acquire({ priority })`; 0 is the most urgent. Default 1. */
	priorityLevels?: number;
	/**
	 * An external connection budget every create must take a slot from (one shared with other
	 * pools or processes, see `lifeguard/distributed`). `max` still caps this pool. Default none.
	 */
	budget?: ConnectionBudget;
}

type Hook = "destroy" | "validate" | "afterCreate" | "reset" | "classifyError" | "ref" | "unref" | "budget";
export type ResolvedPoolOptions<T> = Required<Omit<PoolOptions<T>, Hook>> & Pick<PoolOptions<T>, Hook>;

export const POOL_DEFAULTS = {
	min: 0,
	max: 10,
	acquireTimeoutMs: 30_000,
	createTimeoutMs: 10_000,
	destroyTimeoutMs: 5_000,
	validateTimeoutMs: 5_000,
	idleTimeoutMs: 600_000,
	maxLifetimeMs: 1_800_000,
	validateAfterIdleMs: 500,
	healthCheckIntervalMs: 0,
	maxWaiters: Number.POSITIVE_INFINITY,
	maxConnecting: 2,
	leakDetectionMs: 0,
	reclaimAfterMs: 0,
	idleOrder: "lifo",
	createRetryInitialMs: 100,
	createRetryMaxMs: 1_000,
	failFast: false,
	unhealthyThreshold: 30,
	priorityLevels: 1,
} as const;

const FUNCTION_KEYS = ["create", "destroy", "validate", "afterCreate", "reset", "classifyError", "ref", "unref"] as const;
const DURATION_KEYS = [
	"acquireTimeoutMs",
	"createTimeoutMs",
	"destroyTimeoutMs",
	"validateTimeoutMs",
	"idleTimeoutMs",
	"maxLifetimeMs",
	"maxLifetimeJitterMs",
	"validateAfterIdleMs",
	"healthCheckIntervalMs",
	"leakDetectionMs",
	"reclaimAfterMs",
	"createRetryInitialMs",
	"createRetryMaxMs",
] as const;
/** 0 disables the feature where it can be off; Infinity is "no deadline" where waiting forever is a choice. */
const DURATION_RULES: Record<(typeof DURATION_KEYS)[number], DurationRules> = {
	acquireTimeoutMs: { allowInfinity: true },
	createTimeoutMs: {},
	destroyTimeoutMs: {},
	validateTimeoutMs: {},
	idleTimeoutMs: { allowZero: true },
	maxLifetimeMs: { allowZero: true },
	maxLifetimeJitterMs: { allowZero: true },
	validateAfterIdleMs: { allowZero: true },
	healthCheckIntervalMs: { allowZero: true },
	leakDetectionMs: { allowZero: true },
	reclaimAfterMs: { allowZero: true },
	createRetryInitialMs: {},
	createRetryMaxMs: {},
};
const KNOWN_KEYS = new Set<string>([
	"name",
	...FUNCTION_KEYS,
	...DURATION_KEYS,
	"min",
	"max",
	"maxWaiters",
	"maxConnecting",
	"idleOrder",
	"failFast",
	"allowExitOnIdle",
	"unhealthyThreshold",
	"priorityLevels",
	"budget",
]);

let poolCounter = 0;

/** Checks every option and returns them with defaults filled in; throws one ConfigError listing every problem. */
export function resolvePoolOptions<T>(options: PoolOptions<T>): ResolvedPoolOptions<T> {
	const problems: ConfigProblem[] = [];
	if (options === null || typeof options !== "object") {
		throw new ConfigError("createPool", [{ path: "options", message: "expected an object with at least `create`" }]);
	}
	const raw = options as unknown as Record<string, unknown>;
	for (const key of Object.keys(raw)) {
		if (!KNOWN_KEYS.has(key) && raw[key] !== undefined) {
			problems.push({ path: key, message: "unknown option (check the spelling; options are camelCase with units, e.g. idleTimeoutMs)" });
		}
	}
	if (typeof raw.create !== "function") problems.push({ path: "create", message: "required: a function (signal) => connection" });
	for (const key of FUNCTION_KEYS) {
		if (key !== "create" && raw[key] !== undefined && typeof raw[key] !== "function") {
			problems.push({ path: key, message: `must be a function, got ${typeof raw[key]}` });
		}
	}
	const name = raw.name === undefined ? `pool-${++poolCounter}` : raw.name;
	if (typeof name !== "string" || name.length === 0) problems.push({ path: "name", message: "must be a non-empty string" });

	const integer = (key: string, fallback: number, minimum: number, allowInfinity = false): number => {
		const v = raw[key];
		if (v === undefined) return fallback;
		if (
			typeof v !== "number" ||
			Number.isNaN(v) ||
			(!allowInfinity && !Number.isInteger(v)) ||
			(allowInfinity && !Number.isInteger(v) && v !== Number.POSITIVE_INFINITY)
		) {
			problems.push({ path: key, message: `must be an integer${allowInfinity ? " or Infinity" : ""}, got ${quoteValue(v)}` });
			return fallback;
		}
		if (v < minimum) {
			problems.push({ path: key, message: `must be >= ${minimum}, got ${v}` });
			return fallback;
		}
		return v;
	};
	const min = integer("min", POOL_DEFAULTS.min, 0);
	const max = integer("max", POOL_DEFAULTS.max, 1);
	if (min > max) problems.push({ path: "min", message: `min (${min}) is greater than max (${max})` });
	const maxWaiters = integer("maxWaiters", POOL_DEFAULTS.maxWaiters, 0, true);
	const maxConnecting = integer("maxConnecting", POOL_DEFAULTS.maxConnecting, 1);
	const priorityLevels = integer("priorityLevels", POOL_DEFAULTS.priorityLevels, 1);
	const unhealthyThreshold = integer("unhealthyThreshold", POOL_DEFAULTS.unhealthyThreshold, 0);
	if (unhealthyThreshold > 100) problems.push({ path: "unhealthyThreshold", message: `must be between 0 and 100, got ${unhealthyThreshold}` });

	const durations: Record<string, number> = {};
	for (const key of DURATION_KEYS) {
		const v = raw[key];
		if (v === undefined) continue;
		const problem = durationProblem(v, DURATION_RULES[key]);
		if (problem === undefined) durations[key] = v as number;
		else problems.push({ path: key, message: problem });
	}
	const maxLifetimeMs = durations.maxLifetimeMs ?? POOL_DEFAULTS.maxLifetimeMs;
	const maxLifetimeJitterMs = durations.maxLifetimeJitterMs ?? maxLifetimeMs * 0.025;
	if (maxLifetimeMs > 0 && maxLifetimeJitterMs >= maxLifetimeMs) {
		problems.push({ path: "maxLifetimeJitterMs", message: `must be less than maxLifetimeMs (${maxLifetimeMs})` });
	}
	const createRetryInitialMs = durations.createRetryInitialMs ?? POOL_DEFAULTS.createRetryInitialMs;
	const createRetryMaxMs = durations.createRetryMaxMs ?? Math.max(POOL_DEFAULTS.createRetryMaxMs, createRetryInitialMs);
	if (createRetryMaxMs < createRetryInitialMs) {
		problems.push({ path: "createRetryMaxMs", message: `must be >= createRetryInitialMs (${createRetryInitialMs})` });
	}
	const leakDetectionMs = durations.leakDetectionMs ?? 0;
	const reclaimAfterMs = durations.reclaimAfterMs ?? 0;
	if (leakDetectionMs > 0 && reclaimAfterMs > 0 && reclaimAfterMs < leakDetectionMs) {
		problems.push({ path: "reclaimAfterMs", message: `must be >= leakDetectionMs (${leakDetectionMs}) so a leak is reported before it is reclaimed` });
	}
	if (raw.validate === undefined) {
		for (const key of ["healthCheckIntervalMs", "validateAfterIdleMs"]) {
			if (raw[key] !== undefined && raw[key] !== 0)
				problems.push({ path: key, message: "does nothing without `validate`: give the pool a validate function, or drop this option" });
		}
	}
	if (raw.idleOrder !== undefined && raw.idleOrder !== "lifo" && raw.idleOrder !== "fifo") {
		problems.push({ path: "idleOrder", message: `must be "lifo" or "fifo", got ${quoteValue(raw.idleOrder)}` });
	}
	for (const key of ["failFast", "allowExitOnIdle"]) {
		if (raw[key] !== undefined && typeof raw[key] !== "boolean") problems.push({ path: key, message: `must be a boolean, got ${quoteValue(raw[key])}` });
	}
	if (raw.allowExitOnIdle === true && (typeof raw.ref !== "function" || typeof raw.unref !== "function")) {
		problems.push({
			path: "allowExitOnIdle",
			message: "needs both `ref` and `unref` hooks (the adapter's way to stop an idle connection keeping the process alive)",
		});
	}
	const budget = raw.budget as Partial<ConnectionBudget> | undefined;
	if (budget !== undefined && (budget === null || typeof budget.tryReserve !== "function" || typeof budget.release !== "function")) {
		problems.push({ path: "budget", message: "must be an object with tryReserve() and release() (a ConnectionBudget)" });
	}
	if (problems.length > 0) throw new ConfigError(`createPool(${typeof name === "string" ? JSON.stringify(name) : ""})`, problems);

	return {
		name: name as string,
		create: options.create,
		destroy: options.destroy,
		validate: options.validate,
		afterCreate: options.afterCreate,
		reset: options.reset,
		classifyError: options.classifyError,
		ref: options.ref,
		unref: options.unref,
		budget: options.budget,
		allowExitOnIdle: (raw.allowExitOnIdle as boolean | undefined) ?? false,
		min,
		max,
		maxWaiters,
		maxConnecting,
		priorityLevels,
		unhealthyThreshold,
		acquireTimeoutMs: durations.acquireTimeoutMs ?? POOL_DEFAULTS.acquireTimeoutMs,
		createTimeoutMs: durations.createTimeoutMs ?? POOL_DEFAULTS.createTimeoutMs,
		destroyTimeoutMs: durations.destroyTimeoutMs ?? POOL_DEFAULTS.destroyTimeoutMs,
		validateTimeoutMs: durations.validateTimeoutMs ?? POOL_DEFAULTS.validateTimeoutMs,
		idleTimeoutMs: durations.idleTimeoutMs ?? POOL_DEFAULTS.idleTimeoutMs,
		maxLifetimeMs,
		maxLifetimeJitterMs,
		validateAfterIdleMs: durations.validateAfterIdleMs ?? POOL_DEFAULTS.validateAfterIdleMs,
		healthCheckIntervalMs: durations.healthCheckIntervalMs ?? POOL_DEFAULTS.healthCheckIntervalMs,
		leakDetectionMs,
		reclaimAfterMs,
		idleOrder: (raw.idleOrder as "lifo" | "fifo" | undefined) ?? POOL_DEFAULTS.idleOrder,
		createRetryInitialMs,
		createRetryMaxMs,
		failFast: (raw.failFast as boolean | undefined) ?? POOL_DEFAULTS.failFast,
	};
}

/** What `classifyError` says of `error`: every error is the caller's without one, and a classifier that throws means the connection (it cannot be trusted). */
export function classifyWith(classify: ((error: unknown) => ErrorClass) | undefined, error: unknown): ErrorClass {
	if (classify === undefined) return "caller";
	try {
		return classify(error);
	} catch {
		return "connection";
	}
}
