/**
 * Retry with exponential backoff and full jitter (cockatiel's generator), aware of HTTP: which
 * statuses and errors to retry, `Retry-After`, which requests may be sent twice, and one
 * deadline across all attempts. A caller that streams a response decides per attempt through
 * {@link RetryState.decide} (it must not retry once a byte reached its own caller); a caller
 * with a promise-returning attempt uses {@link RetryPolicy.run}.
 */
import { ExponentialBackoff, fullJitterGenerator, type IBackoff } from "cockatiel";
import { suggestion } from "../core/did-you-mean.ts";
import { durationProblem } from "../core/duration.ts";
import { ConfigError, type ConfigProblem } from "../core/errors.ts";
import { quoteValue } from "../core/quote-value.ts";
import { Deadline, sleep } from "./deadline.ts";
import { RequestAbortedError } from "./errors.ts";
import { type HeaderBag, retryAfterMs } from "./retry-after.ts";
import { isRetryableError } from "./retryable-errors.ts";

/** Statuses retried by default: timeout, too many requests, and the transient server errors. */
export const RETRYABLE_STATUSES: readonly number[] = [408, 429, 500, 502, 503, 504];
/** Methods RFC 9110 defines as idempotent: sending one twice has the effect of sending it once. */
export const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]);
/** Request headers that mark a non-idempotent request as safe to repeat (the server deduplicates). */
export const IDEMPOTENCY_KEY_HEADERS: readonly string[] = ["idempotency-key", "x-idempotency-key"];

export interface RetryOptions {
	/** Attempts in all, the first included. Default 3 (two retries). 1 disables retries. */
	maxAttempts?: number;
	/** Cap of the first backoff; each retry doubles it, and the delay is drawn uniformly below it (full jitter). Default 250. */
	initialDelayMs?: number;
	/** Largest backoff cap. Default 10 000. */
	maxDelayMs?: number;
	/** Response statuses worth another attempt. Default {@link RETRYABLE_STATUSES}. */
	statuses?: readonly number[];
	/** Thrown errors worth another attempt. Default: connection failures ({@link isRetryableError}). */
	retryOnError?: (error: unknown) => boolean;
	/** Honour a server's `Retry-After` up to this; a longer one is not waited for (the response goes to the caller). Default 60 000. */
	maxRetryAfterMs?: number;
}

export interface ResolvedRetryOptions {
	maxAttempts: number;
	initialDelayMs: number;
	maxDelayMs: number;
	statuses: ReadonlySet<number>;
	retryOnError: (error: unknown) => boolean;
	maxRetryAfterMs: number;
}

export const RETRY_DEFAULTS = { maxAttempts: 3, initialDelayMs: 250, maxDelayMs: 10_000, maxRetryAfterMs: 60_000 } as const;

/** What decides whether a request may be sent more than once. */
export interface RetryableRequest {
	method: string;
	/** Request headers: an object, undici's flat `[name, value, …]` array, or a `Headers`. */
	headers?: unknown;
	body?: unknown;
	/** The caller vouches the request is safe to repeat (the server deduplicates it). */
	retryable?: boolean;
}

/** The outcome of one attempt, as the retry decision sees it. */
export interface AttemptOutcome {
	status?: number;
	headers?: HeaderBag;
	error?: unknown;
}

export type RetryDecision = { retry: true; delayMs: number } | { retry: false; reason: RetryStopReason };
export type RetryStopReason = "success" | "notRetryable" | "requestNotRepeatable" | "attempts" | "deadline" | "retryAfterTooLong" | "aborted";

/** True for bodies that can be sent again byte for byte: none, a string, bytes. A stream or iterator is consumed by the first attempt. */
export function isReplayableBody(body: unknown): boolean {
	return body === undefined || body === null || typeof body === "string" || body instanceof Uint8Array || body instanceof ArrayBuffer;
}

