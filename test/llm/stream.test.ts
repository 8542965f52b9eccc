import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { type LlmClient, LlmError, LlmErrorCode } from "../../src/adapters/llm/index.ts";
import { chat, clientFor, message, sleep, waitFor } from "./fixtures.ts";
import { type LlmUpstream, startLlmUpstream } from "./servers/llm-upstream.ts";

let upstream: LlmUpstream;
let llm: LlmClient;

before(async () => {
	upstream = await startLlmUpstream();
	llm = clientFor(upstream, {
		"gpt-test": [{ provider: "local" }],
		"gpt-cut": [{ provider: "local" }],
		"claude-test": [{ provider: "claude" }],
		"gpt-error": [{ provider: "local" }],
		"claude-cut": [{ provider: "claude" }],
		"claude-error": [{ provider: "claude" }],
	});
});
after(async () => {
	await llm?.close();
	await upstream?.close();
});
beforeEach(() => upstream.reset());

describe("OpenAI streams", () => {
	it("yields typed chunks until [DONE] and reports the final usage chunk", async () => {
		upstream.script("gpt-test", { kind: "ok", text: "hi ", chunks: 4 });
		const stream = await llm.chatStream(chat("gpt-test", { stream_options: { include_usage: true } }));
		const chunks = [];
		for await (const chunk of stream) chunks.push(chunk);
		assert.equal(chunks[0].object, "chat.completion.chunk");
		assert.equal(chunks.map((c) => c.choices[0]?.delta.content ?? "").join(""), "hi hi hi hi ");
		assert.deepEqual(chunks.at(-1)?.choices, []);
		assert.deepEqual(stream.usage, { promptTokens: stream.usage?.promptTokens, completionTokens: 4, totalTokens: (stream.usage?.promptTokens ?? 0) + 4 });
		assert.ok((stream.usage?.promptTokens ?? 0) > 0);
		assert.equal(stream.deployment, "local/gpt-test");
		assert.equal(upstream.requests[0].body?.stream, true);
	});

	it("streams legacy completions", async () => {
		const stream = await llm.completionsStream({ model: "gpt-test", prompt: "say" });
		assert.equal(await stream.text(), "wordwordword");
	});

	it("an upstream cut mid-stream is a STREAM_CUT error from the iterator, never a silent end", async () => {
		upstream.script("gpt-cut", { kind: "cut", afterChunks: 2 });
		const stream = await llm.chatStream(chat("gpt-cut"));
		let text = "";
		await assert.rejects(
			async () => {
				for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
			},
			(e: unknown) => e instanceof LlmError && e.code === LlmErrorCode.STREAM_CUT && e.deployment === "local/gpt-cut",
		);
		assert.equal(text, "wordword");
	});

	it("an in-band error chunk is thrown as a typed error", async () => {
		upstream.script("gpt-error", { kind: "errorEvent", afterChunks: 1, errorType: "server_error", delayMs: 20 });
		const stream = await llm.chatStream(chat("gpt-error"));
		await assert.rejects(stream.text(), (e: unknown) => e instanceof LlmError && e.code === LlmErrorCode.SERVER);
	});
});

