/**
 * A request whose response is read whole (a JSON answer, or an error body), straight over
 * `dispatcher.dispatch()`: the chunks are gathered as undici hands them over, with none of what
 * `request()` builds for a body read piece by piece (a Readable, its async iterator, the stream
 * plumbing that ends them). A non-streaming call is most of a gateway's traffic, and this is its
 * whole transport path. Failures reach the caller as undici's own errors (codes included), so
 * they are told apart exactly as the `request()` path tells them apart.
 */
import { performance } from "node:perf_hooks";
import type { Dispatcher } from "undici";
import { parseRawHeaders } from "../http/legacy-handler.ts";
import type { ResponseHeaders } from "./upstream.ts";

export interface WholeResponse {
	statusCode: number;
	headers: ResponseHeaders;
	/** `performance.now()` when the headers came. */
	headersAt: number;
	/** The body; for a status ≥ 400, its first `errorLimit` bytes. */
	body: Buffer;
	/** Set when the body failed after the headers came (a cut, a body timeout): the phase matters to the caller. */
	bodyError: Error | undefined;
}

export interface WholeRequestOptions extends Dispatcher.DispatchOptions {
	signal?: AbortSignal;
}

/** Resolves once the body is in (or failed after the headers); rejects when the request failed before its headers. */
export function requestWhole(dispatcher: Dispatcher, options: WholeRequestOptions, errorLimit: number): Promise<WholeResponse> {
	return new Promise((resolve, reject) => {
		const { signal, ...dispatch } = options;
		new WholeHandler(resolve, reject, signal, errorLimit).start(dispatcher, dispatch);
	});
}

class WholeHandler {
	readonly #resolve: (r: WholeResponse) => void;
	readonly #reject: (e: unknown) => void;
	readonly #signal: AbortSignal | undefined;
	readonly #errorLimit: number;
	#abort: ((reason?: unknown) => void) | undefined;
	#statusCode = 0;
	#headers: ResponseHeaders | undefined;
	#headersAt = 0;
	#chunks: Buffer[] = [];
	#length = 0;
	#limit = Number.POSITIVE_INFINITY;
	#settled = false;
	readonly #onAbort = () => this.#abort?.(this.#signal?.reason);

	constructor(resolve: (r: WholeResponse) => void, reject: (e: unknown) => void, signal: AbortSignal | undefined, errorLimit: number) {
		this.#resolve = resolve;
		this.#reject = reject;
		this.#signal = signal;
		this.#errorLimit = errorLimit;
	}

	start(dispatcher: Dispatcher, options: Dispatcher.DispatchOptions): void {
		if (this.#signal?.aborted) return this.#fail(this.#signal.reason);
		this.#signal?.addEventListener("abort", this.#onAbort, { once: true });
		try {
			dispatcher.dispatch(options, this as unknown as Dispatcher.DispatchHandler);
		} catch (error) {
			this.#fail(error);
		}
	}

	onConnect(abort: (reason?: unknown) => void): void {
		this.#abort = abort;
		if (this.#signal?.aborted) abort(this.#signal.reason);
	}

	onHeaders(statusCode: number, rawHeaders: Buffer[]): boolean {
		// 1xx (100-continue, 103 early hints) are not the response.
		if (statusCode < 200) return true;
		this.#statusCode = statusCode;
		this.#headersAt = performance.now();
		this.#headers = parseRawHeaders(rawHeaders) as ResponseHeaders;
		if (statusCode >= 400) this.#limit = this.#errorLimit;
		return true;
	}

	onData(chunk: Buffer): boolean {
		if (this.#length < this.#limit) this.#chunks.push(chunk);
		this.#length += chunk.length;
		return true;
	}

	onComplete(): void {
		this.#done(undefined);
	}

	onError(error: Error): void {
		// After the headers, the response exists: the caller decides what a broken body means.
		if (this.#headers !== undefined) this.#done(error);
		else this.#fail(error);
	}

	#done(bodyError: Error | undefined): void {
		if (this.#settled) return;
		this.#settled = true;
		this.#signal?.removeEventListener("abort", this.#onAbort);
		const chunks = this.#chunks;
		let body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
		if (body.length > this.#limit) body = body.subarray(0, this.#limit);
		this.#resolve({ statusCode: this.#statusCode, headers: this.#headers as ResponseHeaders, headersAt: this.#headersAt, body, bodyError });
	}

	#fail(error: unknown): void {
		if (this.#settled) return;
		this.#settled = true;
		this.#signal?.removeEventListener("abort", this.#onAbort);
		this.#reject(error);
	}
}
