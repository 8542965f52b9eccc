/**
 * Requests served by a deployment of the other wire format: OpenAI chat completions by an
 * Anthropic model, Anthropic messages by an OpenAI-format model. The request body is turned
 * into the upstream's, the answer (whole or streamed) back into the caller's. Completions and
 * embeddings have no Anthropic counterpart and are never translated.
 */
import type { SseFrame } from "./sse.ts";
import type { LlmUsage } from "./usage.ts";

type Json = Record<string, unknown>;

const FINISH: Record<string, string> = {
	end_turn: "stop",
	stop_sequence: "stop",
	max_tokens: "length",
	tool_use: "tool_calls",
	pause_turn: "stop",
	refusal: "content_filter",
};

/** The default `max_tokens` when an OpenAI request gives none (Anthropic requires it). */
export const TRANSLATED_MAX_TOKENS = 4_096;

function textOfContent(content: unknown): string {
	if (typeof content === "string") return content;
	if (Array.isArray(content))
		return content.map((p) => (p && typeof p === "object" && (p as Json).type === "text" ? String((p as Json).text ?? "") : "")).join("");
	return "";
}

function partsOf(content: unknown): unknown[] {
	if (typeof content === "string") return [{ type: "text", text: content }];
	if (!Array.isArray(content)) return [];
	return content.map((p) => {
		const part = p as Json;
		if (part.type === "image_url") {
			const url = String((part.image_url as Json | undefined)?.url ?? "");
			const data = /^data:([^;]+);base64,(.*)$/s.exec(url);
			return data ? { type: "image", source: { type: "base64", media_type: data[1], data: data[2] } } : { type: "image", source: { type: "url", url } };
		}
		return { type: "text", text: String(part.text ?? "") };
	});
}

/**
 * OpenAI `tool_calls` (a request's assistant turn or a completion's message) as Anthropic
 * `tool_use` blocks. Arguments that are not JSON become `{}`: Anthropic wants an object, and a
 * model's malformed arguments should not fail the whole translation.
 */
function toolUses(toolCalls: unknown): Json[] {
	return ((toolCalls as Json[] | undefined) ?? []).map((call) => {
		const fn = call.function as Json;
		let input: unknown = {};
		try {
			input = JSON.parse(String(fn.arguments ?? "{}"));
		} catch {
			input = {};
		}
		return { type: "tool_use", id: call.id, name: fn.name, input };
	});
}

/** An OpenAI chat-completions body as an Anthropic messages body. */
export function chatToMessages(body: Json): Json {
	const system: string[] = [];
	const messages: { role: string; content: unknown[] }[] = [];
	const push = (role: string, parts: unknown[]) => {
		const last = messages.at(-1);
		// Anthropic wants turns to alternate; consecutive turns of one role are merged.
		if (last !== undefined && last.role === role) last.content.push(...parts);
		else messages.push({ role, content: parts });
	};
	for (const m of (body.messages as Json[] | undefined) ?? []) {
		const role = String(m.role);
		if (role === "system" || role === "developer") system.push(textOfContent(m.content));
		else if (role === "tool") push("user", [{ type: "tool_result", tool_use_id: String(m.tool_call_id ?? ""), content: textOfContent(m.content) }]);
		else if (role === "assistant") {
			const parts: unknown[] = textOfContent(m.content) === "" ? [] : [{ type: "text", text: textOfContent(m.content) }];
			parts.push(...toolUses(m.tool_calls));
			push("assistant", parts);
		} else push("user", partsOf(m.content));
	}
	const out: Json = {
		model: body.model,
		max_tokens: body.max_tokens ?? body.max_completion_tokens ?? TRANSLATED_MAX_TOKENS,
		messages,
	};
	if (system.length > 0) out.system = system.join("\n");
	for (const key of ["temperature", "top_p", "stream"] as const) if (body[key] !== undefined) out[key] = body[key];
	if (body.stop !== undefined && body.stop !== null) out.stop_sequences = Array.isArray(body.stop) ? body.stop : [body.stop];
	if (typeof body.user === "string") out.metadata = { user_id: body.user };
	if (Array.isArray(body.tools)) {
		out.tools = (body.tools as Json[]).map((t) => {
			const fn = t.function as Json;
			return {
				name: fn.name,
				...(fn.description === undefined ? {} : { description: fn.description }),
				input_schema: fn.parameters ?? { type: "object", properties: {} },
			};
		});
	}
	const choice = body.tool_choice;
	if (choice === "auto") out.tool_choice = { type: "auto" };
	else if (choice === "required") out.tool_choice = { type: "any" };
	else if (choice === "none") out.tool_choice = { type: "none" };
	else if (choice && typeof choice === "object") out.tool_choice = { type: "tool", name: ((choice as Json).function as Json | undefined)?.name };
	return out;
}

