/**
 * A streaming response as typed events: OpenAI chunks (`chat.completion.chunk`,
 * `text_completion`) until `[DONE]`, or Anthropic's events (`message_start`,
 * `content_block_delta`, `message_delta`, `message_stop`, `ping`). An in-band error event and
 * an upstream cut are thrown as typed errors, never a silent end; leaving the loop early (or
 * `cancel()`) aborts the upstream request.
 */
import type { WireFormat } from "./api.ts";
import type { Blocks } from "./block-stream.ts";
import { streamEventError } from "./errors.ts";
import type { BodyOutcome, ResponseHeaders } from "./upstream.ts";
import type { LlmUsage } from "./usage.ts";
import type { AnthropicStreamEvent, ChatCompletionChunk, Completion } from "./wire.ts";

export class LlmStream<E> implements AsyncIterable<E> {
	/** The deployment that answered (`provider/model`). */
	readonly deployment: string;
	readonly model: string;
	readonly status: number;
	readonly headers: ResponseHeaders;
	readonly #blocks: Blocks;
	readonly #format: WireFormat;
	readonly #outcome: Promise<BodyOutcome>;
	readonly #secrets: readonly string[];
	#usage: LlmUsage | undefined;
	#iterated = false;

	constructor(init: {
		deployment: string;
		model: string;
		status: number;
		headers: ResponseHeaders;
		blocks: Blocks;
		format: WireFormat;
		outcome: Promise<BodyOutcome>;
		secrets: readonly string[];
	}) {
		this.deployment = init.deployment;
		this.model = init.model;
		this.status = init.status;
		this.headers = init.headers;
		this.#blocks = init.blocks;
		this.#format = init.format;
		this.#outcome = init.outcome;
		this.#secrets = init.secrets;
	}

	/** The tokens the provider reported, once the stream has ended (OpenAI: only with `stream_options.include_usage`). */
	get usage(): LlmUsage | undefined {
		return this.#usage;
	}

	async *[Symbol.asyncIterator](): AsyncGenerator<E, void, undefined> {
		if (this.#iterated) throw new TypeError("an LlmStream can be iterated once");
		this.#iterated = true;
		try {
			for await (const block of this.#blocks) {
				for (const frame of block.frames) {
					if (this.#format === "openai" && frame.data.startsWith("[DONE]")) continue;
					const event = JSON.parse(frame.data) as Record<string, unknown>;
					const isError = this.#format === "anthropic" ? event.type === "error" || frame.event === "error" : event.error !== undefined && event.error !== null;
					if (isError) throw streamEventError(frame.data, this.deployment, this.model, this.#secrets);
					yield event as E;
				}
			}
			this.#usage = (await this.#outcome).usage;
		} finally {
			await this.#blocks.return();
		}
	}

	/** Stops the stream and aborts the upstream request (for a stream that will not be read). */
	async cancel(): Promise<void> {
		await this.#blocks.return();
	}

	/** Reads the whole stream and returns its text (the first choice's, or every text block's). */
	async text(): Promise<string> {
		let text = "";
		for await (const event of this as LlmStream<unknown>) text += textOf(event);
		return text;
	}
}

function textOf(event: unknown): string {
	const e = event as { type?: string; delta?: { text?: string }; choices?: { delta?: { content?: string | null }; text?: string }[] };
	if (e.type === "content_block_delta") return e.delta?.text ?? "";
	const choice = e.choices?.[0];
	return choice?.delta?.content ?? choice?.text ?? "";
}

export type ChatStream = LlmStream<ChatCompletionChunk>;
export type CompletionStream = LlmStream<Completion>;
export type MessageStream = LlmStream<AnthropicStreamEvent>;
