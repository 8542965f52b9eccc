/**
 * One call through the client, from `dispatch()` to the last byte: the policies before each
 * attempt (429 cooldown, rate limit, circuit breaker), the attempts themselves, and the rule
 * that decides everything about retries: nothing is retried once the caller has seen the
 * response's headers. A retryable response is drained and dropped instead of reaching the
 * caller; a request that met a dead keep-alive connection, or whose connection closed before
 * it was written (HTTP/2 GOAWAY), is sent again on another connection.
 */
import type { Dispatcher } from "undici";
import { ErrorCode, messageOf } from "../../core/errors.ts";
import { Lease } from "../../core/lease.ts";
import type { LinkedEntry } from "../../core/linked-set.ts";
import type { CircuitBreakers } from "../../resilience/circuit-breakers.ts";
import type { Cooldowns } from "../../resilience/cooldowns.ts";
import { Deadline, sleep } from "../../resilience/deadline.ts";
import { CircuitOpenError, DeadlineExceededError, RequestAbortedError } from "../../resilience/errors.ts";
import type { RateLimiter, Reservation } from "../../resilience/rate-limiter.ts";
import { retryAfterMs } from "../../resilience/retry-after.ts";
import { isRepeatableRequest, isReplayableBody, type RetryPolicy, type RetryState } from "../../resilience/retry-policy.ts";
import { isRetryableError } from "../../resilience/retryable-errors.ts";
import type { HttpConnection } from "./connection.ts";
import { ConnectionRetiredError } from "./errors.ts";
import { type LegacyHandler, rawHeader } from "./legacy-handler.ts";
import type { ResolvedHttpOptions } from "./options.ts";
import type { OriginCounters, TimeoutKind } from "./origin-stats.ts";

/** lifeguard's per-call options, read from the dispatch options and not passed on to undici. */
export interface HttpCallOptions {
	/** Overall deadline: waits, attempts, backoff and the body. Default: the client's `timeoutMs` (none). */
	timeoutMs?: number;
	/** Time to the response headers. Default: the client's `headersTimeoutMs` (15 min). undici's `headersTimeout` is accepted too. */
	headersTimeoutMs?: number;
	/** Longest silence between body chunks. Default: the client's `bodyTimeoutMs` (5 min). undici's `bodyTimeout` is accepted too. */
	bodyTimeoutMs?: number;
	/** The request is safe to send twice (the server deduplicates it); `false` never retries it. */
	retryable?: boolean;
	/** Tokens to reserve against a tokens-per-minute limit (an LLM call's estimate). */
	tokens?: number;
	/** The key of breaker, cooldown and rate limit. Default: the origin. */
	policyKey?: string;
	/** Receives the rate-limit reservation, to `settle()` it with the tokens the response reports. */
	onReservation?: (reservation: Reservation) => void;
}

/** A stream slot on a shared HTTP/2 connection. */
export interface StreamSlot {
	conn: HttpConnection;
	release(broken: boolean, error?: unknown): void;
}

/** A connection lent to one attempt: a leased HTTP/1.1 connection (the lease itself, no wrapper), or a stream slot. */
export type Slot = Lease<HttpConnection> | StreamSlot;

function releaseSlot(slot: Slot, broken: boolean, error?: unknown): void {
	if (!(slot instanceof Lease)) return slot.release(broken, error);
	if (broken) slot.destroy(error);
	else slot.release();
}

export interface ExchangeHost {
	readonly options: ResolvedHttpOptions;
	readonly retry: RetryPolicy | undefined;
	readonly breakers: CircuitBreakers | undefined;
	readonly cooldowns: Cooldowns | undefined;
	readonly limiter: RateLimiter | undefined;
	/**
	 * A connection for `exchange`'s origin, to `exchange.slotReady` or `exchange.slotFailed`
	 * (once; before this call returns when a connection is idle). On HTTP/1.1 `exchange.signal`
	 * is read only when the call may have to wait (HTTP/2 reads it on every call). Returns the
	 * error, calling neither, when the client is closed.
	 */
	acquire(exchange: Exchange, timeoutMs: number): Error | undefined;
	/** POOL_CLOSED once the client is closing: a call about to wait to be sent (a backoff, a cooldown, a rate limit) fails instead. */
	closedError(): Error | undefined;
	finished(exchange: Exchange): void;
}

