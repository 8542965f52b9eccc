/**
 * A circuit breaker per key (an origin, a deployment), on cockatiel's breaker: closed → open
 * after `failureThreshold` consecutive failures → half-open after `halfOpenAfterMs`, where
 * exactly one probe goes through (other callers wait for its verdict) → closed on success,
 * open again on failure. Each key keeps its counters and a short history of transitions for
 * statistics and the dashboard (`BreakerView` in the manager).
 */
import { BrokenCircuitError, type CircuitBreakerPolicy, CircuitState, ConsecutiveBreaker, circuitBreaker, handleWhen } from "cockatiel";
import { suggestion } from "../core/did-you-mean.ts";
import { durationProblem } from "../core/duration.ts";
import { ConfigError, type ConfigProblem, messageOf, PoolClosedError } from "../core/errors.ts";
import { quoteValue } from "../core/quote-value.ts";
import { CircuitOpenError, RateLimitedError, RequestAbortedError } from "./errors.ts";

export type BreakerState = "closed" | "open" | "halfOpen";

/** One breaker as statistics show it; the manager's `BreakerView` has this shape, so clients return it as is. */
export interface BreakerView {
	/** What the breaker guards: an origin, a deployment. */
	readonly label: string;
	readonly state: BreakerState;
	/** When an open breaker lets its next probe through (epoch ms). */
	readonly retryAtMs?: number;
	/** Consecutive failures so far. */
	readonly failures: number;
	readonly lastError?: string;
}

export interface BreakerOptions {
	/** Consecutive failures that open the breaker. Default 5. */
	failureThreshold?: number;
	/** How long an open breaker refuses calls before it lets one probe through. Default 10 000. */
	halfOpenAfterMs?: number;
	/** Transitions kept per key for statistics. Default 20. */
	historySize?: number;
	/** Which thrown errors count as failures. Default: all but the caller's own (aborts, rate limits). */
	isFailure?: (error: unknown) => boolean;
}

export interface BreakerTransition {
	atMs: number;
	from: BreakerState;
	to: BreakerState;
	/** The failure that opened it, when it opened. */
	reason?: string;
}

export interface BreakerStats extends BreakerView {
	totalFailures: number;
	totalSuccesses: number;
	/** Calls refused at once because the breaker was open. */
	rejected: number;
	opened: number;
	history: BreakerTransition[];
}

const STATE_NAMES: Record<number, BreakerState> = {
	[CircuitState.Closed]: "closed",
	[CircuitState.Open]: "open",
	[CircuitState.HalfOpen]: "halfOpen",
	[CircuitState.Isolated]: "open",
};

/** A failure carried as a value, so a response (a 503) can count against the breaker and still reach the caller. */
class FailedResult {
	readonly value: unknown;
	readonly reason: string;
	constructor(value: unknown, reason: string) {
		this.value = value;
		this.reason = reason;
	}
}

/** Not the key's fault: the caller gave up, a rate limit said wait, or the client itself is closed. */
function isCallerError(error: unknown): boolean {
	return (
		error instanceof RequestAbortedError ||
		error instanceof RateLimitedError ||
		error instanceof PoolClosedError ||
		(error instanceof Error && error.name === "AbortError")
	);
}

/** The breaker of one key. */
export class KeyBreaker {
	readonly key: string;
	readonly #policy: CircuitBreakerPolicy;
	readonly #halfOpenAfterMs: number;
	readonly #historySize: number;
	readonly #isFailure: (error: unknown) => boolean;
	readonly #history: BreakerTransition[] = [];
	#state: BreakerState = "closed";
	#consecutive = 0;
	#totalFailures = 0;
	#totalSuccesses = 0;
	#rejected = 0;
	#opened = 0;
	#openedAtMs = 0;
	#lastError: string | undefined;

