/**
 * Rate limits per key: requests per minute and tokens per minute (LLM APIs meter both). Each is
 * a token bucket that refills continuously and holds at most a minute's worth. A call reserves
 * its estimate up front and waits until the bucket has paid it back, first come first served
 * (the balance may go negative, so a later caller always waits behind an earlier one); when
 * that wait would pass its deadline it is refused at once instead of timing out. After the
 * call, `settle(actual)` corrects the tokens bucket by what the response reports it used.
 */
import { ConfigError, type ConfigProblem } from "../core/errors.ts";
import { quoteValue } from "../core/quote-value.ts";
import { type Deadline, sleep } from "./deadline.ts";
import { RateLimitedError, type RateLimitKind } from "./errors.ts";

export interface RateLimit {
	requestsPerMinute?: number;
	tokensPerMinute?: number;
}

export interface ReserveOptions {
	/** Estimated tokens of this call (prompt plus expected completion). Default 0. */
	tokens?: number;
	deadline?: Deadline;
	signal?: AbortSignal;
}

export interface RateLimiterStats {
	/** Calls admitted, at once or after waiting. */
	admitted: number;
	/** Calls that had to wait. */
	delayed: number;
	/** Calls refused because the wait would pass their deadline. */
	rejected: number;
	/** Per key: what is left in each bucket now (negative while callers are queued). */
	keys: Record<string, { requests?: number; tokens?: number }>;
}

const MINUTE_MS = 60_000;

class Bucket {
	readonly capacity: number;
	readonly #perMs: number;
	#level: number;
	#atMs: number;

	constructor(perMinute: number) {
		this.capacity = perMinute;
		this.#perMs = perMinute / MINUTE_MS;
		this.#level = perMinute;
		this.#atMs = Date.now();
	}

	level(nowMs: number): number {
		this.#level = Math.min(this.capacity, this.#level + (nowMs - this.#atMs) * this.#perMs);
		this.#atMs = nowMs;
		return this.#level;
	}

	/** How long until `amount` is available, counting everyone who reserved before. */
	waitFor(amount: number, nowMs: number): number {
		const after = this.level(nowMs) - amount;
		return after >= 0 ? 0 : -after / this.#perMs;
	}

	take(amount: number): void {
		this.#level -= amount;
	}

	give(amount: number): void {
		this.#level = Math.min(this.capacity, this.#level + amount);
	}
}

interface KeyBuckets {
	requests?: Bucket;
	tokens?: Bucket;
}

/** One admitted call; settle it with the tokens it really used. */
export class Reservation {
	readonly key: string;
	readonly estimatedTokens: number;
	readonly waitedMs: number;
	#buckets: KeyBuckets;
	#settled = false;

	constructor(key: string, buckets: KeyBuckets, estimatedTokens: number, waitedMs: number) {
		this.key = key;
		this.#buckets = buckets;
		this.estimatedTokens = estimatedTokens;
		this.waitedMs = waitedMs;
	}

