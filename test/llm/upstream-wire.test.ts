/**
 * The local upstream speaks the wire shapes the official SDKs expect: checked by pointing
 * `openai` and `@anthropic-ai/sdk` straight at it, so tests built on it (here and in the
 * gateway's) exercise real shapes.
 */
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { type LlmUpstream, startLlmUpstream } from "./servers/llm-upstream.ts";

let upstream: LlmUpstream;
let openai: OpenAI;
let anthropic: Anthropic;

before(async () => {
	upstream = await startLlmUpstream({ apiKey: "right-key", models: ["gpt-a", "gpt-b"] });
	openai = new OpenAI({ baseURL: `${upstream.origin}/v1`, apiKey: "right-key", maxRetries: 0 });
	anthropic = new Anthropic({ baseURL: upstream.origin, apiKey: "right-key", maxRetries: 0 });
});
after(() => upstream?.close());
beforeEach(() => upstream.reset());

describe("the upstream as the openai SDK sees it", () => {
	it("answers chat completions, whole and streamed with a final usage chunk", async () => {
		const whole = await openai.chat.completions.create({ model: "gpt-a", messages: [{ role: "user", content: "hi" }] });
		assert.equal(whole.choices[0].message.content, "wordwordword");
		assert.ok(whole.usage && whole.usage.total_tokens > 0);
		const stream = await openai.chat.completions.create({
			model: "gpt-a",
			messages: [{ role: "user", content: "hi" }],
			stream: true,
			stream_options: { include_usage: true },
		});
		const chunks = [];
		for await (const c of stream) chunks.push(c);
		assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? "").join(""), "wordwordword");
		assert.deepEqual(chunks.at(-1)?.choices, []);
		assert.ok((chunks.at(-1)?.usage?.total_tokens ?? 0) > 0);
	});

	it("answers completions, base64 embeddings (the SDK's default) and the model list", async () => {
		const completion = await openai.completions.create({ model: "gpt-a", prompt: "say" });
		assert.equal(completion.choices[0].text, "wordwordword");
		const embeddings = await openai.embeddings.create({ model: "gpt-a", input: ["abc", "de"] });
		assert.equal(upstream.requests[1].body?.encoding_format, "base64");
		assert.equal(embeddings.data.length, 2);
		assert.equal(embeddings.data[0].embedding.length, 8);
		assert.ok(Math.abs(embeddings.data[0].embedding[0] - 0.3) < 1e-6, "decoded from base64 floats");
		const models = await openai.models.list();
		assert.deepEqual(
			models.data.map((m) => m.id),
			["gpt-a", "gpt-b"],
		);
	});

	it("errors are the SDK's typed errors: 401, 429 with retry-after, 400 context length, 500", async () => {
		await assert.rejects(new OpenAI({ baseURL: `${upstream.origin}/v1`, apiKey: "wrong", maxRetries: 0 }).models.list(), OpenAI.AuthenticationError);
		await assert.rejects(openai.chat.completions.create({ model: "error-429", messages: [] }), (e: unknown) => {
			assert.ok(e instanceof OpenAI.RateLimitError);
			assert.equal(e.headers.get("retry-after"), "7");
			return true;
		});
		await assert.rejects(openai.chat.completions.create({ model: "error-context", messages: [] }), (e: unknown) => {
			assert.ok(e instanceof OpenAI.BadRequestError);
			assert.equal(e.code, "context_length_exceeded");
			return true;
		});
		await assert.rejects(openai.chat.completions.create({ model: "error-500", messages: [] }), OpenAI.InternalServerError);
	});

	it("Azure deployment paths answer too", async () => {
		const azure = new OpenAI({
			baseURL: `${upstream.origin}/openai/deployments/my-gpt`,
			apiKey: "right-key",
			defaultQuery: { "api-version": "2024-10-21" },
			maxRetries: 0,
		});
		const answer = await azure.chat.completions.create({ model: "ignored", messages: [{ role: "user", content: "hi" }] });
		assert.equal(answer.object, "chat.completion");
	});
});

describe("the upstream as the anthropic SDK sees it", () => {
	it("answers messages, whole and streamed", async () => {
		const whole = await anthropic.messages.create({ model: "claude-a", max_tokens: 16, messages: [{ role: "user", content: "hi" }] });
		assert.deepEqual(whole.content, [{ type: "text", text: "wordwordword" }]);
		assert.equal(whole.usage.output_tokens, 3);
		const stream = anthropic.messages.stream({ model: "claude-a", max_tokens: 16, messages: [{ role: "user", content: "hi" }] });
		const events: string[] = [];
		stream.on("streamEvent", (e) => events.push(e.type));
		const final = await stream.finalMessage();
		assert.deepEqual(final.content, [{ type: "text", text: "wordwordword" }]);
		assert.equal(final.usage.output_tokens, 3);
		assert.ok(events.includes("message_start") && events.includes("message_delta"));
	});

	it("errors are the SDK's typed errors: 401, 429, 529 overloaded, 400, and an error event mid-stream", async () => {
		await assert.rejects(
			new Anthropic({ baseURL: upstream.origin, apiKey: "wrong", maxRetries: 0 }).messages.create({ model: "x", max_tokens: 1, messages: [] }),
			Anthropic.AuthenticationError,
		);
		await assert.rejects(anthropic.messages.create({ model: "error-429", max_tokens: 1, messages: [] }), Anthropic.RateLimitError);
		await assert.rejects(
			anthropic.messages.create({ model: "error-529", max_tokens: 1, messages: [] }),
			(e: unknown) => e instanceof Anthropic.APIError && e.status === 529,
		);
		await assert.rejects(anthropic.messages.create({ model: "error-context", max_tokens: 1, messages: [] }), Anthropic.BadRequestError);
		upstream.script("claude-mid", { kind: "errorEvent", afterChunks: 1, errorType: "overloaded_error" });
		await assert.rejects(
			anthropic.messages.stream({ model: "claude-mid", max_tokens: 16, messages: [{ role: "user", content: "hi" }] }).finalMessage(),
			Anthropic.APIError,
		);
	});
});
