/**
 * The HTTP client's options, their defaults, and the validation that lists every problem at
 * once. Defaults are chosen for API and LLM traffic: no default cuts a long call short.
 */
import type { ConnectionOptions } from "node:tls";
import { type DurationRules, durationProblem } from "../../core/duration.ts";
import { ConfigError, type ConfigProblem } from "../../core/errors.ts";
import { type BreakerOptions, breakerOptionProblems } from "../../resilience/circuit-breakers.ts";
import { type RateLimit, validateRateLimit } from "../../resilience/rate-limiter.ts";
import { type RetryOptions, resolveRetryOptions } from "../../resilience/retry-policy.ts";

/** TLS options for every connection (a private CA, a client certificate, `rejectUnauthorized`, `servername`). */
export type HttpTlsOptions = Pick<
	ConnectionOptions,
	"ca" | "cert" | "key" | "pfx" | "passphrase" | "rejectUnauthorized" | "servername" | "ciphers" | "minVersion" | "maxVersion" | "checkServerIdentity"
>;

export interface PrewarmTarget {
	origin: string;
	/** Connections to open. Default 1. */
	connections?: number;
}

export interface HttpClientOptions {
	/** Shown in errors, statistics and metrics. Default `http`. */
	name?: string;
	/** Connections over all origins (the global budget). Default 100. */
	maxConnections?: number;
	/** Connections to one origin. Default 10. */
	maxConnectionsPerOrigin?: number;
	/** Requests waiting for a connection over all origins; more are refused at once (`POOL_QUEUE_FULL`). Default 1000. */
	maxWaiters?: number;
	/** Longest wait for a connection, within the call's `timeoutMs`. Default 30 000. */
	acquireTimeoutMs?: number;
	/** TCP + TLS connect. Default 10 000. */
	connectTimeoutMs?: number;
	/** Default time from sending a request to its response headers. Default 900 000 (15 min; undici's is 300 000). */
	headersTimeoutMs?: number;
	/** Default longest silence between two chunks of a response body. Default 300 000 (5 min). */
	bodyTimeoutMs?: number;
	/** Default overall deadline of a call (waits, attempts, backoff, body). Default none. */
	timeoutMs?: number;
	/** Idle time before a keep-alive connection closes when the server gives no `Keep-Alive: timeout=` hint. Default 4 000. */
	keepAliveTimeoutMs?: number;
	/** Cap on the server's hint. Default 600 000. */
	keepAliveMaxTimeoutMs?: number;
	/** Subtracted from the server's hint, so we close before it does. Default 1 000. */
	keepAliveMarginMs?: number;
	/** Retire a connection after this age (DNS changes, balancers). Default 600 000. */
	maxLifetimeMs?: number;
	/** Retire a connection after this many requests. Default 0 (no limit). */
	maxRequestsPerConnection?: number;
	/** Offer HTTP/2 over TLS (ALPN). Default false: every request gets its own HTTP/1.1 connection. */
	allowH2?: boolean;
	/** Streams per HTTP/2 connection. Default 100. */
	maxConcurrentStreams?: number;
	tls?: HttpTlsOptions;
	/** Origins `start()` opens connections to ahead of the first request. */
	prewarm?: (string | PrewarmTarget)[];
	/** Retries (lifeguard/resilience). Default off; dead keep-alive connections are retried regardless. */
	retry?: RetryOptions | boolean;
	/** A circuit breaker per origin. Default off. */
	circuitBreaker?: BreakerOptions | boolean;
	/** Requests/tokens per minute, for every key or per key (the origin, or the call's `policyKey`). Default none. */
	rateLimit?: RateLimit | ((origin: string) => RateLimit | undefined);
	/** After a 429, hold the origin's other calls until its Retry-After. Default: on when retry, circuitBreaker or rateLimit is. */
	cooldownOn429?: boolean;
	/** Cooldown after a 429 that gives no Retry-After. Default 1 000. */
	defaultCooldownMs?: number;
}

export interface ResolvedHttpOptions {
	name: string;
	maxConnections: number;
	maxConnectionsPerOrigin: number;
	maxWaiters: number;
	acquireTimeoutMs: number;
	connectTimeoutMs: number;
	headersTimeoutMs: number;
	bodyTimeoutMs: number;
	timeoutMs: number | undefined;
	keepAliveTimeoutMs: number;
	keepAliveMaxTimeoutMs: number;
	keepAliveMarginMs: number;
	maxLifetimeMs: number;
	maxRequestsPerConnection: number;
	allowH2: boolean;
	maxConcurrentStreams: number;
	tls: HttpTlsOptions;
	prewarm: Required<PrewarmTarget>[];
	retry: RetryOptions | undefined;
	circuitBreaker: BreakerOptions | undefined;
	rateLimit: RateLimit | ((origin: string) => RateLimit | undefined) | undefined;
	cooldownOn429: boolean;
	defaultCooldownMs: number;
}