describe("Anthropic streams", () => {
	it("yields message_start, content_block_*, ping, message_delta and message_stop, with the usage at the end", async () => {
		upstream.script("claude-test", { kind: "ok", text: "yo", chunks: 3 });
		const stream = await llm.messagesStream(message("claude-test"));
		const types = [];
		let text = "";
		for await (const event of stream) {
			types.push(event.type);
			if (event.type === "content_block_delta" && event.delta.type === "text_delta") text += (event.delta as { text: string }).text;
		}
		assert.deepEqual(types, [
			"message_start",
			"content_block_start",
			"ping",
			"content_block_delta",
			"content_block_delta",
			"content_block_delta",
			"content_block_stop",
			"message_delta",
			"message_stop",
		]);
		assert.equal(text, "yoyoyo");
		assert.equal(stream.usage?.completionTokens, 3, "output tokens from message_delta");
		assert.ok((stream.usage?.promptTokens ?? 0) > 0, "input tokens from message_start");
	});

	it("an upstream cut before message_stop is a STREAM_CUT error", async () => {
		upstream.script("claude-cut", { kind: "cut", afterChunks: 1 });
		const stream = await llm.messagesStream(message("claude-cut"));
		await assert.rejects(stream.text(), (e: unknown) => e instanceof LlmError && e.code === LlmErrorCode.STREAM_CUT);
	});

	it("an error event mid-stream is thrown as its typed error (overloaded)", async () => {
		upstream.script("claude-error", { kind: "errorEvent", afterChunks: 2, errorType: "overloaded_error", delayMs: 20 });
		const stream = await llm.messagesStream(message("claude-error"));
		await assert.rejects(stream.text(), (e: unknown) => e instanceof LlmError && e.code === LlmErrorCode.OVERLOADED);
		const breaker = llm.breakers().find((b) => b.label === "claude/claude-error");
		assert.equal(breaker?.state, "open", "overloaded mid-stream cools the deployment down");
		assert.match(breaker?.lastError ?? "", /^LLM_OVERLOADED/);
	});
});

describe("flow control and cancellation", () => {
	it("applies backpressure: the upstream waits while the caller does not read", async () => {
		upstream.script("gpt-test", { kind: "ok", chunks: 2_000, padding: 4_000 });
		const stream = await llm.chatStream(chat("gpt-test"));
		const iterator = stream[Symbol.asyncIterator]();
		try {
			await iterator.next();
			await waitFor(() => upstream.drainWaits > 0);
			// Socket buffers absorb a little more; then the upstream must stand still.
			let written = -1;
			for (let i = 0; i < 40 && written !== upstream.chunksWritten; i++) {
				written = upstream.chunksWritten;
				await sleep(100);
			}
			await sleep(200);
			assert.equal(upstream.chunksWritten, written, "the upstream stopped writing while nobody read");
			assert.ok(written < 2_000, `only ${written} of 2000 chunks were written`);
			let n = 1;
			for (;;) {
				const r = await iterator.next();
				if (r.done) break;
				n++;
			}
			assert.equal(n, 2_000 + 2, "every chunk arrived once reading resumed");
		} finally {
			await stream.cancel();
		}
	});

	it("aborting the caller's signal aborts the upstream request and frees the slot", async () => {
		upstream.script("gpt-test", { kind: "ok", chunks: 1_000, delayMs: 5 });
		const controller = new AbortController();
		const stream = await llm.chatStream(chat("gpt-test"), { signal: controller.signal });
		const seen = [];
		await assert.rejects(
			async () => {
				for await (const chunk of stream) {
					seen.push(chunk);
					if (seen.length === 3) controller.abort();
				}
			},
			(e: unknown) => e instanceof LlmError && e.code === LlmErrorCode.ABORTED,
		);
		await waitFor(() => upstream.aborted === 1);
		assert.ok(upstream.chunksWritten < 1_000);
		const pool = llm.pools().find((p) => p.label === "local/gpt-test")?.pool;
		assert.equal(pool?.stats().active, 0);
		assert.equal(llm.breakers().find((b) => b.label === "local/gpt-test")?.state, "closed", "an abort is not the deployment's fault");
	});

	it("leaving the loop early aborts the upstream request too", async () => {
		upstream.script("claude-test", { kind: "ok", chunks: 1_000, delayMs: 5 });
		const stream = await llm.messagesStream(message("claude-test"));
		for await (const event of stream) if (event.type === "content_block_delta") break;
		await waitFor(() => upstream.aborted === 1);
		assert.equal(upstream.active, 0);
	});

	it("cancel() on a stream never read aborts the upstream", async () => {
		upstream.script("gpt-test", { kind: "ok", chunks: 1_000, delayMs: 5 });
		const stream = await llm.chatStream(chat("gpt-test"));
		await stream.cancel();
		await waitFor(() => upstream.aborted === 1);
	});
});
