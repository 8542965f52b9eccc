/**
 * Received messages as an async iterator with backpressure: each iterator buffers up to its
 * high-water mark, and while any iterator of a connection is that far behind the connection
 * stops reading its socket (TCP then slows the server) until the iterator has caught up to half.
 */
import { durationProblem } from "../../core/duration.ts";
import { ConfigError } from "../../core/errors.ts";
import { WebSocketReceiveOverflowError, WebSocketReceiveTimeoutError } from "./errors.ts";

/**
 * A per-call deadline Node cannot arm as given (negative, NaN, past 2^31-1 ms: each fires after
 * 1 ms; a string) as the ConfigError to fail the call with, or undefined when it is usable.
 */
export function timeoutProblem(what: string, timeoutMs: unknown): ConfigError | undefined {
	if (timeoutMs === undefined) return undefined;
	const problem = durationProblem(timeoutMs);
	return problem === undefined ? undefined : new ConfigError(what, [{ path: "timeoutMs", message: problem }]);
}

interface Taker<T> {
	resolve(result: IteratorResult<T>): void;
	reject(error: unknown): void;
}

export interface TakeOptions {
	/** Give up waiting after this long (QUERY_TIMEOUT). */
	timeoutMs?: number;
	signal?: AbortSignal;
}

/**
 * Where receive()'s buffer dropped messages: it sits between the ones kept before and after, so
 * the reader learns of the gap in order. Drops in a row add to the same one.
 */
class Gap {
	dropped = 1;
}

export class MessageStream<T> implements AsyncIterableIterator<T> {
	readonly #label: string;
	readonly #highWaterMark: number;
	readonly #onPressure: () => void;
	readonly #onDone: (stream: MessageStream<T>) => void;
	#buffer: (T | Gap)[] = [];
	#head = 0;
	/** Gaps in the buffer from #head on: they hold no message, so they take no room under the high-water mark. */
	#gaps = 0;
	#takers: Taker<T>[] = [];
	#done = false;
	#error: unknown;
	#full = false;
	/** For receive()'s buffer: true while other readers are open, whom a full buffer must not stall. */
	readonly #yields: (() => boolean) | undefined;

	constructor(label: string, highWaterMark: number, onPressure: () => void, onDone: (stream: MessageStream<T>) => void, yields?: () => boolean) {
		this.#label = label;
		this.#highWaterMark = highWaterMark;
		this.#onPressure = onPressure;
		this.#onDone = onDone;
		this.#yields = yields;
	}

	/**
	 * True while this iterator holds its high-water mark or more, and so holds the socket. A
	 * yielding stream (receive()'s) does not while another reader is open: it drops instead.
	 */
	get full(): boolean {
		return this.#full && this.#yields?.() !== true;
	}

	get buffered(): number {
		return this.#buffer.length - this.#head - this.#gaps;
	}

	/** @internal A message arrived. */
	push(value: T): void {
		if (this.#done) return;
		const taker = this.#takers.shift();
		if (taker !== undefined) return taker.resolve({ value, done: false });
		if (this.buffered >= this.#highWaterMark && this.#yields?.() === true) {
			// Only a yielding stream (receive()'s) drops, and says so where the reader meets the gap.
			const last = this.#buffer.length > this.#head ? this.#buffer[this.#buffer.length - 1] : undefined;
			if (last instanceof Gap) last.dropped++;
			else {
				this.#buffer.push(new Gap());
				this.#gaps++;
			}
			return;
		}
		this.#buffer.push(value);
		if (!this.#full && this.buffered >= this.#highWaterMark) {
			this.#full = true;
			this.#onPressure();
		}
	}

	/** @internal No more messages: waiting takers end (or fail with `error`); buffered messages can still be read. */
	end(error?: unknown): void {
		if (this.#done) return;
		this.#done = true;
		this.#error = error;
		for (const taker of this.#takers.splice(0)) {
			if (error === undefined) taker.resolve({ value: undefined, done: true });
			else taker.reject(error);
		}
		this.#onDone(this);
	}

	next(): Promise<IteratorResult<T>> {
		return this.take();
	}

	/** The next message; `timeoutMs` and `signal` bound the wait. */
	take(options: TakeOptions = {}): Promise<IteratorResult<T>> {
		const { timeoutMs, signal } = options;
		const badTimeout = timeoutProblem(`websocket "${this.#label}": receive()`, timeoutMs);
		if (badTimeout !== undefined) return Promise.reject(badTimeout);
		if (this.#buffer.length > this.#head) {
			const value = this.#shift();
			// A gap rejects this one take() only: the next goes on with the messages kept after it.
			if (value instanceof Gap) return Promise.reject(new WebSocketReceiveOverflowError(this.#label, value.dropped, this.#highWaterMark));
			return Promise.resolve({ value, done: false });
		}
		if (this.#done) return this.#error === undefined ? Promise.resolve({ value: undefined, done: true }) : Promise.reject(this.#error);
		if (signal?.aborted) return Promise.reject(signal.reason);
		return new Promise<IteratorResult<T>>((resolve, reject) => {
			let timer: NodeJS.Timeout | undefined;
			const settle = () => {
				if (timer !== undefined) clearTimeout(timer);
				signal?.removeEventListener("abort", onAbort);
				const i = this.#takers.indexOf(taker);
				if (i >= 0) this.#takers.splice(i, 1);
			};
			const taker: Taker<T> = {
				resolve: (r) => {
					settle();
					resolve(r);
				},
				reject: (e) => {
					settle();
					reject(e);
				},
			};
			const onAbort = () => taker.reject(signal?.reason);
			signal?.addEventListener("abort", onAbort, { once: true });
			if (timeoutMs !== undefined) timer = setTimeout(() => taker.reject(new WebSocketReceiveTimeoutError(this.#label, timeoutMs)), timeoutMs);
			this.#takers.push(taker);
		});
	}

	/** Stops this iterator (a `for await` loop that breaks calls it). */
	return(): Promise<IteratorResult<T>> {
		this.#buffer = [];
		this.#head = 0;
		this.#gaps = 0;
		if (this.#full) {
			this.#full = false;
			this.#onPressure();
		}
		this.end();
		return Promise.resolve({ value: undefined, done: true });
	}

	[Symbol.asyncIterator](): AsyncIterableIterator<T> {
		return this;
	}

	#shift(): T | Gap {
		const value = this.#buffer[this.#head] as T | Gap;
		this.#buffer[this.#head] = undefined as T;
		this.#head++;
		if (value instanceof Gap) this.#gaps--;
		if (this.#head > 1024 && this.#head * 2 > this.#buffer.length) {
			this.#buffer = this.#buffer.slice(this.#head);
			this.#head = 0;
		}
		if (this.#full && this.buffered <= this.#highWaterMark / 2) {
			this.#full = false;
			this.#onPressure();
		}
		return value;
	}
}
