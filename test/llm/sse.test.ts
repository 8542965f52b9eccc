import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { lastFrameEnd, parseFrames, SseReader, splitFrames } from "../../src/adapters/llm/sse.ts";
import { cut, StreamWatch, withoutUsageChunk } from "../../src/adapters/llm/stream-body.ts";

const enc = (s: string) => Buffer.from(s, "utf8");

describe("SSE parsing", () => {
	it("reads event names, joins multi-line data, skips comments and frames without data", () => {
		const frames = parseFrames(": keep-alive\n\nevent: ping\ndata: {}\n\ndata: a\ndata: b\n\nevent: lonely\n\n");
		assert.deepEqual(frames, [
			{ event: "ping", data: "{}" },
			{ event: undefined, data: "a\nb" },
		]);
	});

	it("accepts CRLF and CR line ends and a field without a space after the colon", () => {
		assert.deepEqual(parseFrames("event:x\r\ndata:1\r\n\r\ndata: 2\r\r"), [
			{ event: "x", data: "1" },
			{ event: undefined, data: "2" },
		]);
	});

	it("finds the end of the last complete frame, never inside one", () => {
		assert.equal(lastFrameEnd(enc("data: 1\n\ndata: 2")), 9);
		assert.equal(lastFrameEnd(enc("data: 1\n")), 0);
		assert.equal(lastFrameEnd(enc("data: 1\r\n\r\n")), 11);
	});

	it("yields the same frames however the bytes are split, even inside a UTF-8 character", () => {
		const text = 'event: content_block_delta\ndata: {"text":"héllo wörld ✓"}\n\ndata: [DONE]\n\n';
		const bytes = enc(text);
		const whole = parseFrames(text);
		for (let size = 1; size <= 7; size++) {
			const reader = new SseReader();
			const frames = [];
			for (let i = 0; i < bytes.length; i += size) frames.push(...reader.push(bytes.subarray(i, i + size)));
			assert.deepEqual(frames, whole, `chunks of ${size} bytes`);
			assert.equal(reader.pendingBytes, 0);
		}
	});
});

describe("frame-aligned pass-through (property)", () => {
	const frame = fc.oneof(
		fc.string({ maxLength: 40 }).map((s) => `data: ${JSON.stringify({ choices: [{ delta: { content: s } }] })}\n\n`),
		fc.constant(": keep-alive\n\n"),
		fc.string({ maxLength: 20 }).map((s) => `event: content_block_delta\ndata: ${JSON.stringify({ type: "content_block_delta", delta: { text: s } })}\n\n`),
	);

	it("hands on every byte exactly once, in order, each block ending at a frame boundary, however the stream is split", () => {
		fc.assert(
			fc.property(fc.array(frame, { maxLength: 30 }), fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 20 }), (frames, sizes) => {
				const input = Buffer.from(`${frames.join("")}data: [DONE]\n\n`);
				const watch = new StreamWatch("openai");
				const carry: { rest: Uint8Array | undefined } = { rest: undefined };
				const out: Buffer[] = [];
				let i = 0;
				for (let k = 0; i < input.length; k++) {
					const size = sizes[k % sizes.length];
					const block = cut(input.subarray(i, i + size), carry, watch);
					i += size;
					if (block !== undefined) {
						const b = Buffer.from(block.bytes);
						assert.ok(b.toString().endsWith("\n\n"), "a block ends at a frame boundary");
						out.push(b);
					}
				}
				assert.equal(carry.rest, undefined);
				assert.equal(Buffer.concat(out).toString(), input.toString());
				assert.equal(watch.terminal, "done");
			}),
			{ numRuns: 300 },
		);
	});
});

