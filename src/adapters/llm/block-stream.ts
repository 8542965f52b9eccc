/**
 * The frames of a streaming response after the first one, as an async iterator the caller
 * drives: each `next()` reads only as far as the next complete frame (backpressure is the
 * caller's pace), an early end or a broken body is a typed error, and `return()` — also on an
 * iterator never started — aborts the upstream request and settles the outcome, so a slot is
 * never held by a stream nobody reads.
 */
import type { WireFormat } from "./api.ts";
import { type LlmError, LlmErrorCode, llmError } from "./errors.ts";
import { cut, StreamBlock, type StreamWatch } from "./stream-body.ts";
import type { FrameTranslator } from "./translate.ts";
import type { LlmUsage } from "./usage.ts";

/** A stream's frames as the caller pulls them; `return()` aborts the upstream. */
export interface Blocks extends AsyncIterableIterator<StreamBlock, undefined> {
	return(): Promise<IteratorResult<StreamBlock, undefined>>;
}

export interface BlockSource {
	iterator: AsyncIterator<Uint8Array>;
	/** Destroys the response body, which aborts the upstream request if it is still running. */
	destroy(): void;
	/** Maps what the body threw (a socket error, a body timeout, an abort) to a typed error. */
	mapError(error: unknown): LlmError;
}

export interface StreamEnd {
	error: LlmError | undefined;
}

export class BlockStream implements Blocks {
	readonly #source: BlockSource;
	readonly #watch: StreamWatch;
	readonly #format: WireFormat;
	readonly #subject: string;
	readonly #details: { deployment: string; model: string };
	readonly #carry: { rest: Uint8Array | undefined } = { rest: undefined };
	readonly #onEnd: (end: StreamEnd) => void;
	#first: StreamBlock | undefined;
	#done = false;

	constructor(
		first: StreamBlock,
		carry: Uint8Array | undefined,
		source: BlockSource,
		watch: StreamWatch,
		format: WireFormat,
		subject: string,
		details: { deployment: string; model: string },
		onEnd: (end: StreamEnd) => void,
	) {
		this.#first = first;
		this.#carry.rest = carry;
		this.#source = source;
		this.#watch = watch;
		this.#format = format;
		this.#subject = subject;
		this.#details = details;
		this.#onEnd = onEnd;
	}

	[Symbol.asyncIterator](): this {
		return this;
	}

	async next(): Promise<IteratorResult<StreamBlock, undefined>> {
		if (this.#done) return { done: true, value: undefined };
		const first = this.#first;
		if (first !== undefined) {
			this.#first = undefined;
			return { done: false, value: first };
		}
		for (;;) {
			let next: IteratorResult<Uint8Array>;
			try {
				next = await this.#source.iterator.next();
			} catch (error) {
				throw this.#fail(this.#source.mapError(error));
			}
			if (next.done) break;
			let block: StreamBlock | undefined;
			try {
				block = cut(next.value, this.#carry, this.#watch);
			} catch (error) {
				// Never expected (the watch reads any bytes); if it happens, the stream still ends and its slot is freed.
				throw this.#fail(this.#source.mapError(error));
			}
			if (block !== undefined) return { done: false, value: block };
		}
		if (this.#watch.terminal === undefined) {
			const rest = this.#carry.rest;
			const tail = rest === undefined ? "" : `; ${rest.length} bytes of an unfinished event dropped`;
			const ending = this.#format === "anthropic" ? "message_stop" : "[DONE]";
			throw this.#fail(
				llmError(LlmErrorCode.STREAM_CUT, this.#subject, `the stream ended after ${this.#watch.bytes} bytes without ${ending}${tail}`, {
					...this.#details,
					status: 502,
				}),
			);
		}
		this.#done = true;
		this.#onEnd({ error: undefined });
		return { done: true, value: undefined };
	}

	/** The caller stopped reading: the upstream request is aborted (tokens stop being billed). */
	async return(): Promise<IteratorResult<StreamBlock, undefined>> {
		if (!this.#done) {
			this.#done = true;
			this.#source.destroy();
			this.#onEnd({ error: llmError(LlmErrorCode.ABORTED, this.#subject, "the caller stopped reading", this.#details) });
		}
		return { done: true, value: undefined };
	}

	#fail(error: LlmError): LlmError {
		this.#done = true;
		this.#source.destroy();
		this.#onEnd({ error });
		return error;
	}
}

/** A stream's blocks in the caller's format when a deployment of the other format serves it. */
export class TranslatedBlocks implements Blocks {
	readonly #inner: Blocks;
	readonly #translator: FrameTranslator;
	readonly #usage: () => LlmUsage | undefined;

	constructor(inner: Blocks, translator: FrameTranslator, usage: () => LlmUsage | undefined) {
		this.#inner = inner;
		this.#translator = translator;
		this.#usage = usage;
	}

	[Symbol.asyncIterator](): this {
		return this;
	}

	async next(): Promise<IteratorResult<StreamBlock, undefined>> {
		for (;;) {
			const r = await this.#inner.next();
			if (r.done) return r;
			const text = this.#translator.translate(r.value.frames, this.#usage);
			// Pings and block boundaries have no OpenAI counterpart: read on.
			if (text !== "") return { done: false, value: new StreamBlock(Buffer.from(text)) };
		}
	}

	return(): Promise<IteratorResult<StreamBlock, undefined>> {
		return this.#inner.return();
	}
}
