import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import type { LlmClient } from "../../src/adapters/llm/index.ts";
import { parseFrames } from "../../src/adapters/llm/sse.ts";
import { ChunkTranslator, chatToMessages, messagesToChat, messageToChat } from "../../src/adapters/llm/translate.ts";
import { chat, clientFor, collect, message } from "./fixtures.ts";
import { type ForwardProxy, startForwardProxy } from "./servers/forward-proxy.ts";
import { type LlmUpstream, startLlmUpstream } from "./servers/llm-upstream.ts";

let upstream: LlmUpstream;
let llm: LlmClient;
let proxy: ForwardProxy;

before(async () => {
	upstream = await startLlmUpstream();
	llm = clientFor(upstream, {
		claude: [{ provider: "claude", model: "claude-x" }],
		"claude-cut": [{ provider: "claude", model: "cut-stream-t" }],
		gpt: { deployments: [{ provider: "local", model: "error-529-t" }], fallbacks: ["claude"] },
		"gpt-plain": [{ provider: "local", model: "gpt-y" }],
		"gpt-cut": [{ provider: "local", model: "cut-stream-u" }],
	});
	proxy = await startForwardProxy(llm);
});
after(async () => {
	await proxy?.close();
	await llm?.close();
	await upstream?.close();
});
beforeEach(() => upstream.reset());

describe("OpenAI chat requests served by an Anthropic deployment", () => {
	it("sends a messages body (system moved out, max_tokens filled in, stop as stop_sequences) and answers a chat completion", async () => {
		const answer = await llm.chat({
			model: "claude",
			messages: [
				{ role: "system", content: "be brief" },
				{ role: "user", content: "hi" },
			],
			stop: "END",
			temperature: 0.2,
		});
		const sent = upstream.requests[0];
		assert.equal(sent.path, "/v1/messages");
		assert.equal(sent.body?.system, "be brief");
		assert.equal(sent.body?.max_tokens, 4096);
		assert.deepEqual(sent.body?.stop_sequences, ["END"]);
		assert.deepEqual(sent.body?.messages, [{ role: "user", content: [{ type: "text", text: "hi" }] }]);
		assert.equal(answer.object, "chat.completion");
		assert.equal(answer.choices[0].message.content, "wordwordword");
		assert.equal(answer.choices[0].finish_reason, "stop");
		assert.equal(answer.usage?.completion_tokens, 3);
	});

	it("streams chat chunks translated from Anthropic events, with the usage chunk and [DONE]", async () => {
		const r = await llm.forward({ api: "openai.chat", body: chat("claude", { stream: true, stream_options: { include_usage: true } }) });
		const text = await collect(r.body);
		assert.ok(text.endsWith("data: [DONE]\n\n"));
		assert.ok(!text.includes("event:"), "no Anthropic frame reaches an OpenAI caller");
		const chunks = text
			.split("\n\n")
			.filter((f) => f.startsWith("data: {"))
			.map((f) => JSON.parse(f.slice(6)));
		assert.equal(chunks[0].choices[0].delta.role, "assistant");
		assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? "").join(""), "wordwordword");
		assert.equal(chunks.at(-2).choices[0].finish_reason, "stop");
		assert.deepEqual(chunks.at(-1).choices, []);
		assert.equal(chunks.at(-1).usage.completion_tokens, 3);
	});

	it("the openai SDK talks to an Anthropic model through a forward() gateway, and a cut stream raises", async () => {
		const openai = new OpenAI({ baseURL: `${proxy.origin}/v1`, apiKey: "gateway-key", maxRetries: 0 });
		const stream = await openai.chat.completions.create({ model: "claude", messages: [{ role: "user", content: "hi" }], stream: true });
		let text = "";
		for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
		assert.equal(text, "wordwordword");
		const cut = await openai.chat.completions.create({ model: "claude-cut", messages: [{ role: "user", content: "hi" }], stream: true });
		await assert.rejects(async () => {
			for await (const _ of cut);
		}, OpenAI.APIError);
	});

	it("an OpenAI model may fall back to an Anthropic one", async () => {
		const answer = await llm.chat(chat("gpt"));
		assert.equal(answer.choices[0].message.content, "wordwordword");
		assert.equal(upstream.requests.at(-1)?.path, "/v1/messages");
	});
});

describe("Anthropic messages requests served by an OpenAI-format deployment", () => {
	it("sends a chat body (system first, stop_sequences as stop) and answers a message", async () => {
		const answer = await llm.messages(message("gpt-plain", { system: "be brief", stop_sequences: ["END"] }));
		const sent = upstream.requests[0];
		assert.equal(sent.path, "/v1/chat/completions");
		assert.deepEqual(sent.body?.messages, [
			{ role: "system", content: "be brief" },
			{ role: "user", content: "hello" },
		]);
		assert.deepEqual(sent.body?.stop, ["END"]);
		assert.equal(answer.type, "message");
		assert.deepEqual(answer.content, [{ type: "text", text: "wordwordword" }]);
		assert.equal(answer.stop_reason, "end_turn");
		assert.equal(answer.usage.output_tokens, 3);
	});

	it("streams Anthropic events translated from chat chunks, with usage in message_delta", async () => {
		const stream = await llm.messagesStream(message("gpt-plain"));
		const types: string[] = [];
		let text = "";
		for await (const e of stream) {
			types.push(e.type);
			if (e.type === "content_block_delta") text += (e.delta as { text: string }).text;
		}
		assert.deepEqual(types, [
			"message_start",
			"content_block_start",
			"content_block_delta",
			"content_block_delta",
			"content_block_delta",
			"content_block_stop",
			"message_delta",
			"message_stop",
		]);
		assert.equal(text, "wordwordword");
		assert.deepEqual(upstream.requests[0].body?.stream_options, { include_usage: true }, "asked for usage to fill message_delta");
		assert.equal(stream.usage?.completionTokens, 3);
	});

	it("the anthropic SDK talks to an OpenAI-format model through a forward() gateway, and a cut stream raises", async () => {
		const anthropic = new Anthropic({ baseURL: proxy.origin, apiKey: "gateway-key", maxRetries: 0 });
		const final = await anthropic.messages.stream({ model: "gpt-plain", max_tokens: 32, messages: [{ role: "user", content: "hi" }] }).finalMessage();
		assert.deepEqual(final.content, [{ type: "text", text: "wordwordword" }]);
		assert.equal(final.usage.output_tokens, 3);
		await assert.rejects(
			anthropic.messages.stream({ model: "gpt-cut", max_tokens: 32, messages: [{ role: "user", content: "hi" }] }).finalMessage(),
			Anthropic.APIError,
		);
	});
});