function hasHeader(headers: unknown, names: readonly string[]): boolean {
	if (headers === undefined || headers === null) return false;
	if (typeof (headers as { has?: unknown }).has === "function") return names.some((n) => (headers as Headers).has(n));
	if (Array.isArray(headers)) {
		for (let i = 0; i < headers.length; i += 2) if (names.includes(String(headers[i]).toLowerCase())) return true;
		return false;
	}
	if (typeof headers === "object") return Object.keys(headers).some((k) => names.includes(k.toLowerCase()));
	return false;
}

/** True when the request may be sent again: idempotent or marked retryable, and its body can be replayed. */
export function isRepeatableRequest(request: RetryableRequest): boolean {
	if (!isReplayableBody(request.body)) return false;
	if (request.retryable === true) return true;
	if (request.retryable === false) return false;
	return IDEMPOTENT_METHODS.has(request.method.toUpperCase()) || hasHeader(request.headers, IDEMPOTENCY_KEY_HEADERS);
}

const RETRY_KEYS = ["maxAttempts", "initialDelayMs", "maxDelayMs", "statuses", "retryOnError", "maxRetryAfterMs"];

export function resolveRetryOptions(options: RetryOptions | undefined, subject = "retry"): ResolvedRetryOptions {
	if (options !== undefined && (options === null || typeof options !== "object" || Array.isArray(options))) {
		throw new ConfigError(subject, [{ path: "(options)", message: `must be an object of retry options, got ${quoteValue(options)}` }]);
	}
	const o = options ?? {};
	const problems: ConfigProblem[] = [];
	for (const key of Object.keys(o)) if (!RETRY_KEYS.includes(key)) problems.push({ path: key, message: `unknown option${suggestion(key, RETRY_KEYS)}` });
	const int = (key: keyof typeof RETRY_DEFAULTS, min: number): number => {
		const value = (o as Record<string, unknown>)[key] ?? RETRY_DEFAULTS[key];
		if (typeof value !== "number" || !Number.isInteger(value) || value < min)
			problems.push({ path: key, message: `must be an integer >= ${min}, got ${quoteValue(value)}` });
		return value as number;
	};
	// Each delay is slept with a timer: past 2^31-1 ms Node would fire it after 1 ms, retrying at once.
	const delay = (key: keyof typeof RETRY_DEFAULTS): number => {
		const value = (o as Record<string, unknown>)[key] ?? RETRY_DEFAULTS[key];
		const problem = durationProblem(value, { allowZero: true });
		if (problem !== undefined) problems.push({ path: key, message: problem });
		return value as number;
	};
	const resolved = {
		maxAttempts: int("maxAttempts", 1),
		initialDelayMs: delay("initialDelayMs"),
		maxDelayMs: delay("maxDelayMs"),
		maxRetryAfterMs: delay("maxRetryAfterMs"),
		statuses: new Set(o.statuses ?? RETRYABLE_STATUSES),
		retryOnError: o.retryOnError ?? isRetryableError,
	};
	if (o.statuses !== undefined && (!Array.isArray(o.statuses) || o.statuses.some((s) => !Number.isInteger(s) || s < 100 || s > 599))) {
		problems.push({ path: "statuses", message: "must be an array of HTTP statuses (100-599)" });
	}
	if (typeof resolved.retryOnError !== "function") problems.push({ path: "retryOnError", message: "must be a function (error) => boolean" });
	if (typeof resolved.maxDelayMs === "number" && typeof resolved.initialDelayMs === "number" && resolved.maxDelayMs < resolved.initialDelayMs)
		problems.push({ path: "maxDelayMs", message: `must be >= initialDelayMs (${resolved.initialDelayMs})` });
	if (problems.length > 0) throw new ConfigError(subject, problems);
	return resolved;
}

export class RetryPolicy {
	readonly options: ResolvedRetryOptions;
	readonly #backoff: ExponentialBackoff<number>;