/** Re-sends of requests that never reached the server, per call: enough for a GOAWAY and an expiring connection, not a loop. */
const MAX_RESENDS = 3;

type Outcome = { retry: boolean; delayMs: number; failure: string | undefined };
/**
 * Where an attempt's outcome goes: the resolvers of the promise a policy awaits, or undefined on
 * the fast path (no policy), where the exchange acts on it itself. Undefined saves the fast path
 * a closure per handler per attempt.
 */
type OnOutcome = ((o: Outcome) => void) | undefined;
type OnFinal = ((e: unknown) => void) | undefined;

export class Exchange {
	readonly origin: string;
	readonly #host: ExchangeHost;
	readonly #counters: OriginCounters;
	readonly #user: LegacyHandler;
	readonly #send: Dispatcher.DispatchOptions;
	readonly #key: string;
	readonly #call: HttpCallOptions;
	readonly #opts: Dispatcher.DispatchOptions;
	readonly #timeoutMs: number | undefined;
	#deadline: Deadline | undefined;
	#repeatable: boolean | undefined;
	/** Created on first need (a wait, a policy): most calls find an idle connection and never wait. */
	#controller: AbortController | undefined;
	#retry: RetryState | undefined;
	#timer: NodeJS.Timeout | undefined;
	#attempt: Attempt | undefined;
	#abortReason: Error | undefined;
	#delivered = false;
	#done = false;
	#staleRetried = false;
	#resends = 0;
	/** The handlers of the launch whose connection is being acquired (one at a time per call). */
	#launchResolve: OnOutcome = undefined;
	#launchReject: OnFinal = undefined;
	/** Waiting out a retry's backoff, a 429 cooldown or a rate limit: nothing of the call is on the wire. */
	#waiting = false;
	/** Attempts sent so far, re-sends included. */
	attempts = 0;
	/** Its place in the client's list of calls in flight. */
	inflight: LinkedEntry<Exchange> | undefined = undefined;

	constructor(host: ExchangeHost, origin: string, counters: OriginCounters, opts: Dispatcher.DispatchOptions & HttpCallOptions, user: LegacyHandler) {
		this.#host = host;
		this.origin = origin;
		this.#counters = counters;
		this.#user = user;
		this.#opts = opts;
		this.#call = opts;
		this.#key = opts.policyKey ?? origin;
		this.#timeoutMs = opts.timeoutMs ?? host.options.timeoutMs;
		// The Client already has the client's default timeouts: copy the options only to strip lifeguard's or to override those.
		const plain =
			opts.timeoutMs === undefined &&
			opts.headersTimeoutMs === undefined &&
			opts.bodyTimeoutMs === undefined &&
			opts.retryable === undefined &&
			opts.tokens === undefined &&
			opts.policyKey === undefined &&
			opts.onReservation === undefined;
		if (plain) {
			this.#send = opts;
		} else {
			const { timeoutMs: _t, headersTimeoutMs, bodyTimeoutMs, retryable: _r, tokens: _k, policyKey: _p, onReservation: _o, ...send } = opts;
			if (headersTimeoutMs !== undefined) send.headersTimeout = headersTimeoutMs;
			if (bodyTimeoutMs !== undefined) send.bodyTimeout = bodyTimeoutMs;
			this.#send = send;
		}
		if (host.retry !== undefined) this.#retry = host.retry.start(this.#request(), this.deadline);
	}

	#request(): { method: string; headers: unknown; body: unknown; retryable: boolean | undefined } {
		const o = this.#opts;
		return { method: o.method ?? "GET", headers: o.headers, body: o.body, retryable: this.#call.retryable };
	}

	/** The body can be sent again byte for byte (and the request is not an upgrade). */
	get #replayable(): boolean {
		return isReplayableBody(this.#opts.body) && this.#opts.upgrade == null;
	}