export const HTTP_DEFAULTS = {
	name: "http",
	maxConnections: 100,
	maxConnectionsPerOrigin: 10,
	maxWaiters: 1_000,
	acquireTimeoutMs: 30_000,
	connectTimeoutMs: 10_000,
	headersTimeoutMs: 900_000,
	bodyTimeoutMs: 300_000,
	keepAliveTimeoutMs: 4_000,
	keepAliveMaxTimeoutMs: 600_000,
	keepAliveMarginMs: 1_000,
	maxLifetimeMs: 600_000,
	maxRequestsPerConnection: 0,
	maxConcurrentStreams: 100,
	defaultCooldownMs: 1_000,
} as const;

const COUNTS = [
	["maxConnections", 1],
	["maxConnectionsPerOrigin", 1],
	["maxWaiters", 0],
	["maxRequestsPerConnection", 0],
	["maxConcurrentStreams", 1],
] as const;

/**
 * Durations go through the core's validator: each arms a timer (here or in undici), and Node
 * fires a timer set past 2^31-1 ms, or to Infinity, after 1 ms, so `headersTimeoutMs: Infinity`
 * meant "fail every request at once". 0 is "none" where undici or the pool says so; only the
 * wait for a connection may be Infinity, as the core pool's acquireTimeoutMs may.
 */
const DURATIONS: readonly (readonly [string, DurationRules])[] = [
	["acquireTimeoutMs", { allowInfinity: true }],
	["connectTimeoutMs", {}],
	["headersTimeoutMs", { allowZero: true }],
	["bodyTimeoutMs", { allowZero: true }],
	["keepAliveTimeoutMs", {}],
	["keepAliveMaxTimeoutMs", {}],
	["keepAliveMarginMs", { allowZero: true }],
	["maxLifetimeMs", { allowZero: true }],
	["defaultCooldownMs", { allowZero: true }],
];

/**
 * What is wrong with a per-call headers/body timeout (undici's own names included), or undefined.
 * null is undici's "use the default" (its types allow it, and SDKs pass it), so it is no problem.
 */
export function phaseTimeoutProblem(value: unknown): string | undefined {
	return value === undefined || value === null ? undefined : durationProblem(value, { allowZero: true });
}

const KNOWN = new Set<string>([
	...COUNTS.map(([k]) => k),
	...DURATIONS.map(([k]) => k),
	"name",
	"timeoutMs",
	"allowH2",
	"tls",
	"prewarm",
	"retry",
	"circuitBreaker",
	"rateLimit",
	"cooldownOn429",
]);

/** Normalises an origin (`https://host:port`); throws on anything that is not an http(s) URL. */
export function toOrigin(value: string | URL): string {
	const url = typeof value === "string" ? new URL(value) : value;
	if (url.protocol !== "http:" && url.protocol !== "https:") throw new TypeError(`not an http(s) origin: ${url.protocol}`);
	return url.origin;
}

const CALL_TIMEOUT_RULES: DurationRules = { allowInfinity: true };

/** What is wrong with an overall `timeoutMs` (the client's or a call's), or undefined; Infinity means none. */
export function callTimeoutProblem(value: unknown): string | undefined {
	return value === undefined ? undefined : durationProblem(value, CALL_TIMEOUT_RULES);
}

