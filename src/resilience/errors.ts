/**
 * The resilience layer's typed errors. Codes are data, like the core's: match on `err.code`.
 */
import { LifeguardError } from "../core/errors.ts";

export const ResilienceErrorCode = {
	CIRCUIT_OPEN: "CIRCUIT_OPEN",
	RATE_LIMITED: "RATE_LIMITED",
	DEADLINE_EXCEEDED: "DEADLINE_EXCEEDED",
	REQUEST_ABORTED: "REQUEST_ABORTED",
} as const;
export type ResilienceErrorCode = (typeof ResilienceErrorCode)[keyof typeof ResilienceErrorCode];

// Registers these codes as LifeguardError codes (see LifeguardErrorCodes in the core).
declare module "../core/errors.ts" {
	interface LifeguardErrorCodes {
		resilience: ResilienceErrorCode;
	}
}

/** Base of the resilience errors: `code` is one of {@link ResilienceErrorCode}. */
export class ResilienceError extends LifeguardError {
	declare readonly code: ResilienceErrorCode;
	constructor(code: ResilienceErrorCode, message: string, options?: { cause?: unknown }) {
		super(code, message, options);
	}
}

/** The breaker of `key` is open: calls fail at once until `retryAtMs`, when one probe is let through. */
export class CircuitOpenError extends ResilienceError {
	readonly key: string;
	readonly retryAtMs: number | undefined;
	constructor(key: string, retryAtMs: number | undefined, lastError: string | undefined) {
		const when = retryAtMs === undefined ? "" : `; the next probe goes through in ${Math.max(0, Math.round(retryAtMs - Date.now()))} ms`;
		const last = lastError === undefined ? "" : ` (last failure: ${lastError})`;
		super(ResilienceErrorCode.CIRCUIT_OPEN, `circuit breaker for "${key}" is open after repeated failures${last}${when}`);
		this.key = key;
		this.retryAtMs = retryAtMs;
	}
}

/** Why a rate-limited call could not start within its deadline. */
export type RateLimitKind = "requests" | "tokens" | "cooldown";

/** A rate limit (or a 429 cooldown) would hold the call past its deadline, so it was refused at once rather than left to time out. */
export class RateLimitedError extends ResilienceError {
	readonly key: string;
	readonly limit: RateLimitKind;
	/** How long the call would have had to wait. */
	readonly waitMs: number;
	constructor(key: string, limit: RateLimitKind, waitMs: number, remainingMs: number) {
		const what =
			limit === "cooldown"
				? `"${key}" is cooling down after a 429 (Too Many Requests)`
				: `the ${limit === "requests" ? "requests" : "tokens"}-per-minute limit of "${key}" is spent`;
		super(
			ResilienceErrorCode.RATE_LIMITED,
			`${what}: the call would wait ${Math.round(waitMs)} ms but its deadline is ${Math.round(Math.max(0, remainingMs))} ms away; retry later or give it a longer deadline`,
		);
		this.key = key;
		this.limit = limit;
		this.waitMs = waitMs;
	}
}

/** The overall deadline across all attempts passed. */
export class DeadlineExceededError extends ResilienceError {
	readonly timeoutMs: number;
	readonly attempts: number;
	constructor(timeoutMs: number, attempts: number, cause?: unknown) {
		super(
			ResilienceErrorCode.DEADLINE_EXCEEDED,
			`deadline of ${timeoutMs} ms passed after ${attempts} attempt${attempts === 1 ? "" : "s"}; raise timeoutMs or look at why the backend is slow`,
			cause === undefined ? undefined : { cause },
		);
		this.timeoutMs = timeoutMs;
		this.attempts = attempts;
	}
}

/** The caller's signal aborted the call; `cause` is the signal's reason. */
export class RequestAbortedError extends ResilienceError {
	constructor(reason: unknown) {
		super(ResilienceErrorCode.REQUEST_ABORTED, "aborted by the caller's signal", { cause: reason });
	}
}
