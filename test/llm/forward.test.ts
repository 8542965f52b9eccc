import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import type { LlmClient, LlmUsageRecord } from "../../src/adapters/llm/index.ts";
import { ANTHROPIC_KEY, clientFor, collect, OPENAI_KEY, waitFor } from "./fixtures.ts";
import { type ForwardProxy, startForwardProxy } from "./servers/forward-proxy.ts";
import { type LlmUpstream, startLlmUpstream } from "./servers/llm-upstream.ts";

let upstream: LlmUpstream;
let llm: LlmClient;
let proxy: ForwardProxy;
const usage: LlmUsageRecord[] = [];

before(async () => {
	upstream = await startLlmUpstream();
	llm = clientFor(
		upstream,
		{
			"gpt-test": [{ provider: "local" }],
			"gpt-cut": [{ provider: "local", model: "cut-stream", cooldownMs: 1 }],
			"gpt-down": { deployments: [{ provider: "local", model: "error-500" }], fallbacks: ["gpt-test"] },
			"claude-test": [{ provider: "claude" }],
			"claude-cut": [{ provider: "claude", model: "cut-stream", cooldownMs: 1 }],
			"gpt-slow": [{ provider: "local", model: "gpt-slow", bodyTimeoutMs: 200, cooldownMs: 1 }],
			"claude-slow": [{ provider: "claude", model: "claude-slow", bodyTimeoutMs: 200, cooldownMs: 1 }],
			"claude-overloaded": [{ provider: "claude", model: "error-529" }],
			"claude-overloaded-sdk": [{ provider: "claude", model: "error-529-sdk" }],
			"text-embed": [{ provider: "local" }],
		},
		{ onUsage: (r) => usage.push(r) },
	);
	proxy = await startForwardProxy(llm);
});
after(async () => {
	await proxy?.close();
	await llm?.close();
	await upstream?.close();
});
beforeEach(() => {
	upstream.reset();
	usage.length = 0;
});

const chatBody = (model: string, extra: Record<string, unknown> = {}) => ({ model, messages: [{ role: "user", content: "hi" }], ...extra });
const messageBody = (model: string, extra: Record<string, unknown> = {}) => ({ model, max_tokens: 32, messages: [{ role: "user", content: "hi" }], ...extra });

describe("forward(): bytes passed through unchanged", () => {
	it("an OpenAI stream arrives byte for byte as the upstream wrote it, with its headers", async () => {
		const r = await llm.forward({ api: "openai.chat", body: chatBody("gpt-test", { stream: true, stream_options: { include_usage: true } }) });
		assert.equal(r.status, 200);
		assert.equal(r.stream, true);
		assert.equal(r.deployment, "local/gpt-test");
		assert.equal(r.headers["content-type"], "text/event-stream");
		assert.equal(r.headers.connection, undefined, "hop-by-hop headers are dropped");
		const text = await collect(r.body);
		assert.equal(text, upstream.requests[0].response);
		assert.ok(text.endsWith("data: [DONE]\n\n"));
		assert.equal((await r.usage)?.completionTokens, 3);
	});

	it("passes each event on as it arrives, not when the upstream is done", async () => {
		upstream.script("gpt-test", { kind: "ok", chunks: 4, delayMs: 150 });
		const started = Date.now();
		const r = await llm.forward({ api: "openai.chat", body: chatBody("gpt-test", { stream: true }) });
		const arrivals: number[] = [];
		for await (const chunk of r.body) if (Buffer.from(chunk).toString().includes('"content":"word"')) arrivals.push(Date.now() - started);
		assert.equal(arrivals.length, 4);
		assert.ok(arrivals[0] < 120, `first content after ${arrivals[0]} ms`);
		assert.ok(arrivals[3] - arrivals[0] >= 400, "the later ones followed the upstream's pace");
	});

	it("an Anthropic stream arrives byte for byte, usage from message_start and message_delta", async () => {
		const r = await llm.forward({ api: "anthropic.messages", body: messageBody("claude-test", { stream: true }) });
		const text = await collect(r.body);
		assert.equal(text, upstream.requests[0].response);
		assert.ok(text.includes("event: message_stop"));
		const u = await r.usage;
		assert.equal(u?.completionTokens, 3);
		assert.ok((u?.promptTokens ?? 0) > 0);
	});

	it("a JSON answer arrives unchanged with the provider's request id; the upstream got the deployment's key, not the caller's", async () => {
		const r = await llm.forward({ api: "openai.chat", body: chatBody("gpt-test"), headers: { "x-trace": "t1", authorization: "Bearer caller-key" } });
		assert.equal(r.stream, false);
		assert.equal(await collect(r.body), upstream.requests[0].response);
		assert.match(r.headers["x-request-id"] ?? "", /^req_\d+$/);
		assert.equal(upstream.requests[0].headers.authorization, `Bearer ${OPENAI_KEY}`);
		assert.equal(upstream.requests[0].headers["x-trace"], "t1");
	});

	it("records usage per request through onUsage", async () => {
		const r = await llm.forward({ api: "openai.embeddings", body: { model: "text-embed", input: ["a", "bb"] } });
		await collect(r.body);
		await waitFor(() => usage.length === 1);
		assert.equal(usage[0].api, "openai.embeddings");
		assert.equal(usage[0].deployment, "local/text-embed");
		assert.equal(usage[0].status, 200);
		assert.ok((usage[0].usage?.promptTokens ?? 0) > 0);
		assert.equal(usage[0].error, undefined);
	});
});