	constructor(options?: RetryOptions) {
		this.options = resolveRetryOptions(options);
		this.#backoff = new ExponentialBackoff({
			generator: fullJitterGenerator,
			initialDelay: this.options.initialDelayMs,
			maxDelay: this.options.maxDelayMs,
			exponent: 2,
		});
	}

	/** The retry state of one call; `request` says whether it may be sent twice at all. */
	start(request?: RetryableRequest, deadline?: Deadline): RetryState {
		return new RetryState(this, this.#backoff, request === undefined || isRepeatableRequest(request), deadline ?? new Deadline(undefined));
	}

	/** True when `outcome` is worth another attempt, attempts and deadline aside. */
	isRetryableOutcome(outcome: AttemptOutcome): boolean {
		if (outcome.error !== undefined) return this.options.retryOnError(outcome.error);
		return outcome.status !== undefined && this.options.statuses.has(outcome.status);
	}

	/**
	 * Runs `attempt` until it succeeds, the outcome is not retryable, attempts run out or the
	 * deadline would pass during the next backoff. `inspect` maps a resolved value to a status
	 * (a response); a retried value is handed to `discard` (drain its body) first. The last
	 * value is returned and the last error thrown as they are.
	 */
	async run<T>(attempt: (context: { attempt: number; signal: AbortSignal | undefined }) => Promise<T>, options: RunOptions<T> = {}): Promise<T> {
		const state = this.start(options.request, options.deadline);
		for (;;) {
			if (options.signal?.aborted) throw new RequestAbortedError(options.signal.reason);
			let decision: RetryDecision;
			try {
				const value = await attempt({ attempt: state.attempts + 1, signal: options.signal });
				const seen = options.inspect?.(value);
				decision = state.decide(seen ?? {});
				if (!decision.retry) return value;
				await options.discard?.(value);
			} catch (error) {
				decision = state.decide({ error });
				if (!decision.retry) throw error;
			}
			options.onRetry?.(state.attempts, decision.delayMs);
			await sleep(decision.delayMs, { signal: options.signal, deadline: state.deadline, attempts: state.attempts });
		}
	}
}

export interface RunOptions<T> {
	request?: RetryableRequest;
	deadline?: Deadline;
	signal?: AbortSignal;
	inspect?: (value: T) => AttemptOutcome | undefined;
	discard?: (value: T) => unknown;
	onRetry?: (attempts: number, delayMs: number) => void;
}

/** One call's attempts: how many ran, where the backoff is, what the deadline allows. */
export class RetryState {
	readonly policy: RetryPolicy;
	readonly deadline: Deadline;
	/** The request may be sent again (idempotent or marked, replayable body). */
	readonly repeatable: boolean;
	attempts = 0;
	#factory: ExponentialBackoff<number>;
	#backoff: IBackoff<unknown> | undefined;

	constructor(policy: RetryPolicy, factory: ExponentialBackoff<number>, repeatable: boolean, deadline: Deadline) {
		this.policy = policy;
		this.#factory = factory;
		this.repeatable = repeatable;
		this.deadline = deadline;
	}

	/**
	 * Records one finished attempt and says whether to try again and after how long. Call it
	 * before anything of the attempt's response reaches the caller: after that, never retry.
	 */
	decide(outcome: AttemptOutcome): RetryDecision {
		this.attempts++;
		const o = this.policy.options;
		if (outcome.error === undefined && (outcome.status === undefined || !o.statuses.has(outcome.status))) return { retry: false, reason: "success" };
		if (outcome.error instanceof RequestAbortedError) return { retry: false, reason: "aborted" };
		if (!this.policy.isRetryableOutcome(outcome)) return { retry: false, reason: "notRetryable" };
		if (!this.repeatable) return { retry: false, reason: "requestNotRepeatable" };
		if (this.attempts >= o.maxAttempts) return { retry: false, reason: "attempts" };
		this.#backoff = this.#backoff === undefined ? this.#factory.next() : this.#backoff.next(undefined);
		let delayMs = this.#backoff.duration;
		const asked = outcome.error === undefined ? retryAfterMs(outcome.headers) : undefined;
		if (asked !== undefined) {
			if (asked > o.maxRetryAfterMs) return { retry: false, reason: "retryAfterTooLong" };
			delayMs = asked;
		}
		if (delayMs >= this.deadline.remainingMs) return { retry: false, reason: "deadline" };
		return { retry: true, delayMs };
	}
}

export function createRetryPolicy(options?: RetryOptions): RetryPolicy {
	return new RetryPolicy(options);
}
