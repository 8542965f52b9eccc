/**
 * OpenAI chat completions served by an Anthropic deployment: the request turned into a messages
 * body, the answer (whole or streamed) turned back into chat-completion shapes. Only this one
 * direction exists; everything else passes through untranslated.
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
			for (const call of (m.tool_calls as Json[] | undefined) ?? []) {
				const fn = call.function as Json;
				let input: unknown = {};
				try {
					input = JSON.parse(String(fn.arguments ?? "{}"));
				} catch {
					input = {};
				}
				parts.push({ type: "tool_use", id: call.id, name: fn.name, input });
			}
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

/** An Anthropic message as an OpenAI chat completion. */
export function messageToChat(message: Json, usage: LlmUsage | undefined): Json {
	const content = (message.content as Json[] | undefined) ?? [];
	const text = content
		.filter((c) => c.type === "text")
		.map((c) => String(c.text ?? ""))
		.join("");
	const calls = content
		.filter((c) => c.type === "tool_use")
		.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: JSON.stringify(c.input ?? {}) } }));
	return {
		id: message.id,
		object: "chat.completion",
		created: Math.floor(Date.now() / 1000),
		model: message.model,
		choices: [
			{
				index: 0,
				message: { role: "assistant", content: text === "" && calls.length > 0 ? null : text, ...(calls.length > 0 ? { tool_calls: calls } : {}) },
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
export class StreamTranslator {
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