	/** Safe to send twice: replayable, and idempotent or marked retryable. Worked out only when an attempt failed. */
	get #isRepeatable(): boolean {
		this.#repeatable ??= this.#replayable && isRepeatableRequest(this.#request());
		return this.#repeatable;
	}

	/** Starts the call; the caller's handler hears about it only through its callbacks. */
	start(): void {
		this.#counters.requests++;
		this.#user.onConnect?.((reason) => this.abort(reason instanceof Error ? reason : new RequestAbortedError(reason)));
		if (this.#abortReason !== undefined) return this.#fail(this.#abortReason);
		// Infinity is no deadline: a timer for it would fire after 1 ms.
		if (this.#timeoutMs !== undefined && this.#timeoutMs !== Number.POSITIVE_INFINITY) {
			const deadline = this.deadline;
			this.#timer = setTimeout(() => this.abort(new DeadlineExceededError(deadline.timeoutMs, this.attempts)), deadline.remainingMs);
			this.#timer.unref();
		}
		if (this.#host.cooldowns === undefined && this.#host.limiter === undefined && this.#host.breakers === undefined) this.#attemptOnce();
		else this.#runPolicies();
	}

	/** Aborts the call wherever it is: waiting, in an attempt, or streaming the body. */
	abort(reason: Error): void {
		if (this.#done || this.#abortReason !== undefined) return;
		this.#abortReason = reason;
		this.#controller?.abort(reason);
		this.#attempt?.abort(reason);
	}

	/**
	 * The client is closing: a call that waits to be sent (a retry's backoff, a cooldown, a rate
	 * limit) would only find its origin's pool closed when the wait ends, so it fails now with
	 * `error` instead of holding up the close. A call on the wire is left to finish.
	 */
	endWait(error: () => Error): void {
		// Aborted with it: #fail reports the abort's reason, not the wrapped error the wait rejects with.
		if (this.#waiting && !this.#done && this.#abortReason === undefined) this.abort(error());
	}

	/** Aborted when the call is: for waits (a connection, a backoff, a rate limit). */
	get signal(): AbortSignal {
		this.#controller ??= new AbortController();
		if (this.#abortReason !== undefined && !this.#controller.signal.aborted) this.#controller.abort(this.#abortReason);
		return this.#controller.signal;
	}

	get deadline(): Deadline {
		this.#deadline ??= new Deadline(this.#timeoutMs);
		return this.#deadline;
	}

	/** The fast path: no policy before the attempt, so no promise around it either. */
	#attemptOnce(): void {
		this.#launch(undefined, undefined);
	}

	/** An attempt's outcome, to its policy's promise or (fast path) to the exchange. */
	settleOutcome(resolve: OnOutcome, outcome: Outcome): void {
		if (resolve === undefined) this.#afterAttempt(outcome);
		else resolve(outcome);
	}

	/** An attempt's final error, to its policy's promise or (fast path) to the caller. */
	settleError(reject: OnFinal, error: unknown): void {
		if (reject === undefined) this.#fail(error);
		else reject(error);
	}

	#afterAttempt(outcome: Outcome): void {
		if (!outcome.retry) return;
		if (outcome.delayMs <= 0) return this.#next();
		const closed = this.#host.closedError();
		if (closed !== undefined) return this.#fail(closed);
		this.#waiting = true;
		sleep(outcome.delayMs, { signal: this.signal, deadline: this.deadline }).then(
			() => {
				this.#waiting = false;
				this.#next();
			},
			(error) => {
				this.#waiting = false;
				this.#fail(error);
			},
		);
	}

	#next(): void {
		if (this.#host.cooldowns === undefined && this.#host.limiter === undefined && this.#host.breakers === undefined) this.#attemptOnce();
		else this.#runPolicies();
	}

	async #runPolicies(): Promise<void> {
		const { cooldowns, limiter, breakers } = this.#host;
		let outcome: Outcome;
		let reservation: Reservation | undefined;
		const attemptsBefore = this.attempts;
		try {
			const signal = this.signal;
			const deadline = this.deadline;
			if (cooldowns !== undefined || limiter !== undefined) {
				const closed = this.#host.closedError();
				if (closed !== undefined) throw closed;
				this.#waiting = true;
				try {
					if (cooldowns !== undefined) await cooldowns.wait(this.#key, { deadline, signal });
					if (limiter !== undefined) {
						reservation = await limiter.reserve(this.#key, { tokens: this.#call.tokens, deadline, signal });
						this.#call.onReservation?.(reservation);
					}
				} finally {
					this.#waiting = false;
				}
			}
			outcome =
				breakers === undefined
					? await new Promise<Outcome>((resolve, reject) => this.#launch(resolve, reject))
					: await breakers.get(this.#key).execute(
							() => new Promise<Outcome>((resolve, reject) => this.#launch(resolve, reject)),
							(o) => o.failure,
						);
		} catch (error) {
			// Refused by an open breaker, by the closed client, or aborted before it was sent: the request never left, so it used none of the budget.
			if (error instanceof CircuitOpenError || this.attempts === attemptsBefore) reservation?.cancel();
			return this.#fail(error);
		}
		this.#afterAttempt(outcome);
	}

	/**
	 * One attempt: `resolve` when its outcome is known (headers delivered, or a retry decided);
	 * `reject` with a final error. Both undefined on the fast path (see OnOutcome).
	 */
	#launch(resolve: OnOutcome, reject: OnFinal): void {
		if (this.#abortReason !== undefined) return this.settleError(reject, this.#abortReason);
		this.#launchResolve = resolve;
		this.#launchReject = reject;
		const acquireMs =
			this.#timeoutMs === undefined
				? this.#host.options.acquireTimeoutMs
				: Math.max(1, Math.min(this.#host.options.acquireTimeoutMs, this.deadline.remainingMs));
		// An idle connection comes back inside this call: the request is written now, as undici.Pool writes it, with no
		// promise between. What slotReady and slotFailed run (the user's handler among it) is not caught here.
		const refused = this.#host.acquire(this, acquireMs);
		// The client closed while this call waited for its retry: the pool of its origin is gone.
		if (refused !== undefined) this.settleError(reject, refused);
	}

	/** From the host: the connection for the launch under way. */
	slotReady(slot: Slot): void {
		const resolve = this.#launchResolve;
		const reject = this.#launchReject;
		if (this.#abortReason !== undefined) {
			releaseSlot(slot, false);
			return this.settleError(reject, this.#abortReason);
		}
		const attempt = new Attempt(this, slot, resolve, reject);
		this.#attempt = attempt;
		attempt.send(this.#send);
	}

	/** From the host: no connection for the launch under way. */
	slotFailed(error: unknown): void {
		// An acquire aborted by the pool for a failed connect carries the connect error: that is what the caller should see.
		const cause = (error as { code?: string; cause?: unknown }).code === ErrorCode.ACQUIRE_ABORTED ? (error as { cause?: unknown }).cause : undefined;
		this.#decideError(cause instanceof Error && this.#abortReason === undefined ? cause : error, false, this.#launchResolve, this.#launchReject);
	}

	// --- called by the attempt ---

	counters(): OriginCounters {
		return this.#counters;
	}

	/** At the response's headers: retry (drop this response) or deliver it to the caller. */
	onHeaders(statusCode: number, rawHeaders: Buffer[], attempt: Attempt): Outcome | undefined {
		const c = this.#counters;
		if (statusCode === 429) {
			c.tooManyRequests++;
			if (this.#host.cooldowns !== undefined && this.#host.options.cooldownOn429) {
				const asked = retryAfterMs({ get: (n) => rawHeader(rawHeaders, n) ?? null });
				this.#host.cooldowns.start(this.#key, asked ?? this.#host.options.defaultCooldownMs);
			}
		}
		const failure = statusCode >= 500 ? `HTTP ${statusCode}` : undefined;
		if (this.#retry?.policy.options.statuses.has(statusCode) && this.#abortReason === undefined) {
			const decision = this.#retry.decide({ status: statusCode, headers: { get: (n) => rawHeader(rawHeaders, n) ?? null } });
			if (decision.retry) {
				c.retries++;
				return { retry: true, delayMs: decision.delayMs, failure };
			}
		}
		this.#delivered = true;
		this.#countStatus(statusCode);
		attempt.resolveOutcome({ retry: false, delayMs: 0, failure });
		return undefined;
	}

	/** An attempt failed before its headers reached the caller. */
	onAttemptError(error: unknown, reused: boolean, resolve: OnOutcome, reject: OnFinal): void {
		this.#decideError(error, reused, resolve, reject);
	}

	#decideError(error: unknown, reused: boolean, resolve: OnOutcome, reject: OnFinal): void {
		if (this.#abortReason !== undefined) return this.settleError(reject, this.#abortReason);
		const c = this.#counters;
		// Never written: safe to send again whatever the method, when the body can be replayed.
		if (error instanceof ConnectionRetiredError && this.#resends < MAX_RESENDS && this.#replayable) {
			this.#resends++;
			c.resends++;
			return this.settleOutcome(resolve, { retry: true, delayMs: 0, failure: undefined });
		}
		// A keep-alive connection the server had already closed, or an HTTP/2 connection that went away under
		// its streams: the request most likely never arrived, and it is safe to repeat.
		if (reused && !this.#staleRetried && isRetryableError(error) && this.#isRepeatable) {
			this.#staleRetried = true;
			c.staleRetries++;
			return this.settleOutcome(resolve, { retry: true, delayMs: 0, failure: undefined });
		}
		if (this.#retry !== undefined) {
			const decision = this.#retry.decide({ error });
			if (decision.retry) {
				c.retries++;
				return this.settleOutcome(resolve, { retry: true, delayMs: decision.delayMs, failure: messageOf(error) });
			}
		}
		this.settleError(reject, error);
	}

	get user(): LegacyHandler {
		return this.#user;
	}

	get delivered(): boolean {
		return this.#delivered;
	}

	/** The call ended after its response was delivered: completed, or failed mid-body. */
	end(error?: Error): void {
		if (this.#done) return;
		this.#done = true;
		this.#cleanup();
		if (error === undefined) {
			this.#user.onComplete?.(this.#pendingTrailers);
			return;
		}
		this.#countError(error);
		this.#user.onError?.(error);
	}

	/** The connection was upgraded (CONNECT, WebSocket): the call is over, the socket is the caller's. */
	upgraded(): void {
		this.#delivered = true;
		if (this.#done) return;
		this.#done = true;
		this.#cleanup();
	}

	#pendingTrailers: Buffer[] | null = null;
	setTrailers(trailers: Buffer[] | null): void {
		this.#pendingTrailers = trailers;
	}

	#fail(error: unknown): void {
		if (this.#done) return;
		this.#done = true;
		this.#cleanup();
		let reason = error instanceof RequestAbortedError && this.#abortReason !== undefined ? this.#abortReason : (this.#abortReason ?? error);
		if (!(reason instanceof Error)) reason = new Error(String(reason));
		this.#countError(reason as Error);
		this.#user.onError?.(reason as Error);
	}

	#cleanup(): void {
		if (this.#timer !== undefined) clearTimeout(this.#timer);
		this.#host.finished(this);
	}

	#countStatus(status: number): void {
		const r = this.#counters.responses;
		if (status < 200) r["1xx"]++;
		else if (status < 300) r["2xx"]++;
		else if (status < 400) r["3xx"]++;
		else if (status < 500) r["4xx"]++;
		else r["5xx"]++;
	}

	#countError(error: Error): void {
		const c = this.#counters;
		c.errors++;
		const kind = timeoutKind(error);
		if (kind !== undefined) c.timeouts[kind]++;
	}
}

function timeoutKind(error: Error): TimeoutKind | undefined {
	switch ((error as { code?: unknown }).code) {
		case "UND_ERR_HEADERS_TIMEOUT":
			return "headers";
		case "UND_ERR_BODY_TIMEOUT":
			return "body";
		case "DEADLINE_EXCEEDED":
			return "deadline";
		case ErrorCode.POOL_TIMEOUT:
			return "acquire";
		case "UND_ERR_CONNECT_TIMEOUT":
		case ErrorCode.CREATE_TIMEOUT:
			return "connect";
		default:
			return undefined;
	}
}

/** One attempt on one connection: the handler undici calls. */
class Attempt implements LegacyHandler {
	readonly #exchange: Exchange;
	readonly #slot: Slot;
	readonly #conn: HttpConnection;
	readonly #reused: boolean;
	readonly #resolve: OnOutcome;
	readonly #reject: OnFinal;
	#abort: ((reason?: unknown) => void) | undefined;
	#pendingAbort: Error | undefined;
	/** A retryable response being drained: nothing of it reaches the caller. */
	#dropping: Outcome | undefined;
	#released = false;
	#outcomeSettled = false;

	constructor(exchange: Exchange, slot: Slot, resolve: OnOutcome, reject: OnFinal) {
		this.#exchange = exchange;
		this.#slot = slot;
		this.#resolve = resolve;
		this.#reject = reject;
		const conn = slot instanceof Lease ? slot.resource : slot.conn;
		this.#conn = conn;
		// Every stream but the first on an HTTP/2 connection shares it with others: a GOAWAY may cut it before it started.
		this.#reused = conn.requests > 0 || conn.protocol === "h2";
		conn.requests++;
		exchange.attempts++;
		const c = exchange.counters();
		c.sends++;
		if (this.#reused) c.reusedSends++;
	}

	send(opts: Dispatcher.DispatchOptions): void {
		// Its socket is gone and the pool has not heard yet (the close event is on its way): never written, so re-sent.
		if (this.#conn.socket.destroyed) return this.onError(new ConnectionRetiredError(this.#conn.origin));
		this.#conn.adopt();
		try {
			this.#conn.client.dispatch(opts, this as Dispatcher.DispatchHandler);
		} catch (error) {
			// undici answers a refused dispatch through onError, inside this call: a throw after that came from a
			// handler it called (the caller's among them), and is the caller's to see, not a second error of this attempt.
			if (this.#released) throw error;
			this.onError(error as Error);
		}
	}

	abort(reason: Error): void {
		if (this.#abort !== undefined) this.#abort(reason);
		else this.#pendingAbort = reason;
	}

	resolveOutcome(outcome: Outcome): void {
		if (this.#outcomeSettled) return;
		this.#outcomeSettled = true;
		this.#exchange.settleOutcome(this.#resolve, outcome);
	}

	onConnect(abort: (reason?: unknown) => void): void {
		this.#abort = abort;
		if (this.#pendingAbort !== undefined) abort(this.#pendingAbort);
	}

	onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
		if (statusCode < 200 && statusCode !== 101) return this.#exchange.user.onHeaders?.(statusCode, rawHeaders, resume, statusText) ?? true;
		const retry = this.#exchange.onHeaders(statusCode, rawHeaders, this);
		if (retry !== undefined) {
			this.#dropping = retry;
			return true;
		}
		return this.#exchange.user.onHeaders?.(statusCode, rawHeaders, resume, statusText) ?? true;
	}

	onData(chunk: Buffer): boolean {
		if (this.#dropping !== undefined) return true;
		return this.#exchange.user.onData?.(chunk) ?? true;
	}

	onComplete(trailers: Buffer[] | null): void {
		this.#release(false);
		if (this.#dropping !== undefined) return this.resolveOutcome(this.#dropping);
		this.#exchange.setTrailers(trailers);
		this.#exchange.end();
	}

	onError(error: Error): void {
		const broken = this.#conn.socket.destroyed || this.#conn.closed;
		this.#release(broken, error);
		if (this.#dropping !== undefined) return this.resolveOutcome(this.#dropping);
		if (this.#exchange.delivered) return this.#exchange.end(error);
		if (this.#outcomeSettled) return;
		this.#outcomeSettled = true;
		this.#exchange.onAttemptError(error, this.#reused, this.#resolve, this.#reject);
	}

	onUpgrade(statusCode: number, rawHeaders: Buffer[] | string[] | null, socket: import("node:stream").Duplex): void {
		// The socket now belongs to the caller: the pooled connection is gone.
		this.#conn.closing = true;
		this.#release(true);
		this.resolveOutcome({ retry: false, delayMs: 0, failure: undefined });
		this.#exchange.upgraded();
		this.#exchange.user.onUpgrade?.(statusCode, rawHeaders, socket);
	}

	onResponseStarted(): void {
		this.#exchange.user.onResponseStarted?.();
	}

	onBodySent(chunk: unknown): void {
		this.#exchange.user.onBodySent?.(chunk);
	}

	#release(broken: boolean, error?: unknown): void {
		if (this.#released) return;
		this.#released = true;
		releaseSlot(this.#slot, broken, error);
	}
}