describe("the translation itself", () => {
	it("turns streamed tool calls into tool_use blocks with input_json_delta", () => {
		const t = new ChunkTranslator();
		const chunk = (delta: object, finish: string | null = null) =>
			`data: ${JSON.stringify({ id: "c1", model: "m", choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
		const input =
			chunk({ role: "assistant", content: "" }) +
			chunk({ content: "Let me check." }) +
			chunk({ tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: "get_weather", arguments: "" } }] }) +
			chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }) +
			chunk({ tool_calls: [{ index: 0, function: { arguments: '"Oslo"}' } }] }) +
			chunk({}, "tool_calls") +
			"data: [DONE]\n\n";
		const events = parseFrames(t.translate(parseFrames(input), () => ({ promptTokens: 7, completionTokens: 4, totalTokens: 11 }))).map((f) =>
			JSON.parse(f.data),
		);
		assert.deepEqual(
			events.map((e) => e.type),
			[
				"message_start",
				"content_block_start",
				"content_block_delta",
				"content_block_stop",
				"content_block_start",
				"content_block_delta",
				"content_block_delta",
				"content_block_stop",
				"message_delta",
				"message_stop",
			],
		);
		assert.deepEqual(events[4].content_block, { type: "tool_use", id: "call_1", name: "get_weather", input: {} });
		assert.equal(events[5].delta.partial_json + events[6].delta.partial_json, '{"city":"Oslo"}');
		assert.equal(events[8].delta.stop_reason, "tool_use");
		assert.deepEqual(events[8].usage, { output_tokens: 4, input_tokens: 7 });
	});

	it("maps an Anthropic body with tools and tool results to chat", () => {
		const body = messagesToChat({
			model: "m",
			max_tokens: 20,
			system: [{ type: "text", text: "sys" }],
			tools: [{ name: "f", input_schema: { type: "object" } }],
			tool_choice: { type: "tool", name: "f" },
			messages: [
				{ role: "user", content: "hi" },
				{ role: "assistant", content: [{ type: "tool_use", id: "t1", name: "f", input: { a: 1 } }] },
				{ role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: "done" }] },
			],
		});
		assert.deepEqual(body.messages, [
			{ role: "system", content: "sys" },
			{ role: "user", content: "hi" },
			{ role: "assistant", content: null, tool_calls: [{ id: "t1", type: "function", function: { name: "f", arguments: '{"a":1}' } }] },
			{ role: "tool", tool_call_id: "t1", content: "done" },
		]);
		assert.deepEqual(body.tools, [{ type: "function", function: { name: "f", parameters: { type: "object" } } }]);
		assert.deepEqual(body.tool_choice, { type: "function", function: { name: "f" } });
	});

	it("maps tools, tool calls, tool results and images", () => {
		const body = chatToMessages({
			model: "m",
			max_completion_tokens: 50,
			tools: [
				{
					type: "function",
					function: { name: "get_weather", description: "weather", parameters: { type: "object", properties: { city: { type: "string" } } } },
				},
			],
			tool_choice: "required",
			messages: [
				{
					role: "user",
					content: [
						{ type: "text", text: "look" },
						{ type: "image_url", image_url: { url: "data:image/png;base64,AAAA" } },
					],
				},
				{ role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Oslo"}' } }] },
				{ role: "tool", tool_call_id: "call_1", content: "rain" },
			],
		});
		assert.equal(body.max_tokens, 50);
		assert.deepEqual(body.tool_choice, { type: "any" });
		assert.deepEqual(body.tools, [{ name: "get_weather", description: "weather", input_schema: { type: "object", properties: { city: { type: "string" } } } }]);
		assert.deepEqual(body.messages, [
			{
				role: "user",
				content: [
					{ type: "text", text: "look" },
					{ type: "image", source: { type: "base64", media_type: "image/png", data: "AAAA" } },
				],
			},
			{ role: "assistant", content: [{ type: "tool_use", id: "call_1", name: "get_weather", input: { city: "Oslo" } }] },
			{ role: "user", content: [{ type: "tool_result", tool_use_id: "call_1", content: "rain" }] },
		]);
		const chatAnswer = messageToChat(
			{ id: "msg_1", model: "m", stop_reason: "tool_use", content: [{ type: "tool_use", id: "toolu_1", name: "get_weather", input: { city: "Oslo" } }] },
			{ promptTokens: 10, completionTokens: 5, totalTokens: 15 },
		) as { choices: { message: { content: unknown; tool_calls: unknown }; finish_reason: string }[]; usage: unknown };
		assert.equal(chatAnswer.choices[0].finish_reason, "tool_calls");
		assert.equal(chatAnswer.choices[0].message.content, null);
		assert.deepEqual(chatAnswer.choices[0].message.tool_calls, [
			{ id: "toolu_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Oslo"}' } },
		]);
		assert.deepEqual(chatAnswer.usage, { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 });
	});
});