describe("forward(): failures in the caller's format", () => {
	it("a stream cut after the first byte ends with an OpenAI error chunk, never [DONE]", async () => {
		const r = await llm.forward({ api: "openai.chat", body: chatBody("gpt-cut", { stream: true }) });
		assert.equal(r.status, 200);
		const text = await collect(r.body);
		assert.ok(text.startsWith(upstream.requests[0].response), "what the upstream sent comes first, unchanged");
		assert.ok(!text.includes("[DONE]"));
		const last = text.trimEnd().split("\n\n").at(-1) ?? "";
		const event = JSON.parse(last.replace(/^data: /, ""));
		assert.equal(event.error.type, "server_error");
		assert.equal(event.error.code, "upstream_stream_cut");
		await waitFor(() => usage.length === 1);
		assert.equal(usage[0].error, "LLM_STREAM_CUT");
	});

	it("a stream cut after the first byte ends with an Anthropic error event, never message_stop", async () => {
		const r = await llm.forward({ api: "anthropic.messages", body: messageBody("claude-cut", { stream: true }) });
		const text = await collect(r.body);
		assert.ok(!text.includes("message_stop"));
		const last = text.trimEnd().split("\n\n").at(-1) ?? "";
		assert.match(last, /^event: error\ndata: /);
		assert.equal(JSON.parse(last.split("\ndata: ")[1]).error.type, "api_error");
	});

	it("a stream that falls silent after the first byte for bodyTimeoutMs ends with an error event in either format, never a clean end", async () => {
		for (const [api, model, body] of [
			["openai.chat", "gpt-slow", chatBody("gpt-slow", { stream: true })],
			["anthropic.messages", "claude-slow", messageBody("claude-slow", { stream: true })],
		] as const) {
			// undici arms its body timer at a 1 s resolution (fast timers): the silence must exceed that.
			upstream.script(model, { kind: "ok", chunks: 3, delayMs: 3_000 });
			const r = await llm.forward({ api, body });
			assert.equal(r.status, 200, model);
			const text = await collect(r.body);
			assert.ok(!text.includes("[DONE]") && !text.includes("message_stop"), `${model}: no clean end`);
			const last = text.trimEnd().split("\n\n").at(-1) ?? "";
			if (api === "openai.chat") assert.ok(JSON.parse(last.replace(/^data: /, "")).error, `${model}: ${last}`);
			else assert.match(last, /^event: error\ndata: /, model);
		}
	});

	it("failures before the first byte fall back; the caller sees only the fallback's answer", async () => {
		const r = await llm.forward({ api: "openai.chat", body: chatBody("gpt-down", { stream: true }) });
		assert.equal(r.deployment, "local/gpt-test");
		assert.ok((await collect(r.body)).endsWith("data: [DONE]\n\n"));
	});

	it("when nothing can answer, the status and error body are in the caller's format, without a key", async () => {
		const r = await llm.forward({ api: "anthropic.messages", body: messageBody("claude-overloaded") });
		assert.equal(r.status, 529);
		const body = JSON.parse(await collect(r.body));
		assert.equal(body.type, "error");
		assert.equal(body.error.type, "overloaded_error");
		assert.equal(r.error?.code, "LLM_OVERLOADED");

		const unknown = await llm.forward({ api: "openai.chat", body: chatBody("nope") });
		assert.equal(unknown.status, 404);
		const err = JSON.parse(await collect(unknown.body));
		assert.equal(err.error.code, "model_not_found");
		assert.ok(!JSON.stringify(err).includes(OPENAI_KEY));
	});

	it("a bad request is a 400 in the caller's format", async () => {
		const r = await llm.forward({ api: "openai.chat", body: { messages: [] } });
		assert.equal(r.status, 400);
		assert.equal(JSON.parse(await collect(r.body)).error.type, "invalid_request_error");
		const wrongFormat = await llm.forward({ api: "openai.embeddings", body: { model: "claude-test", input: "x" } });
		assert.equal(wrongFormat.status, 400, "embeddings have no Anthropic counterpart");
	});

	it("the caller's signal aborts the upstream mid-stream and frees the slot", async () => {
		upstream.script("gpt-test", { kind: "ok", chunks: 1_000, delayMs: 5 });
		const controller = new AbortController();
		const r = await llm.forward({ api: "openai.chat", body: chatBody("gpt-test", { stream: true }), signal: controller.signal });
		const iterator = r.body[Symbol.asyncIterator]();
		await iterator.next();
		controller.abort();
		for (;;) if ((await iterator.next()).done) break;
		await waitFor(() => upstream.aborted === 1);
		assert.equal(
			llm
				.pools()
				.find((p) => p.label === "local/gpt-test")
				?.pool.stats().active,
			0,
		);
	});

	it("body.return() on a body never read aborts the upstream and frees the slot", async () => {
		upstream.script("gpt-test", { kind: "ok", chunks: 1_000, delayMs: 5 });
		const r = await llm.forward({ api: "openai.chat", body: chatBody("gpt-test", { stream: true }) });
		await r.body.return?.();
		await waitFor(() => upstream.aborted === 1);
		assert.equal(
			llm
				.pools()
				.find((p) => p.label === "local/gpt-test")
				?.pool.stats().active,
			0,
		);
	});
});

