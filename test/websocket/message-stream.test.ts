/**
 * receive()'s buffer on its own: where a gap in it is reported, against the order the messages
 * came in (the integration test in faults.test.ts drives the same through a real socket).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { WebSocketReceiveOverflowError } from "../../src/adapters/websocket/errors.ts";
import { MessageStream } from "../../src/adapters/websocket/message-stream.ts";

/** What take() yields in turn: a message, or `missed N` for an overflow, or `end`. */
async function drain(stream: MessageStream<number>, count: number): Promise<string[]> {
	const seen: string[] = [];
	for (let i = 0; i < count; i++) {
		try {
			const r = await stream.take({ timeoutMs: 1_000 });
			seen.push(r.done === true ? "end" : String(r.value));
		} catch (error) {
			assert.ok(error instanceof WebSocketReceiveOverflowError, String(error));
			seen.push(`missed ${error.dropped}`);
		}
	}
	return seen;
}

describe("receive()'s buffer while other readers are open", () => {
	const yielding = (highWaterMark: number) => ({
		stream: new MessageStream<number>(
			"unit",
			highWaterMark,
			() => {},
			() => {},
			() => true,
		),
	});

	it("reports the dropped messages where the gap is, before the messages kept after it", async () => {
		const { stream } = yielding(2);
		for (let i = 1; i <= 4; i++) stream.push(i); // 3 and 4 find the buffer full: dropped
		assert.deepEqual(await drain(stream, 1), ["1"]);
		stream.push(5); // room again: kept, after the gap
		stream.end();
		assert.deepEqual(await drain(stream, 4), ["2", "missed 2", "5", "end"]);
	});

	it("each run of drops is its own gap, with its own count", async () => {
		const { stream } = yielding(2);
		stream.push(1);
		stream.push(2);
		stream.push(3); // dropped
		assert.deepEqual(await drain(stream, 1), ["1"]);
		stream.push(4);
		stream.push(5); // dropped
		stream.push(6); // dropped
		stream.end();
		assert.deepEqual(await drain(stream, 6), ["2", "missed 1", "4", "missed 2", "end", "end"]);
	});

	it("a gap does not count as a message: it takes no room the high-water mark allows", async () => {
		const { stream } = yielding(3);
		for (let i = 1; i <= 5; i++) stream.push(i); // 4 and 5 dropped
		assert.equal(stream.buffered, 3);
		assert.deepEqual(await drain(stream, 1), ["1"]);
		stream.push(6);
		assert.equal(stream.buffered, 3);
		stream.push(7); // full again: dropped
		stream.end();
		assert.deepEqual(await drain(stream, 6), ["2", "3", "missed 2", "6", "missed 1", "end"]);
	});

	it("a gap stays in its place when the other readers close and the buffer keeps everything again", async () => {
		let others = true;
		const stream = new MessageStream<number>(
			"unit",
			2,
			() => {},
			() => {},
			() => others,
		);
		stream.push(1);
		stream.push(2);
		stream.push(3); // dropped
		others = false;
		stream.push(4); // kept: this buffer holds the socket now
		stream.end();
		assert.deepEqual(await drain(stream, 5), ["1", "2", "missed 1", "4", "end"]);
	});
});