function openAiUsageOf(u: LlmUsage | undefined): Json | undefined {
	return u === undefined ? undefined : { prompt_tokens: u.promptTokens, completion_tokens: u.completionTokens, total_tokens: u.totalTokens };
}

/**
 * Anthropic content blocks (a request's assistant turn or a response's content) as an OpenAI
 * assistant message: text joined, `tool_use` as `tool_calls`, and content null when there are
 * calls and no text, as OpenAI writes it.
 */
function assistantMessage(blocks: Json[]): Json {
	const text = blocks
		.filter((b) => b.type === "text")
		.map((b) => String(b.text ?? ""))
		.join("");
	const calls = blocks
		.filter((b) => b.type === "tool_use")
		.map((b) => ({ id: b.id, type: "function", function: { name: b.name, arguments: JSON.stringify(b.input ?? {}) } }));
	return { role: "assistant", content: text === "" && calls.length > 0 ? null : text, ...(calls.length > 0 ? { tool_calls: calls } : {}) };
}

/** An Anthropic message as an OpenAI chat completion. */
export function messageToChat(message: Json, usage: LlmUsage | undefined): Json {
	return {
		id: message.id,
		object: "chat.completion",
		created: Math.floor(Date.now() / 1000),
		model: message.model,
		choices: [
			{
				index: 0,
				message: assistantMessage((message.content as Json[] | undefined) ?? []),
				logprobs: null,
				finish_reason: FINISH[String(message.stop_reason)] ?? "stop",
			},
		],
		...(usage === undefined ? {} : { usage: openAiUsageOf(usage) }),
	};
}

/**
 * Anthropic stream events → OpenAI chunk frames, one stream at a time. `message_stop` becomes
 * the usage chunk (when the caller asked for it) and `[DONE]`; an `error` event becomes an
 * OpenAI error chunk.
 */
export class StreamTranslator implements FrameTranslator {
	readonly #includeUsage: boolean;
	#id = "";
	#model = "";
	#created = Math.floor(Date.now() / 1000);
	/** Anthropic content-block index → OpenAI tool_calls index. */
	readonly #tools = new Map<number, number>();

	constructor(includeUsage: boolean) {
		this.#includeUsage = includeUsage;
	}

