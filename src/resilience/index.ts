/**
 * lifeguard/resilience: retry with backoff and full jitter, circuit breakers per key, 429
 * cooldowns and rate limits (requests and tokens per minute), under one deadline per call.
 * Used by lifeguard/http and lifeguard/llm; usable alone.
 */
export {
	type BreakerOptions,
	type BreakerState,
	type BreakerStats,
	type BreakerTransition,
	type BreakerView,
	CircuitBreakers,
	KeyBreaker,
} from "./circuit-breakers.ts";
export { Cooldowns } from "./cooldowns.ts";
export { Deadline, sleep } from "./deadline.ts";
export {
	CircuitOpenError,
	DeadlineExceededError,
	RateLimitedError,
	type RateLimitKind,
	RequestAbortedError,
	ResilienceError,
	ResilienceErrorCode,
} from "./errors.ts";
export { type RateLimit, RateLimiter, type RateLimiterStats, Reservation, type ReserveOptions } from "./rate-limiter.ts";
export { type HeaderBag, retryAfterMs } from "./retry-after.ts";
export {
	type AttemptOutcome,
	createRetryPolicy,
	IDEMPOTENCY_KEY_HEADERS,
	IDEMPOTENT_METHODS,
	isRepeatableRequest,
	isReplayableBody,
	RETRY_DEFAULTS,
	RETRYABLE_STATUSES,
	type ResolvedRetryOptions,
	type RetryableRequest,
	type RetryDecision,
	type RetryOptions,
	RetryPolicy,
	RetryState,
	type RetryStopReason,
	type RunOptions,
} from "./retry-policy.ts";
export { isRetryableError, RETRYABLE_ERROR_CODES } from "./retryable-errors.ts";