	constructor(key: string, threshold: number, halfOpenAfterMs: number, historySize: number, isFailure: (error: unknown) => boolean) {
		this.key = key;
		this.#halfOpenAfterMs = halfOpenAfterMs;
		this.#historySize = historySize;
		this.#isFailure = isFailure;
		this.#policy = circuitBreaker(
			handleWhen((error) => isFailure(error)).orWhenResult((r) => r instanceof FailedResult),
			{ halfOpenAfter: halfOpenAfterMs, breaker: new ConsecutiveBreaker(threshold) },
		);
		this.#policy.onStateChange((next) => this.#transition(STATE_NAMES[next] ?? "open"));
	}

	get state(): BreakerState {
		// cockatiel moves to half-open lazily, on the next call; report when the probe is due.
		if (this.#state === "open" && Date.now() >= this.#openedAtMs + this.#halfOpenAfterMs) return "halfOpen";
		return this.#state;
	}

	/**
	 * Runs `fn` through the breaker. `failed(value)` names why a resolved value counts as a
	 * failure (a 5xx response), or returns undefined; the value is returned either way.
	 * Throws CIRCUIT_OPEN at once while the breaker is open.
	 */
	async execute<T>(fn: () => Promise<T>, failed?: (value: T) => string | undefined): Promise<T> {
		let result: unknown;
		try {
			result = await this.#policy.execute(async () => {
				const value = await fn();
				const reason = failed?.(value);
				return reason === undefined ? value : new FailedResult(value, reason);
			});
		} catch (error) {
			if (error instanceof BrokenCircuitError) {
				this.#rejected++;
				throw new CircuitOpenError(this.key, this.#openedAtMs + this.#halfOpenAfterMs, this.#lastError);
			}
			// The breaker's own predicate, so the statistics count what the breaker counted.
			if (this.#isFailure(error)) this.#failure(messageOf(error));
			throw error;
		}
		if (result instanceof FailedResult) {
			this.#failure(result.reason);
			return result.value as T;
		}
		this.#consecutive = 0;
		this.#totalSuccesses++;
		return result as T;
	}

	view(): BreakerView {
		const state = this.state;
		return {
			label: this.key,
			state,
			...(state === "closed" ? {} : { retryAtMs: this.#openedAtMs + this.#halfOpenAfterMs }),
			failures: this.#consecutive,
			...(this.#lastError === undefined ? {} : { lastError: this.#lastError }),
		};
	}

	stats(): BreakerStats {
		return {
			...this.view(),
			totalFailures: this.#totalFailures,
			totalSuccesses: this.#totalSuccesses,
			rejected: this.#rejected,
			opened: this.#opened,
			history: [...this.#history],
		};
	}

	#failure(reason: string): void {
		this.#consecutive++;
		this.#totalFailures++;
		this.#lastError = reason;
	}

	#transition(to: BreakerState): void {
		const from = this.#state;
		if (from === to) return;
		this.#state = to;
		const entry: BreakerTransition = { atMs: Date.now(), from, to };
		if (to === "open") {
			this.#opened++;
			this.#openedAtMs = entry.atMs;
			if (this.#lastError !== undefined) entry.reason = this.#lastError;
		}
		this.#history.push(entry);
		if (this.#history.length > this.#historySize) this.#history.shift();
	}
}

const BREAKER_KEYS = ["failureThreshold", "halfOpenAfterMs", "historySize", "isFailure"];

/**
 * Every problem of breaker options, each with its path. Each value's type is checked, not only its
 * range: `halfOpenAfterMs: "5000"` passed `>= 0` and was then compared as a string, and
 * Infinity or a value past 2^31-1 ms meant a breaker that never half-opens.
 */
export function breakerOptionProblems(options: unknown): ConfigProblem[] {
	if (options === null || typeof options !== "object" || Array.isArray(options)) {
		return [{ path: "(options)", message: `must be an object of breaker options, got ${quoteValue(options)}` }];
	}
	const o = options as Record<string, unknown>;
	const problems: ConfigProblem[] = [];
	for (const key of Object.keys(o)) {
		if (!BREAKER_KEYS.includes(key)) problems.push({ path: key, message: `unknown option${suggestion(key, BREAKER_KEYS)}` });
	}
	const integer = (key: string, min: number) => {
		const value = o[key];
		if (value !== undefined && !(Number.isInteger(value) && (value as number) >= min)) {
			problems.push({ path: key, message: `must be an integer >= ${min}, got ${quoteValue(value)}` });
		}
	};
	integer("failureThreshold", 1);
	integer("historySize", 0);
	const halfOpen = o.halfOpenAfterMs === undefined ? undefined : durationProblem(o.halfOpenAfterMs, { allowZero: true });
	if (halfOpen !== undefined) problems.push({ path: "halfOpenAfterMs", message: halfOpen });
	if (o.isFailure !== undefined && typeof o.isFailure !== "function") {
		problems.push({ path: "isFailure", message: `must be a function (error) => boolean, got ${quoteValue(o.isFailure)}` });
	}
	return problems;
}

/** Breakers for any number of keys, created on first use with the same options. */
export class CircuitBreakers {
	readonly #breakers = new Map<string, KeyBreaker>();
	readonly #threshold: number;
	readonly #halfOpenAfterMs: number;
	readonly #historySize: number;
	readonly #isFailure: (error: unknown) => boolean;

	constructor(options: BreakerOptions = {}) {
		const problems = breakerOptionProblems(options);
		if (problems.length > 0) throw new ConfigError("circuit breaker", problems);
		this.#threshold = options.failureThreshold ?? 5;
		this.#halfOpenAfterMs = options.halfOpenAfterMs ?? 10_000;
		this.#historySize = options.historySize ?? 20;
		this.#isFailure = options.isFailure ?? ((error) => !isCallerError(error));
	}

	get(key: string): KeyBreaker {
		let breaker = this.#breakers.get(key);
		if (breaker === undefined) {
			breaker = new KeyBreaker(key, this.#threshold, this.#halfOpenAfterMs, this.#historySize, this.#isFailure);
			this.#breakers.set(key, breaker);
		}
		return breaker;
	}

	views(): BreakerView[] {
		return [...this.#breakers.values()].map((b) => b.view());
	}

	stats(): Record<string, BreakerStats> {
		return Object.fromEntries([...this.#breakers].map(([key, b]) => [key, b.stats()]));
	}
}
