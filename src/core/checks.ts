import { performance } from "node:perf_hooks";
import { ConnState, type PooledConnection } from "./connection.ts";
import { isThenable, withDeadline } from "./deadline.ts";
import { ValidationFailedError } from "./errors.ts";
import { CloseReason } from "./events.ts";
import type { ResolvedPoolOptions } from "./options.ts";

/** What the checks need from their pool. */
export interface CheckHost<T> {
	/** A check passed: the connection goes back through the retirement decision, then to a waiter or the idle list. */
	returnToService(conn: PooledConnection<T>): void;
	/** Hands a connection that needed no asynchronous work to a waiter, or makes it idle. */
	offer(conn: PooledConnection<T>, now: number | undefined): void;
	/** Closes a connection for good. */
	retire(conn: PooledConnection<T>, reason: CloseReason, error?: unknown): void;
	/** An asynchronous check ended in a retirement: close() may be waiting for it, waiters for its slot. */
	settled(): void;
	/** Keeps close() waiting for this work. */
	track(work: Promise<unknown>): void;
	/** Counts a failed validation (stats). */
	validationFailed(): void;
}

/**
 * The pool's own work on a connection between two borrowers: validation (on borrow after
 * `validateAfterIdleMs` idle, and the keepalive) and the `reset` hook on release. Both are bounded
 * by `validateTimeoutMs`; a failure closes the connection (reason `error`, counted as a fault).
 * While one runs the connection is `busy`: counted in the pool's size, neither idle nor leased,
 * and `inFlight` tells close() and the pump that it is coming back.
 */
export class ConnectionChecks<T> {
	/** Connections being validated or reset: already counted, soon offered. */
	inFlight = 0;
	readonly #options: ResolvedPoolOptions<T>;
	readonly #name: string;
	readonly #host: CheckHost<T>;

	constructor(options: ResolvedPoolOptions<T>, host: CheckHost<T>) {
		this.#options = options;
		this.#name = options.name;
		this.#host = host;
	}

	/** Validates `conn` (a no-op without a `validate` hook); it comes back through `returnToService` or is closed. */
	validate(conn: PooledConnection<T>): void {
		const validate = this.#options.validate;
		if (validate === undefined) return;
		conn.state = ConnState.busy;
		this.inFlight++;
		const timeoutMs = this.#options.validateTimeoutMs;
		const started = performance.now();
		const work = withDeadline(
			(signal) => validate(conn.resource, signal),
			timeoutMs,
			() => new ValidationFailedError(this.#name, new Error(`no answer within validateTimeoutMs (${timeoutMs} ms)`)),
		).then(
			(ok) => {
				this.inFlight--;
				if (ok === false) return this.#validationFailed(conn, new ValidationFailedError(this.#name));
				conn.checkedAt = performance.now();
				conn.recordLatency(conn.checkedAt - started);
				this.#host.returnToService(conn);
			},
			(error) => {
				this.inFlight--;
				this.#validationFailed(conn, error instanceof ValidationFailedError ? error : new ValidationFailedError(this.#name, error));
			},
		);
		this.#host.track(work);
	}

	#validationFailed(conn: PooledConnection<T>, error: ValidationFailedError): void {
		this.#host.validationFailed();
		this.#failed(conn, error);
	}

	/**
	 * Runs the reset hook, then offers the connection; a failed reset destroys it. A reset that
	 * finishes synchronously (nothing to clean) offers the connection at once: the deadline
	 * machinery (a timer, a controller, promises) cost a quarter of the throughput of a trivial
	 * reset. An asynchronous one is bounded by validateTimeoutMs.
	 */
	resetThenOffer(conn: PooledConnection<T>, now: number | undefined, reset: (resource: T) => void | Promise<void>): void {
		let result: void | Promise<void>;
		try {
			result = reset(conn.resource);
		} catch (error) {
			conn.recordFault(performance.now());
			this.#host.retire(conn, CloseReason.error, error);
			return;
		}
		if (!isThenable(result)) return this.#host.offer(conn, now);
		conn.state = ConnState.busy;
		this.inFlight++;
		const timeoutMs = this.#options.validateTimeoutMs;
		const work = withDeadline(
			() => result,
			timeoutMs,
			() => new Error(`reset took longer than validateTimeoutMs (${timeoutMs} ms)`),
		).then(
			() => {
				this.inFlight--;
				this.#host.returnToService(conn);
			},
			(error) => {
				this.inFlight--;
				this.#failed(conn, error);
			},
		);
		this.#host.track(work);
	}

	#failed(conn: PooledConnection<T>, error: unknown): void {
		conn.recordFault(performance.now());
		this.#host.retire(conn, CloseReason.error, error);
		this.#host.settled();
	}
}