describe("the stream watch", () => {
	it("takes frames whose data is JSON but not an object without throwing, and an OpenAI `event: error` is the error whatever its data", () => {
		const anthropic = new StreamWatch("anthropic");
		cut(Buffer.from("event: message_delta\ndata: null\n\nevent: message_stop\ndata: 5\n\n"), { rest: undefined }, anthropic);
		assert.equal(anthropic.terminal, "done");
		assert.equal(anthropic.usage, undefined);
		for (const line of ["\n", "\r\n"]) {
			for (const data of ["null", '{"message":"overloaded"}']) {
				const openai = new StreamWatch("openai");
				cut(Buffer.from(`data: {"choices":[]}${line}${line}event: error${line}data: ${data}${line}${line}`), { rest: undefined }, openai);
				assert.equal(openai.terminal, "error", `${JSON.stringify(line)} ${data}`);
				assert.equal(openai.errorData, data);
			}
		}
	});

	it("reads the frames of a block in the stream's order: an error event before [DONE] ends the stream as an error", () => {
		// Some OpenAI-compatible servers send [DONE] after their error event; the error is what happened.
		const watch = new StreamWatch("openai");
		const error = '{"error":{"message":"overloaded","type":"server_error"}}';
		cut(Buffer.from(`data: {"choices":[{"delta":{"content":"a"}}]}\n\ndata: ${error}\n\ndata: [DONE]\n\n`), { rest: undefined }, watch);
		assert.equal(watch.terminal, "error");
		assert.equal(watch.errorData, error);
	});

	it("takes OpenAI's usage from the final chunk, not the usage: null of the others, and sees [DONE]", () => {
		const watch = new StreamWatch("openai");
		const text =
			'data: {"choices":[{"delta":{"content":"a"}}],"usage":null}\n\n' +
			'data: {"choices":[{"delta":{"content":"the \\"usage\\" word"}}],"usage": null}\n\n' +
			'data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}\n\ndata: [DONE]\n\n';
		cut(Buffer.from(text), { rest: undefined }, watch);
		assert.deepEqual(watch.usage, { promptTokens: 5, completionTokens: 2, totalTokens: 7 });
		assert.equal(watch.terminal, "done");
	});

	it("reads Anthropic's input tokens from message_start and the cumulative output from the last message_delta", () => {
		const watch = new StreamWatch("anthropic");
		const frame = (type: string, o: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...o })}\n\n`;
		cut(
			Buffer.from(frame("message_start", { message: { usage: { input_tokens: 10, cache_read_input_tokens: 4, output_tokens: 1 } } })),
			{ rest: undefined },
			watch,
		);
		cut(
			Buffer.from(frame("message_delta", { delta: {}, usage: { output_tokens: 3 } }) + frame("message_delta", { delta: {}, usage: { output_tokens: 9 } })),
			{ rest: undefined },
			watch,
		);
		assert.equal(watch.terminal, undefined);
		cut(Buffer.from(frame("message_stop", {})), { rest: undefined }, watch);
		assert.deepEqual(watch.usage, { promptTokens: 14, completionTokens: 9, totalTokens: 23, cachedTokens: 4 });
		assert.equal(watch.terminal, "done");
	});
});

describe("the usage chunk a gateway asked for on its caller's behalf", () => {
	const chunk = (o: object) => `data: ${JSON.stringify(o)}\n\n`;
	const delta = (text: string, usage?: null) => chunk({ id: "c", choices: [{ index: 0, delta: { content: text } }], ...(usage === null ? { usage } : {}) });
	const usage = chunk({ id: "c", choices: [], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } });
	const done = "data: [DONE]\n\n";
	const text = (b: Uint8Array) => Buffer.from(b).toString("utf8");

	it("is cut out of the run that holds it, wherever it stands, and nothing else is", () => {
		assert.equal(text(withoutUsageChunk(Buffer.from(delta("a") + usage + done))), delta("a") + done);
		assert.equal(text(withoutUsageChunk(Buffer.from(usage + done))), done);
		assert.equal(text(withoutUsageChunk(Buffer.from(delta("a") + usage))), delta("a"));
		assert.equal(withoutUsageChunk(Buffer.from(usage)).byteLength, 0);
	});

	it("cuts at byte offsets when the text before it is not ASCII, and the watch still reads the usage", () => {
		// Multi-byte characters (2, 3 and 4 bytes in UTF-8) before the usage chunk: an index into decoded text would land short of its frame.
		const run = delta("héllo ✓ 🙂") + delta("ß", null) + usage + done;
		assert.equal(text(withoutUsageChunk(Buffer.from(run))), delta("héllo ✓ 🙂") + delta("ß", null) + done);
		const watch = new StreamWatch("openai");
		cut(Buffer.from(run), { rest: undefined }, watch);
		assert.deepEqual(watch.usage, { promptTokens: 3, completionTokens: 2, totalTokens: 5 });
		assert.equal(watch.terminal, "done");
	});

	it("leaves a run without it as the same bytes: `usage: null` chunks, content that mentions usage, a chunk with choices and usage", () => {
		const runs = [
			delta("a", null) + delta("b", null) + done,
			delta('the "usage" word') + done,
			chunk({ id: "c", choices: [{ index: 0, delta: {} }], usage: { total_tokens: 1 } }),
			chunk({ usage: { total_tokens: 1 } }),
		];
		for (const run of runs) {
			const b = Buffer.from(run);
			assert.equal(withoutUsageChunk(b), b, run);
		}
	});

	it("finds it when a nested `usage: null` comes first in its frame, and the watch charges it", () => {
		const run = chunk({ choices: [], meta: { usage: null }, usage: { total_tokens: 5 } }) + done;
		assert.equal(text(withoutUsageChunk(Buffer.from(run))), done);
		const watch = new StreamWatch("openai");
		cut(Buffer.from(run), { rest: undefined }, watch);
		assert.equal(watch.usage?.totalTokens, 5);
	});

	it("finds it with CR or CRLF line ends too", () => {
		for (const eol of ["\r\n", "\r"]) {
			const run = (delta("a") + usage + done).replaceAll("\n", eol);
			assert.equal(text(withoutUsageChunk(Buffer.from(run))), (delta("a") + done).replaceAll("\n", eol), JSON.stringify(eol));
		}
	});

	it("splitFrames cuts text into frames that join back into it (property)", () => {
		const line = fc.constantFrom("data: x", "event: e", ": ping", 'data: {"usage":1}', "");
		const eol = fc.constantFrom("\n", "\r\n", "\r");
		fc.assert(
			fc.property(fc.array(fc.tuple(line, eol), { maxLength: 12 }), (lines) => {
				const t = lines.map(([l, e]) => l + e).join("");
				const frames = splitFrames(t);
				assert.equal(frames.join(""), t);
				// Every frame but the last ends with a blank line, so parsing each alone finds what parsing the whole finds.
				assert.deepEqual(
					frames.flatMap((f) => parseFrames(f)),
					parseFrames(t),
				);
			}),
		);
	});
});
