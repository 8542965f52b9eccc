/** The official OpenAI and Anthropic SDKs over the client, against a local server speaking their JSON and SSE. */
import assert from "node:assert/strict";
import type http from "node:http";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { createHttpClient } from "../../src/adapters/http/index.ts";
import { startHttp, type TestServer } from "./support/servers.ts";

let server: TestServer<http.Server>;
const seen: { path: string; auth: string | undefined }[] = [];
let failNext = 0;

function sse(res: http.ServerResponse, events: { event?: string; data: unknown }[]) {
	res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
	let i = 0;
	const next = () => {
		if (i === events.length) return res.end();
		const e = events[i++];
		res.write(`${e.event ? `event: ${e.event}\n` : ""}data: ${typeof e.data === "string" ? e.data : JSON.stringify(e.data)}\n\n`);
		setTimeout(next, 5);
	};
	next();
}

function openai(res: http.ServerResponse, body: { stream?: boolean; model: string }) {
	const base = { id: "chatcmpl-1", created: 1_700_000_000, model: body.model };
	if (!body.stream) {
		res.setHeader("content-type", "application/json");
		return res.end(
			JSON.stringify({
				...base,
				object: "chat.completion",
				choices: [{ index: 0, message: { role: "assistant", content: "Hello!" }, finish_reason: "stop", logprobs: null }],
				usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
			}),
		);
	}
	const chunk = (delta: object, finish: string | null) => ({ ...base, object: "chat.completion.chunk", choices: [{ index: 0, delta, finish_reason: finish }] });
	sse(res, [
		{ data: chunk({ role: "assistant", content: "Hel" }, null) },
		{ data: chunk({ content: "lo!" }, null) },
		{ data: chunk({}, "stop") },
		{ data: "[DONE]" },
	]);
}

function anthropic(res: http.ServerResponse, body: { stream?: boolean; model: string }) {
	const message = { id: "msg_1", type: "message", role: "assistant", model: body.model, stop_sequence: null };
	if (!body.stream) {
		res.setHeader("content-type", "application/json");
		return res.end(
			JSON.stringify({ ...message, content: [{ type: "text", text: "Hello!" }], stop_reason: "end_turn", usage: { input_tokens: 5, output_tokens: 2 } }),
		);
	}
	sse(res, [
		{
			event: "message_start",
			data: { type: "message_start", message: { ...message, content: [], stop_reason: null, usage: { input_tokens: 5, output_tokens: 0 } } },
		},
		{ event: "content_block_start", data: { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } } },
		{ event: "ping", data: { type: "ping" } },
		{ event: "content_block_delta", data: { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "Hel" } } },
		{ event: "content_block_delta", data: { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "lo!" } } },
		{ event: "content_block_stop", data: { type: "content_block_stop", index: 0 } },
		{ event: "message_delta", data: { type: "message_delta", delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: 2 } } },
		{ event: "message_stop", data: { type: "message_stop" } },
	]);
}

before(async () => {
	server = await startHttp((req, res) => {
		let raw = "";
		req.on("data", (c) => (raw += c));
		req.on("end", () => {
			seen.push({ path: req.url ?? "", auth: req.headers.authorization ?? (req.headers["x-api-key"] as string | undefined) });
			if (failNext > 0) {
				failNext--;
				res.writeHead(500, { "content-type": "application/json" });
				return res.end(JSON.stringify({ error: { message: "boom", type: "server_error", param: null, code: null } }));
			}
			const body = JSON.parse(raw || "{}");
			if (req.url === "/v1/chat/completions") return openai(res, body);
			if (req.url === "/v1/messages") return anthropic(res, body);
			res.writeHead(404).end();
		});
	});
});
after(() => server.close());

describe("OpenAI SDK over the client", () => {
	it("runs chat completions, plain and streamed, through the pooled dispatcher", async () => {
		await using client = createHttpClient({ name: "openai" });
		const sdk = new OpenAI({ apiKey: "sk-test", baseURL: `${server.origin}/v1`, maxRetries: 0, fetchOptions: { dispatcher: client } as never });
		const done = await sdk.chat.completions.create({ model: "gpt-test", messages: [{ role: "user", content: "hi" }] });
		assert.equal(done.choices[0].message.content, "Hello!");
		assert.equal(done.usage?.total_tokens, 7);
		const stream = await sdk.chat.completions.create({ model: "gpt-test", messages: [{ role: "user", content: "hi" }], stream: true });
		let text = "";
		for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
		assert.equal(text, "Hello!");
		const s = client.stats().origins[server.origin];
		assert.equal(s.requests, 2);
		assert.equal(s.created, 1, "both calls on one pooled connection");
		assert.equal(seen.at(-1)?.auth, "Bearer sk-test");
	});

	it("with maxRetries: 0 the SDK leaves retries to the client: a 500 is sent once", async () => {
		await using client = createHttpClient({ name: "openai-retry" });
		const sdk = new OpenAI({ apiKey: "sk-test", baseURL: `${server.origin}/v1`, maxRetries: 0, fetchOptions: { dispatcher: client } as never });
		const before = seen.length;
		failNext = 1;
		await assert.rejects(
			sdk.chat.completions.create({ model: "gpt-test", messages: [{ role: "user", content: "hi" }] }),
			(e: Error & { status?: number }) => e.status === 500,
		);
		assert.equal(seen.length - before, 1);
	});
});

describe("Anthropic SDK over the client", () => {
	it("runs messages, plain and streamed, through the pooled dispatcher", async () => {
		await using client = createHttpClient({ name: "anthropic" });
		const sdk = new Anthropic({ apiKey: "sk-ant-test", baseURL: server.origin, maxRetries: 0, fetchOptions: { dispatcher: client } as never });
		const message = await sdk.messages.create({ model: "claude-test", max_tokens: 16, messages: [{ role: "user", content: "hi" }] });
		assert.deepEqual(message.content, [{ type: "text", text: "Hello!" }]);
		const stream = sdk.messages.stream({ model: "claude-test", max_tokens: 16, messages: [{ role: "user", content: "hi" }] });
		let text = "";
		stream.on("text", (t) => (text += t));
		const final = await stream.finalMessage();
		assert.equal(text, "Hello!");
		assert.equal(final.usage.output_tokens, 2);
		assert.equal(client.stats().origins[server.origin].requests, 2);
	});
});
