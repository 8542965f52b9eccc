/**
 * Token usage as the providers report it: in a JSON response's `usage`, in OpenAI's final
 * stream chunk (with `stream_options.include_usage`), and in Anthropic's `message_start`
 * (input) and `message_delta` (output, cumulative: the last one wins).
 */
import type { LlmApi } from "./api.ts";

export interface LlmUsage {
	promptTokens: number;
	completionTokens: number;
	totalTokens: number;
	/** Prompt tokens read from the provider's cache, when it says (OpenAI `cached_tokens`, Anthropic `cache_read_input_tokens`). */
	cachedTokens?: number;
}

/** One request as the usage callback sees it. */
export interface LlmUsageRecord {
	api: LlmApi;
	/** The model the caller asked for. */
	model: string;
	/** The deployment that answered (`provider/model`). */
	deployment: string;
	provider: string;
	/** The model name sent upstream. */
	upstreamModel: string;
	stream: boolean;
	status: number;
	/** Undefined when the provider reported none (an OpenAI stream without `stream_options.include_usage`). */
	usage: LlmUsage | undefined;
	/** From sending the request to the response headers. */
	headersMs: number;
	/** From sending the request to the end of the body. */
	durationMs: number;
	/** Set when the body did not end cleanly (a cut, an abort, an in-band error). */
	error?: string;
}

type Json = Record<string, unknown>;

function num(v: unknown): number | undefined {
	return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

/** Usage from an OpenAI-shaped `usage` object (chat, completions, embeddings). */
export function openAiUsage(u: unknown): LlmUsage | undefined {
	if (u === null || typeof u !== "object") return undefined;
	const o = u as Json;
	const prompt = num(o.prompt_tokens) ?? 0;
	const completion = num(o.completion_tokens) ?? 0;
	const cached = num((o.prompt_tokens_details as Json | undefined)?.cached_tokens);
	return {
		promptTokens: prompt,
		completionTokens: completion,
		totalTokens: num(o.total_tokens) ?? prompt + completion,
		...(cached ? { cachedTokens: cached } : {}),
	};
}

/** Usage from an Anthropic `usage` object; input counts cache reads and writes, as billed. */
export function anthropicUsage(u: unknown, previous?: LlmUsage): LlmUsage | undefined {
	if (u === null || typeof u !== "object") return previous;
	const o = u as Json;
	const cacheRead = num(o.cache_read_input_tokens);
	const input = num(o.input_tokens);
	const prompt = input === undefined ? (previous?.promptTokens ?? 0) : input + (num(o.cache_creation_input_tokens) ?? 0) + (cacheRead ?? 0);
	const completion = num(o.output_tokens) ?? previous?.completionTokens ?? 0;
	const cached = cacheRead ?? previous?.cachedTokens;
	return { promptTokens: prompt, completionTokens: completion, totalTokens: prompt + completion, ...(cached ? { cachedTokens: cached } : {}) };
}

const USAGE_KEY = Buffer.from('"usage"');

/**
 * Usage from a whole JSON response. Only the `usage` object is decoded and parsed (found from
 * the end): an embeddings response can be megabytes of vectors.
 */
export function usageOfBody(format: "openai" | "anthropic", body: Uint8Array): LlmUsage | undefined {
	const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.length);
	const at = bytes.lastIndexOf(USAGE_KEY);
	if (at === -1) return undefined;
	const open = bytes.indexOf(0x7b, at);
	if (open === -1) return undefined;
	let depth = 0;
	for (let i = open; i < bytes.length; i++) {
		const c = bytes[i];
		if (c === 0x7b) depth++;
		else if (c === 0x7d && --depth === 0) {
			let u: unknown;
			try {
				u = JSON.parse(bytes.toString("utf8", open, i + 1));
			} catch {
				return undefined;
			}
			return format === "anthropic" ? anthropicUsage(u) : openAiUsage(u);
		}
	}
	return undefined;
}