export function resolveHttpOptions(options: HttpClientOptions = {}): ResolvedHttpOptions {
	const o = options as Record<string, unknown>;
	const problems: ConfigProblem[] = [];
	for (const key of Object.keys(o)) if (!KNOWN.has(key)) problems.push({ path: key, message: "unknown option" });
	const numbers: Record<string, number> = {};
	for (const [key, min] of COUNTS) {
		const value = o[key] ?? HTTP_DEFAULTS[key];
		if (typeof value !== "number" || !(value >= min) || (value !== Number.POSITIVE_INFINITY && !Number.isInteger(value))) {
			problems.push({ path: key, message: `must be an integer >= ${min}, got ${String(value)}` });
		}
		numbers[key] = value as number;
	}
	for (const [key, rules] of DURATIONS) {
		const value = o[key] ?? HTTP_DEFAULTS[key as keyof typeof HTTP_DEFAULTS];
		const problem = durationProblem(value, rules);
		if (problem !== undefined) problems.push({ path: key, message: problem });
		numbers[key] = value as number;
	}
	if (numbers.maxConnectionsPerOrigin > numbers.maxConnections) {
		problems.push({ path: "maxConnectionsPerOrigin", message: `is greater than maxConnections (${numbers.maxConnections})` });
	}
	const timeoutProblem = callTimeoutProblem(options.timeoutMs);
	if (timeoutProblem !== undefined) problems.push({ path: "timeoutMs", message: timeoutProblem });
	if (options.name !== undefined && (typeof options.name !== "string" || options.name === ""))
		problems.push({ path: "name", message: "must be a non-empty string" });
	if (options.allowH2 !== undefined && typeof options.allowH2 !== "boolean") problems.push({ path: "allowH2", message: "must be a boolean" });
	if (options.tls !== undefined && (typeof options.tls !== "object" || options.tls === null))
		problems.push({ path: "tls", message: "must be an object of TLS options" });
	const prewarm: Required<PrewarmTarget>[] = [];
	for (const [i, target] of (options.prewarm ?? []).entries()) {
		const t = typeof target === "string" ? { origin: target } : target;
		try {
			const connections = t.connections ?? 1;
			if (!Number.isInteger(connections) || connections < 1) throw new TypeError("connections must be an integer >= 1");
			prewarm.push({ origin: toOrigin(t.origin), connections });
		} catch (error) {
			problems.push({ path: `prewarm[${i}]`, message: (error as Error).message });
		}
	}
	const objectOrFlag = (key: "retry" | "circuitBreaker") => {
		const value = options[key];
		if (value === undefined || value === false) return undefined;
		if (value === true) return {};
		if (typeof value !== "object" || value === null) problems.push({ path: key, message: "must be true, false or an options object" });
		return value as object;
	};
	const retry = objectOrFlag("retry") as RetryOptions | undefined;
	const circuitBreaker = objectOrFlag("circuitBreaker") as BreakerOptions | undefined;
	// The resilience options' own problems, listed with the client's under their paths (they used to throw on their own, later, without the prefix).
	const nested = (prefix: string, check: () => unknown) => {
		try {
			check();
		} catch (error) {
			if (!(error instanceof ConfigError)) throw error;
			for (const problem of error.problems) problems.push({ ...problem, path: `${prefix}.${problem.path}` });
		}
	};
	if (retry !== undefined && typeof retry === "object" && retry !== null) nested("retry", () => resolveRetryOptions(retry));
	if (circuitBreaker !== undefined && typeof circuitBreaker === "object" && circuitBreaker !== null) {
		for (const problem of breakerOptionProblems(circuitBreaker)) problems.push({ ...problem, path: `circuitBreaker.${problem.path}` });
	}
	if (typeof options.rateLimit === "object" && options.rateLimit !== null)
		nested("rateLimit", () => validateRateLimit(options.rateLimit as RateLimit, "rateLimit"));
	if (options.rateLimit !== undefined && typeof options.rateLimit !== "object" && typeof options.rateLimit !== "function") {
		problems.push({ path: "rateLimit", message: "must be { requestsPerMinute, tokensPerMinute } or a function of the origin" });
	}
	if (options.cooldownOn429 !== undefined && typeof options.cooldownOn429 !== "boolean") problems.push({ path: "cooldownOn429", message: "must be a boolean" });
	const name = options.name ?? HTTP_DEFAULTS.name;
	if (problems.length > 0) throw new ConfigError(`createHttpClient(${JSON.stringify(name)})`, problems);
	return {
		...(numbers as Omit<
			ResolvedHttpOptions,
			"name" | "timeoutMs" | "allowH2" | "tls" | "prewarm" | "retry" | "circuitBreaker" | "rateLimit" | "cooldownOn429"
		>),
		name,
		timeoutMs: options.timeoutMs,
		allowH2: options.allowH2 ?? false,
		tls: options.tls ?? {},
		prewarm,
		retry,
		circuitBreaker,
		rateLimit: options.rateLimit,
		cooldownOn429: options.cooldownOn429 ?? (retry !== undefined || circuitBreaker !== undefined || options.rateLimit !== undefined),
	};
}
