/**
 * The wire shapes the typed API reads and returns: just enough of OpenAI's and Anthropic's
 * schemas to be useful, with every other field kept (providers add their own).
 */

export interface ChatMessage {
	role: "system" | "developer" | "user" | "assistant" | "tool";
	content: string | unknown[] | null;
	[key: string]: unknown;
}

export interface ChatCompletionRequest {
	model: string;
	messages: ChatMessage[];
	stream?: boolean;
	stream_options?: { include_usage?: boolean };
	max_tokens?: number;
	[key: string]: unknown;
}

export interface OpenAiUsageBody {
	prompt_tokens: number;
	completion_tokens?: number;
	total_tokens: number;
	[key: string]: unknown;
}

export interface ChatCompletion {
	id: string;
	object: "chat.completion";
	created: number;
	model: string;
	choices: { index: number; message: { role: "assistant"; content: string | null; [key: string]: unknown }; finish_reason: string | null }[];
	usage?: OpenAiUsageBody;
	[key: string]: unknown;
}

export interface ChatCompletionChunk {
	id: string;
	object: "chat.completion.chunk";
	created: number;
	model: string;
	choices: { index: number; delta: { role?: string; content?: string | null; [key: string]: unknown }; finish_reason: string | null }[];
	usage?: OpenAiUsageBody | null;
	[key: string]: unknown;
}

export interface CompletionRequest {
	model: string;
	prompt: string | string[];
	stream?: boolean;
	max_tokens?: number;
	[key: string]: unknown;
}

export interface Completion {
	id: string;
	object: "text_completion";
	created: number;
	model: string;
	choices: { text: string; index: number; finish_reason: string | null }[];
	usage?: OpenAiUsageBody | null;
	[key: string]: unknown;
}

export interface EmbeddingRequest {
	model: string;
	input: string | string[] | number[] | number[][];
	encoding_format?: "float" | "base64";
	[key: string]: unknown;
}

export interface EmbeddingResponse {
	object: "list";
	data: { object: "embedding"; index: number; embedding: number[] | string }[];
	model: string;
	usage: OpenAiUsageBody;
	[key: string]: unknown;
}

export interface ModelList {
	object: "list";
	data: { id: string; object: "model"; created?: number; owned_by?: string; [key: string]: unknown }[];
}

export interface AnthropicMessageRequest {
	model: string;
	max_tokens: number;
	messages: { role: "user" | "assistant"; content: string | unknown[] }[];
	system?: string | unknown[];
	stream?: boolean;
	[key: string]: unknown;
}

export interface AnthropicUsageBody {
	input_tokens?: number;
	output_tokens: number;
	cache_creation_input_tokens?: number | null;
	cache_read_input_tokens?: number | null;
	[key: string]: unknown;
}

export interface AnthropicMessage {
	id: string;
	type: "message";
	role: "assistant";
	model: string;
	content: ({ type: "text"; text: string } | { type: string; [key: string]: unknown })[];
	stop_reason: string | null;
	stop_sequence: string | null;
	usage: AnthropicUsageBody;
	[key: string]: unknown;
}

/** Anthropic's stream events, discriminated by `type` (an `error` event is thrown as an LlmError, never yielded). */
export type AnthropicStreamEvent =
	| { type: "message_start"; message: AnthropicMessage }
	| { type: "content_block_start"; index: number; content_block: { type: string; [key: string]: unknown } }
	| { type: "content_block_delta"; index: number; delta: { type: "text_delta"; text: string } | { type: string; [key: string]: unknown } }
	| { type: "content_block_stop"; index: number }
	| { type: "message_delta"; delta: { stop_reason: string | null; stop_sequence?: string | null }; usage: AnthropicUsageBody }
	| { type: "message_stop" }
	| { type: "ping" };