	/** Corrects the tokens bucket by `actualTokens - estimate` (refund or extra charge). Later calls are no-ops. */
	settle(actualTokens: number): void {
		if (this.#settled) return;
		this.#settled = true;
		// A usage that cannot be right (missing, negative) leaves the estimate charged rather than minting tokens.
		if (typeof actualTokens !== "number" || !Number.isFinite(actualTokens) || actualTokens < 0) return;
		const delta = actualTokens - this.estimatedTokens;
		if (this.#buckets.tokens === undefined) return;
		if (delta > 0) this.#buckets.tokens.take(delta);
		else this.#buckets.tokens.give(-delta);
	}

	/** The call never reached the server: give back the request and its tokens. */
	cancel(): void {
		if (this.#settled) return;
		this.#settled = true;
		this.#buckets.requests?.give(1);
		this.#buckets.tokens?.give(this.estimatedTokens);
	}
}

export class RateLimiter {
	readonly #limits: (key: string) => RateLimit | undefined;
	readonly #keys = new Map<string, KeyBuckets>();
	#admitted = 0;
	#delayed = 0;
	#rejected = 0;

	/** `limits`: one limit for every key, or a function giving each key its own (undefined: unlimited). */
	constructor(limits: RateLimit | ((key: string) => RateLimit | undefined)) {
		if (typeof limits !== "function") validateRateLimit(limits, "rate limit");
		this.#limits = typeof limits === "function" ? limits : () => limits;
	}

	/** Waits until `key` may make one call of `tokens`; RATE_LIMITED at once when that would pass the deadline. */
	async reserve(key: string, options: ReserveOptions = {}): Promise<Reservation> {
		const tokens = options.tokens ?? 0;
		// NaN would poison the bucket for good (every later wait NaN, so admitted at once), a negative estimate would mint tokens.
		if (typeof tokens !== "number" || !Number.isFinite(tokens) || tokens < 0) {
			throw new ConfigError(`rate limit of "${key}"`, [{ path: "tokens", message: `must be a finite number >= 0, got ${quoteValue(tokens)}` }]);
		}
		const buckets = this.#buckets(key);
		const now = Date.now();
		const requestWait = buckets.requests?.waitFor(1, now) ?? 0;
		const tokenWait = buckets.tokens?.waitFor(tokens, now) ?? 0;
		const waitMs = Math.max(requestWait, tokenWait);
		const remaining = options.deadline?.remainingMs ?? Number.POSITIVE_INFINITY;
		if (waitMs > 0 && waitMs >= remaining) {
			this.#rejected++;
			const kind: RateLimitKind = tokenWait > requestWait ? "tokens" : "requests";
			throw new RateLimitedError(key, kind, waitMs, remaining);
		}
		buckets.requests?.take(1);
		buckets.tokens?.take(tokens);
		const reservation = new Reservation(key, buckets, tokens, waitMs);
		if (waitMs > 0) {
			this.#delayed++;
			try {
				await sleep(waitMs, { signal: options.signal });
			} catch (error) {
				reservation.cancel();
				throw error;
			}
		}
		this.#admitted++;
		return reservation;
	}

	stats(): RateLimiterStats {
		const now = Date.now();
		const keys: RateLimiterStats["keys"] = {};
		for (const [key, b] of this.#keys) {
			keys[key] = {
				...(b.requests ? { requests: Math.floor(b.requests.level(now)) } : {}),
				...(b.tokens ? { tokens: Math.floor(b.tokens.level(now)) } : {}),
			};
		}
		return { admitted: this.#admitted, delayed: this.#delayed, rejected: this.#rejected, keys };
	}

	#buckets(key: string): KeyBuckets {
		let buckets = this.#keys.get(key);
		if (buckets === undefined) {
			const limit = this.#limits(key);
			if (limit !== undefined) validateRateLimit(limit, `rate limit of "${key}"`);
			buckets = {
				...(limit?.requestsPerMinute === undefined ? {} : { requests: new Bucket(limit.requestsPerMinute) }),
				...(limit?.tokensPerMinute === undefined ? {} : { tokens: new Bucket(limit.tokensPerMinute) }),
			};
			this.#keys.set(key, buckets);
		}
		return buckets;
	}
}

/** Throws CONFIG_INVALID listing every problem of one rate limit; the HTTP client checks a fixed one up front. */
export function validateRateLimit(limit: RateLimit, subject: string): void {
	const problems: ConfigProblem[] = [];
	for (const key of Object.keys(limit)) {
		if (key !== "requestsPerMinute" && key !== "tokensPerMinute") problems.push({ path: key, message: "unknown option" });
	}
	for (const key of ["requestsPerMinute", "tokensPerMinute"] as const) {
		const value = limit[key];
		if (value !== undefined && !(typeof value === "number" && value > 0 && Number.isFinite(value))) {
			problems.push({ path: key, message: `must be a number > 0, got ${String(value)}` });
		}
	}
	if (problems.length > 0) throw new ConfigError(subject, problems);
}
