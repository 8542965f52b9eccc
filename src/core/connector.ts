import { performance } from "node:perf_hooks";
import { Backoff } from "./backoff.ts";
import { settleBySignal } from "./deadline.ts";
import { CreateTimeoutError } from "./errors.ts";
import type { ResolvedPoolOptions } from "./options.ts";

/** What the connector needs from its pool. */
export interface ConnectorHost<T> {
	/** A create is counted in `creating` and its factory is about to run: the pool's peak and `connectionCreated`. */
	opening(id: number): void;
	/** A create succeeded: the pool decides what becomes of the resource. `creating` already counts it out. */
	created(id: number, resource: T, generation: number, startedAt: number): void;
	/** A create failed, timed out or was aborted by close(). `creating` already counts it out. */
	createFailed(id: number, error: unknown): void;
	/** Destroys a resource nobody will use (a late arrival, one whose afterCreate failed). */
	destroyResource(resource: T): void;
	/** Keeps close() waiting for this work. */
	track(work: Promise<unknown>): void;
	/** The backoff is over: serve waiters and start the creates still needed. */
	retry(): void;
	/** True while someone awaits start(): the retry timer then keeps the process alive. */
	starting(): boolean;
}

/**
 * Opening connections: `create` + `afterCreate` under `createTimeoutMs` (settled by the signal
 * even when the factory ignores it; a resource that arrives late is destroyed), the count of
 * creates in flight (they count toward `max`), and the backoff after failures with its retry
 * timer. How many to create, and when, is the pool's policy (`#fill`); the connector only runs them.
 */
export class Connector<T> {
	/** Creates in flight. */
	creating = 0;
	/** The last failed create's error (kept after a success: stats() still shows it). */
	lastError: unknown = undefined;
	/** True from a failed create until the next success. */
	failing = false;
	readonly #options: ResolvedPoolOptions<T>;
	readonly #host: ConnectorHost<T>;
	readonly #backoff: Backoff;
	readonly #controllers = new Set<AbortController>();
	#retryAt = 0;
	#retryTimer: NodeJS.Timeout | undefined = undefined;

	constructor(options: ResolvedPoolOptions<T>, host: ConnectorHost<T>) {
		this.#options = options;
		this.#host = host;
		this.#backoff = new Backoff(options.createRetryInitialMs, options.createRetryMaxMs);
	}

	/** True while failed creates back off; arms one timer that calls `retry()` when it is over. */
	backingOff(now: number): boolean {
		if (now >= this.#retryAt) return false;
		if (this.#retryTimer === undefined) {
			this.#retryTimer = setTimeout(
				() => {
					this.#retryTimer = undefined;
					this.#host.retry();
				},
				Math.max(0, this.#retryAt - performance.now()) + 1,
			);
			// Background warming alone never keeps the process alive; a pending start() does.
			if (!this.#host.starting()) this.#retryTimer.unref();
		}
		return true;
	}

	/** Starts one create for connection `id` of `generation`; its end goes to the host's `created` or `createFailed`. */
	start(id: number, generation: number): void {
		this.creating++;
		this.#host.opening(id);
		const started = performance.now();
		const controller = new AbortController();
		this.#controllers.add(controller);
		const timeoutMs = this.#options.createTimeoutMs;
		const timer = setTimeout(() => controller.abort(new CreateTimeoutError(this.#options.name, timeoutMs)), timeoutMs);
		timer.unref();
		const work = this.#attempt(controller.signal).then(
			(resource) => {
				clearTimeout(timer);
				this.#controllers.delete(controller);
				this.creating--;
				this.#host.created(id, resource, generation, started);
			},
			(error) => {
				clearTimeout(timer);
				this.#controllers.delete(controller);
				this.creating--;
				this.#host.createFailed(id, error);
			},
		);
		this.#host.track(work);
	}

	/** create + afterCreate, settled by the signal even when the factory ignores it; a late resource is destroyed. */
	#attempt(signal: AbortSignal): Promise<T> {
		const { create, afterCreate } = this.#options;
		const attempt = (async () => {
			const resource = await create(signal);
			if (afterCreate !== undefined) {
				try {
					await afterCreate(resource, signal);
				} catch (error) {
					this.#host.destroyResource(resource);
					throw error;
				}
			}
			return resource;
		})();
		return settleBySignal(attempt, signal, (late) => this.#host.destroyResource(late));
	}

	/** A connection opened: the backoff starts over. */
	succeeded(): void {
		this.#backoff.succeed();
		this.failing = false;
		this.#retryAt = 0;
	}

	/** A create failed at `now`: the next waits for the backoff. */
	failed(now: number, error: unknown): void {
		this.lastError = error;
		this.failing = true;
		this.#retryAt = now + this.#backoff.fail();
	}

	/** close(): aborts the creates in flight (with `reason`) and the retry timer. */
	stop(reason: Error): void {
		for (const controller of this.#controllers) controller.abort(reason);
		clearTimeout(this.#retryTimer);
	}
}
