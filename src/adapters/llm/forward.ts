/**
 * What `forward()` hands a gateway: the upstream's status, headers and bytes unchanged, and,
 * when the upstream cuts a stream after the first byte, one error event in the caller's own
 * format appended at a frame boundary (never a clean end, never a `[DONE]`), which the official
 * SDKs raise as an error.
 */
import type { LlmApi, WireFormat } from "./api.ts";
import type { Blocks } from "./block-stream.ts";
import { type LlmError, LlmErrorCode } from "./errors.ts";
import type { ResponseHeaders } from "./upstream.ts";
import type { LlmUsage } from "./usage.ts";

export interface ForwardRequest {
	api: LlmApi;
	/** The request body as the caller sent it (parsed JSON); `model` picks the deployments, `stream: true` streams. */
	body: Record<string, unknown>;
	/**
	 * `body`'s own JSON bytes (as the caller sent them, or with a key added that `body` has too):
	 * sent upstream unchanged when nothing in the body needs rewriting (the deployment's model
	 * name is the one asked for, and no translation), so the body is not serialised again. Must
	 * be read the same by any parser: valid UTF-8, no top-level key twice (parsers differ on which
	 * one wins), no escape in a top-level key. The gateway passes it only then; otherwise leave
	 * it out and `body` is serialised.
	 */
	raw?: Uint8Array;
	/** The caller went away: the upstream request is aborted. */
	signal?: AbortSignal;
	/** Extra request headers for the upstream (`anthropic-beta`); the provider's own auth headers always win. */
	headers?: Record<string, string>;
}

export interface ForwardResponse {
	/** The upstream's status, or the status of lifeguard's own error (404 unknown model, 503 nothing available, 502/504 upstream failures). */
	status: number;
	/** The upstream's headers without hop-by-hop ones and `set-cookie`; for lifeguard's errors, `content-type` and `retry-after`. A new object for each response: the gateway may add to it. */
	headers: Record<string, string>;
	/** The deployment that answered or failed last (`provider/model`); undefined when none was tried. */
	deployment: string | undefined;
	/** True when the body is SSE. */
	stream: boolean;
	/**
	 * The bytes to send, as they arrive, read only as fast as they are consumed. Read it to the
	 * end or call `body.return()`: leaving it aborts the upstream and frees the deployment's slot.
	 */
	body: AsyncIterableIterator<Uint8Array>;
	/** Settles when the body ends: the tokens the provider reported, if any. */
	usage: Promise<LlmUsage | undefined>;
	/** Set when the request failed before its first byte (the body is then an error in the caller's format). */
	error: LlmError | undefined;
}

const HOP_BY_HOP = new Set([
	"connection",
	"keep-alive",
	"transfer-encoding",
	"te",
	"trailer",
	"upgrade",
	"proxy-authenticate",
	"proxy-authorization",
	"set-cookie",
]);

/** The upstream headers a gateway may pass on. */
export function passHeaders(headers: ResponseHeaders): Record<string, string> {
	const out: Record<string, string> = {};
	for (const name in headers) {
		const value = headers[name];
		if (value === undefined || HOP_BY_HOP.has(name)) continue;
		out[name] = Array.isArray(value) ? value.join(", ") : value;
	}
	return out;
}

/** The error event that ends a cut stream, in the caller's format. */
export function cutEvent(format: WireFormat, error: LlmError): Uint8Array {
	if (format === "anthropic") {
		const type = error.code === LlmErrorCode.OVERLOADED ? "overloaded_error" : error.code === LlmErrorCode.TIMEOUT ? "timeout_error" : "api_error";
		return Buffer.from(`event: error\ndata: ${JSON.stringify({ type: "error", error: { type, message: error.message } })}\n\n`);
	}
	const code = error.code === LlmErrorCode.STREAM_CUT ? "upstream_stream_cut" : error.code === LlmErrorCode.TIMEOUT ? "upstream_timeout" : null;
	return Buffer.from(`data: ${JSON.stringify({ error: { message: error.message, type: "server_error", param: null, code } })}\n\n`);
}

/** One chunk, then the end. */
export class OneChunk implements AsyncIterableIterator<Uint8Array> {
	#chunk: Uint8Array | undefined;
	constructor(chunk: Uint8Array) {
		this.#chunk = chunk;
	}
	[Symbol.asyncIterator](): this {
		return this;
	}
	async next(): Promise<IteratorResult<Uint8Array, undefined>> {
		const chunk = this.#chunk;
		if (chunk === undefined) return { done: true, value: undefined };
		this.#chunk = undefined;
		return { done: false, value: chunk };
	}
	async return(): Promise<IteratorResult<Uint8Array, undefined>> {
		this.#chunk = undefined;
		return { done: true, value: undefined };
	}
}

/** A stream's bytes for a gateway: the upstream's frames, then an error event if the upstream cut it. */
export class ForwardBody implements AsyncIterableIterator<Uint8Array> {
	readonly #blocks: Blocks;
	readonly #format: WireFormat;
	#done = false;

	constructor(blocks: Blocks, format: WireFormat) {
		this.#blocks = blocks;
		this.#format = format;
	}

	[Symbol.asyncIterator](): this {
		return this;
	}

	async next(): Promise<IteratorResult<Uint8Array, undefined>> {
		if (this.#done) return { done: true, value: undefined };
		try {
			const r = await this.#blocks.next();
			if (r.done) {
				this.#done = true;
				return { done: true, value: undefined };
			}
			return { done: false, value: r.value.bytes };
		} catch (error) {
			const e = error as LlmError;
			this.#done = true;
			// An aborted caller is gone: there is nobody to tell.
			if (e.code === LlmErrorCode.ABORTED) return { done: true, value: undefined };
			return { done: false, value: cutEvent(this.#format, e) };
		}
	}

	async return(): Promise<IteratorResult<Uint8Array, undefined>> {
		this.#done = true;
		await this.#blocks.return();
		return { done: true, value: undefined };
	}
}