	/** The OpenAI SSE text for some Anthropic frames (`usage` is what the watch knows so far). */
	translate(frames: readonly SseFrame[], usage: () => LlmUsage | undefined): string {
		let out = "";
		for (const f of frames) {
			let e: Json;
			try {
				e = JSON.parse(f.data) as Json;
			} catch {
				continue;
			}
			const type = f.event ?? e.type;
			if (type === "message_start") {
				const m = e.message as Json;
				this.#id = String(m.id ?? "");
				this.#model = String(m.model ?? "");
				out += this.#chunk({ role: "assistant", content: "" }, null);
			} else if (type === "content_block_start") {
				const block = e.content_block as Json;
				if (block.type === "tool_use") {
					const index = this.#tools.size;
					this.#tools.set(Number(e.index), index);
					out += this.#chunk({ tool_calls: [{ index, id: block.id, type: "function", function: { name: block.name, arguments: "" } }] }, null);
				}
			} else if (type === "content_block_delta") {
				const delta = e.delta as Json;
				if (delta.type === "text_delta") out += this.#chunk({ content: delta.text }, null);
				else if (delta.type === "input_json_delta") {
					const index = this.#tools.get(Number(e.index)) ?? 0;
					out += this.#chunk({ tool_calls: [{ index, function: { arguments: delta.partial_json } }] }, null);
				}
			} else if (type === "message_delta") {
				const stop = (e.delta as Json | undefined)?.stop_reason;
				out += this.#chunk({}, FINISH[String(stop)] ?? "stop");
			} else if (type === "message_stop") {
				if (this.#includeUsage) out += frame({ ...this.#base(), choices: [], usage: openAiUsageOf(usage()) ?? null });
				out += "data: [DONE]\n\n";
			} else if (type === "error") {
				const err = (e.error as Json | undefined) ?? {};
				out += frame({ error: { message: String(err.message ?? "upstream error"), type: String(err.type ?? "api_error"), param: null, code: null } });
			}
		}
		return out;
	}

	#base(): Json {
		return { id: this.#id, object: "chat.completion.chunk", created: this.#created, model: this.#model };
	}

	#chunk(delta: Json, finish: string | null): string {
		return frame({ ...this.#base(), choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] });
	}
}

function frame(o: unknown): string {
	return `data: ${JSON.stringify(o)}\n\n`;
}

/** Anything that turns one stream's frames into the caller's format. */
export interface FrameTranslator {
	translate(frames: readonly SseFrame[], usage: () => LlmUsage | undefined): string;
}

const STOP_REASON: Record<string, string> = {
	stop: "end_turn",
	length: "max_tokens",
	tool_calls: "tool_use",
	function_call: "tool_use",
	content_filter: "refusal",
};

function blocksOf(content: unknown): Json[] {
	if (typeof content === "string") return [{ type: "text", text: content }];
	return Array.isArray(content) ? (content as Json[]) : [];
}

/** The text of Anthropic content (a string, or blocks whose texts are joined with `separator`). */
function textOfBlocks(content: unknown, separator: string): string {
	return blocksOf(content)
		.map((b) => String(b.text ?? ""))
		.join(separator);
}

/** An Anthropic messages body as an OpenAI chat-completions body. */
export function messagesToChat(body: Json): Json {
	const messages: Json[] = [];
	const system = textOfBlocks(body.system, "\n");
	if (system !== "") messages.push({ role: "system", content: system });
	for (const m of (body.messages as Json[] | undefined) ?? []) {
		const blocks = blocksOf(m.content);
		if (m.role === "assistant") {
			messages.push(assistantMessage(blocks));
			continue;
		}
		for (const b of blocks.filter((x) => x.type === "tool_result")) {
			messages.push({ role: "tool", tool_call_id: b.tool_use_id, content: textOfBlocks(b.content, "") });
		}
		const parts = blocks
			.filter((b) => b.type === "text" || b.type === "image")
			.map((b) => {
				if (b.type === "text") return { type: "text", text: String(b.text ?? "") };
				const source = (b.source as Json | undefined) ?? {};
				const url = source.type === "base64" ? `data:${String(source.media_type)};base64,${String(source.data)}` : String(source.url ?? "");
				return { type: "image_url", image_url: { url } };
			});
		if (parts.length > 0) messages.push({ role: "user", content: parts.every((p) => p.type === "text") ? parts.map((p) => (p as Json).text).join("") : parts });
	}
	const out: Json = { model: body.model, messages };
	if (body.max_tokens !== undefined) out.max_tokens = body.max_tokens;
	for (const key of ["temperature", "top_p", "stream"] as const) if (body[key] !== undefined) out[key] = body[key];
	if (Array.isArray(body.stop_sequences)) out.stop = body.stop_sequences;
	if (body.stream === true) out.stream_options = { include_usage: true };
	if (Array.isArray(body.tools)) {
		out.tools = (body.tools as Json[]).map((t) => ({
			type: "function",
			function: {
				name: t.name,
				...(t.description === undefined ? {} : { description: t.description }),
				parameters: t.input_schema ?? { type: "object", properties: {} },
			},
		}));
	}
	const choice = body.tool_choice as Json | undefined;
	if (choice?.type === "auto") out.tool_choice = "auto";
	else if (choice?.type === "any") out.tool_choice = "required";
	else if (choice?.type === "none") out.tool_choice = "none";
	else if (choice?.type === "tool") out.tool_choice = { type: "function", function: { name: choice.name } };
	return out;
}

/** An OpenAI chat completion as an Anthropic message. */
export function chatToMessage(completion: Json, usage: LlmUsage | undefined): Json {
	const choice = ((completion.choices as Json[] | undefined) ?? [])[0] ?? {};
	const message = (choice.message as Json | undefined) ?? {};
	const content: Json[] = [];
	if (typeof message.content === "string" && message.content !== "") content.push({ type: "text", text: message.content });
	content.push(...toolUses(message.tool_calls));
	return {
		id: completion.id,
		type: "message",
		role: "assistant",
		model: completion.model,
		content,
		stop_reason: STOP_REASON[String(choice.finish_reason)] ?? "end_turn",
		stop_sequence: null,
		usage: { input_tokens: usage?.promptTokens ?? 0, output_tokens: usage?.completionTokens ?? 0 },
	};
}

/**
 * OpenAI chunk frames → Anthropic events: `message_start` on the first chunk, a text block and
 * one block per tool call (`content_block_start` / `_delta` / `_stop`), then at `[DONE]`
 * `message_delta` (stop reason, usage) and `message_stop`. An error chunk becomes `event: error`.
 */
export class ChunkTranslator implements FrameTranslator {
	#started = false;
	/** The Anthropic block being written: its index and kind. */
	#open: { index: number; kind: "text" | "tool" } | undefined;
	#nextIndex = 0;
	/** OpenAI tool_calls index → Anthropic block index. */
	readonly #tools = new Map<number, number>();
	#finish: string | null = null;

	translate(frames: readonly SseFrame[], usage: () => LlmUsage | undefined): string {
		let out = "";
		for (const f of frames) {
			if (f.data.startsWith("[DONE]")) {
				out += this.#close();
				const u = usage();
				out += event("message_delta", {
					type: "message_delta",
					delta: { stop_reason: STOP_REASON[String(this.#finish)] ?? "end_turn", stop_sequence: null },
					usage: { output_tokens: u?.completionTokens ?? 0, ...(u === undefined ? {} : { input_tokens: u.promptTokens }) },
				});
				out += event("message_stop", { type: "message_stop" });
				continue;
			}
			let c: Json;
			try {
				c = JSON.parse(f.data) as Json;
			} catch {
				continue;
			}
			if (c.error !== undefined && c.error !== null) {
				const e = c.error as Json;
				out += event("error", {
					type: "error",
					error: { type: e.type === "rate_limit_error" ? "rate_limit_error" : "api_error", message: String(e.message ?? "upstream error") },
				});
				continue;
			}
			if (!this.#started) {
				this.#started = true;
				const message = {
					id: c.id,
					type: "message",
					role: "assistant",
					model: c.model,
					content: [],
					stop_reason: null,
					stop_sequence: null,
					usage: { input_tokens: 0, output_tokens: 0 },
				};
				out += event("message_start", { type: "message_start", message });
			}
			const choice = ((c.choices as Json[] | undefined) ?? [])[0];
			if (choice === undefined) continue;
			const delta = (choice.delta as Json | undefined) ?? {};
			if (typeof delta.content === "string" && delta.content !== "") {
				if (this.#open?.kind !== "text") out += this.#start("text", { type: "text", text: "" });
				out += event("content_block_delta", { type: "content_block_delta", index: this.#open?.index, delta: { type: "text_delta", text: delta.content } });
			}
			for (const call of (delta.tool_calls as Json[] | undefined) ?? []) {
				const i = Number(call.index ?? 0);
				const fn = (call.function as Json | undefined) ?? {};
				if (!this.#tools.has(i)) {
					out += this.#start("tool", { type: "tool_use", id: call.id, name: fn.name, input: {} });
					this.#tools.set(i, this.#open?.index ?? 0);
				}
				if (typeof fn.arguments === "string" && fn.arguments !== "") {
					out += event("content_block_delta", {
						type: "content_block_delta",
						index: this.#tools.get(i),
						delta: { type: "input_json_delta", partial_json: fn.arguments },
					});
				}
			}
			if (choice.finish_reason !== null && choice.finish_reason !== undefined) this.#finish = String(choice.finish_reason);
		}
		return out;
	}

	#start(kind: "text" | "tool", block: Json): string {
		const closing = this.#close();
		this.#open = { index: this.#nextIndex++, kind };
		return `${closing}${event("content_block_start", { type: "content_block_start", index: this.#open.index, content_block: block })}`;
	}

	#close(): string {
		if (this.#open === undefined) return "";
		const index = this.#open.index;
		this.#open = undefined;
		return event("content_block_stop", { type: "content_block_stop", index });
	}
}

function event(type: string, o: unknown): string {
	return `event: ${type}\ndata: ${JSON.stringify(o)}\n\n`;
}