describe("the official SDKs through a gateway on forward()", () => {
	const openai = () => new OpenAI({ baseURL: `${proxy.origin}/v1`, apiKey: "gateway-key", maxRetries: 0 });
	const anthropic = () => new Anthropic({ baseURL: proxy.origin, apiKey: "gateway-key", maxRetries: 0 });

	it("openai streams a chat completion with usage", async () => {
		const stream = await openai().chat.completions.create({
			model: "gpt-test",
			messages: [{ role: "user", content: "hi" }],
			stream: true,
			stream_options: { include_usage: true },
		});
		let text = "";
		let total = 0;
		for await (const chunk of stream) {
			text += chunk.choices[0]?.delta?.content ?? "";
			total = chunk.usage?.total_tokens ?? total;
		}
		assert.equal(text, "wordwordword");
		assert.ok(total > 0);
	});

	it("openai raises an error when the upstream cuts the stream, instead of taking half an answer", async () => {
		const stream = await openai().chat.completions.create({ model: "gpt-cut", messages: [{ role: "user", content: "hi" }], stream: true });
		let text = "";
		await assert.rejects(async () => {
			for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
		}, OpenAI.APIError);
		assert.equal(text, "wordword");
	});

	it("anthropic streams a message and raises on a cut", async () => {
		const message = await anthropic()
			.messages.stream({ model: "claude-test", max_tokens: 32, messages: [{ role: "user", content: "hi" }] })
			.finalMessage();
		assert.deepEqual(message.content, [{ type: "text", text: "wordwordword" }]);
		const cut = anthropic().messages.stream({ model: "claude-cut", max_tokens: 32, messages: [{ role: "user", content: "hi" }] });
		await assert.rejects(cut.finalMessage(), Anthropic.APIError);
	});

	it("openai and anthropic read lifeguard's error bodies as their typed errors", async () => {
		await assert.rejects(openai().chat.completions.create({ model: "nope", messages: [{ role: "user", content: "hi" }] }), OpenAI.NotFoundError);
		await assert.rejects(
			anthropic().messages.create({ model: "claude-overloaded-sdk", max_tokens: 8, messages: [{ role: "user", content: "hi" }] }),
			(e: unknown) => {
				assert.ok(e instanceof Anthropic.APIError);
				assert.equal(e.status, 529);
				return true;
			},
		);
	});

	it("the SDKs' own keys never reach the upstream; the deployment's do", async () => {
		await openai().chat.completions.create({ model: "gpt-test", messages: [{ role: "user", content: "hi" }] });
		await anthropic().messages.create({ model: "claude-test", max_tokens: 8, messages: [{ role: "user", content: "hi" }] });
		assert.equal(upstream.requests[0].headers.authorization, `Bearer ${OPENAI_KEY}`);
		assert.equal(upstream.requests[1].headers["x-api-key"], ANTHROPIC_KEY);
		assert.equal(upstream.requests[1].headers["anthropic-version"], "2023-06-01");
	});
});
