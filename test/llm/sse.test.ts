import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { lastFrameEnd, parseFrames, SseReader } from "../../src/adapters/llm/sse.ts";

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
