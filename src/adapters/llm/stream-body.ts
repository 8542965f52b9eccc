/**
 * The body of a streaming response as it passes through: cut at SSE frame boundaries (so a cut
 * never leaves half a frame at the caller, where an appended error event would merge with it),
 * watched for its terminator and usage, and turned into a typed error when the upstream ends it
 * early. Backpressure is the caller's pace: nothing is read ahead of what the caller asked for.
 *
 * The watch scans bytes for a few markers and parses only the frames that hold one: a gateway
 * passing tokens through must not pay a JSON.parse per chunk.
 */
import type { WireFormat } from "./api.ts";
import { concat, lastFrameEnd, parseFrames, type SseFrame, splitFrames } from "./sse.ts";
import { anthropicUsage, type LlmUsage, openAiUsage } from "./usage.ts";

/** Complete frames: their bytes exactly as the upstream sent them; `frames` parses them on demand. */
export class StreamBlock {
	readonly bytes: Uint8Array;
	#frames: SseFrame[] | undefined;
	constructor(bytes: Uint8Array) {
		this.bytes = bytes;
	}
	get frames(): SseFrame[] {
		this.#frames ??= parseFrames(textOf(this.bytes, 0, this.bytes.length));
		return this.#frames;
	}
}

// The markers are searched for in a block's bytes read as latin1 (one character per byte, so an
// index is a byte offset), all of a format's at once with one regular expression: three
// String#indexOf scans cost 1.3-2.1 µs a 2 KB block of ten frames, since JSON's quotes make every
// `"` a false start for `"usage"` and `"error"`; the one pass costs 0.4 µs (Buffer#indexOf, before
// either, cost more than the string searches). `"usage"` counts only with a value other than null:
// OpenAI sends `"usage":null` in every chunk once include_usage is on. An `event: error` frame
// counts whatever its data says, but OpenAI streams carry no event lines: that alternative, which
// triples the pass (every `e` a false start), is searched only in a block that has one.
const OPENAI_MARKERS = /"usage"(?! *: *null)|"error"|\[DONE\]/g;
const OPENAI_MARKERS_WITH_EVENTS = /"usage"(?! *: *null)|"error"|\[DONE\]|event: ?error/g;
const ANTHROPIC_MARKERS = /message_(?:start|delta|stop)|error/g;
const USAGE_VALUE = /"usage"(?! *: *null)/g;

function textOf(bytes: Uint8Array, start: number, end: number): string {
	return Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString("utf8");
}

/** The bytes as a latin1 string: one character per byte, for searches whose indexes are byte offsets. */
function latin1(bytes: Uint8Array): string {
	return asBuffer(bytes).toString("latin1", 0, bytes.length);
}

function asBuffer(bytes: Uint8Array): Buffer {
	return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

/** What the frames seen so far say about the stream: how it ended, what it used. */
export class StreamWatch {
	readonly format: WireFormat;
	/** `done`: `[DONE]` or `message_stop`; `error`: an in-band error event (the data is kept). */
	terminal: "done" | "error" | undefined;
	errorData: string | undefined;
	usage: LlmUsage | undefined;
	/** Bytes of complete frames seen. */
	bytes = 0;

	constructor(format: WireFormat) {
		this.format = format;
	}

	/** Watches a run of complete frames (as cut by `lastFrameEnd`). */
	observe(block: Uint8Array): void {
		this.bytes += block.length;
		const s = latin1(block);
		// CR line ends are legal but rare; frames found by "\n\n" would be wrong there, so parse them all.
		if (s.includes("\r")) {
			for (const f of parseFrames(textOf(block, 0, block.length))) this.#frame(f);
			return;
		}
		// Each frame that holds a marker is parsed once, in the stream's order.
		const markers = this.format === "anthropic" ? ANTHROPIC_MARKERS : hasEventLine(s) ? OPENAI_MARKERS_WITH_EVENTS : OPENAI_MARKERS;
		for (let at = nextFrameWith(markers, s, 0); at !== undefined; at = nextFrameWith(markers, s, at.end)) {
			for (const f of parseFrames(textOf(block, at.start, at.end))) this.#frame(f);
		}
	}

	#frame(f: SseFrame): void {
		if (this.format === "anthropic") this.#anthropic(f);
		else this.#openAi(f);
	}

	#openAi(f: SseFrame): void {
		const data = f.data;
		if (data.startsWith("[DONE]")) {
			this.terminal ??= "done";
			return;
		}
		if (!data.includes('"usage"') && !data.includes('"error"') && f.event !== "error") return;
		let o: Record<string, unknown> | null;
		try {
			o = JSON.parse(data) as Record<string, unknown> | null;
		} catch {
			return;
		}
		// JSON that is not an object (`data: null`) carries no usage; under `event: error` it is still the error.
		if (typeof o !== "object" || o === null) o = {};
		if (f.event === "error" || (o.error !== undefined && o.error !== null)) {
			this.terminal ??= "error";
			this.errorData = data;
			return;
		}
		if (o.usage !== null && o.usage !== undefined) this.usage = openAiUsage(o.usage);
	}

	#anthropic(f: SseFrame): void {
		let o: { type?: string; message?: { usage?: unknown } | null; usage?: unknown } | null;
		try {
			o = JSON.parse(f.data) as typeof o;
		} catch {
			// A frame that is not JSON carries nothing to watch; the caller's parser will say what is wrong with it.
			return;
		}
		// Nor does JSON that is not an object (`data: null`), but for what its event line says.
		if (typeof o !== "object" || o === null) o = {};
		const type = f.event ?? o.type;
		if (type === "message_stop") this.terminal ??= "done";
		else if (type === "error") {
			this.terminal ??= "error";
			this.errorData = f.data;
		} else if (type === "message_start") this.usage = anthropicUsage(o.message?.usage, this.usage);
		else if (type === "message_delta") this.usage = anthropicUsage(o.usage, this.usage);
	}
}

/** Whether a run of frames (LF line ends) has an `event:` line: a search for a line end first, which is rare enough to be fast. */
function hasEventLine(s: string): boolean {
	return s.startsWith("event:") || s.includes("\nevent:");
}

/**
 * The next frame at or after `from` in which `markers` (a global regular expression) matches, as
 * offsets of `s`: a run of complete frames with LF line ends, read as latin1.
 */
function nextFrameWith(markers: RegExp, s: string, from: number): { start: number; end: number } | undefined {
	markers.lastIndex = from;
	const match = markers.exec(s);
	if (match === null) return undefined;
	const end = s.indexOf("\n\n", match.index);
	return { start: frameStart(s, match.index), end: end === -1 ? s.length : end + 2 };
}

/**
 * A run of complete OpenAI frames without the usage chunk (empty `choices`, a `usage` object):
 * for a gateway that asked the upstream for usage on its caller's behalf, so that the caller sees
 * the stream it would have seen. A run without one (all but the last, as a rule) is returned as
 * it is.
 */
export function withoutUsageChunk(chunk: Uint8Array): Uint8Array {
	const s = latin1(chunk);
	// CR line ends (legal, rare): the frames are cut by the SSE parser's own line rules.
	if (s.includes("\r")) return withoutUsageChunkSlow(chunk);
	const b = asBuffer(chunk);
	const kept: Uint8Array[] = [];
	let from = 0;
	for (let at = nextFrameWith(USAGE_VALUE, s, 0); at !== undefined; at = nextFrameWith(USAGE_VALUE, s, at.end)) {
		if (!isUsageChunk(textOf(chunk, at.start, at.end))) continue;
		kept.push(b.subarray(from, at.start));
		from = at.end;
	}
	if (from === 0) return chunk;
	kept.push(b.subarray(from));
	return Buffer.concat(kept);
}

function withoutUsageChunkSlow(chunk: Uint8Array): Uint8Array {
	let dropped = false;
	let kept = "";
	for (const frame of splitFrames(textOf(chunk, 0, chunk.length))) {
		if (isUsageChunk(frame)) dropped = true;
		else kept += frame;
	}
	return dropped ? Buffer.from(kept) : chunk;
}

/** Whether a frame's text is exactly one OpenAI usage chunk: empty `choices` and a `usage` object. */
function isUsageChunk(frame: string): boolean {
	const frames = parseFrames(frame);
	if (frames.length !== 1) return false;
	try {
		const o = JSON.parse(frames[0].data) as { choices?: unknown; usage?: unknown };
		return Array.isArray(o.choices) && o.choices.length === 0 && typeof o.usage === "object" && o.usage !== null;
	} catch {
		return false;
	}
}

/** Where the frame holding offset `at` starts: just after the blank line before it. */
function frameStart(s: string, at: number): number {
	if (at < 2) return 0;
	const blank = s.lastIndexOf("\n\n", at - 2);
	return blank === -1 ? 0 : blank + 2;
}

/**
 * Reads from `source` until at least one complete frame is there, so a response that fails
 * before its first frame can still be retried elsewhere. Resolves undefined when the body ends
 * first; throws what the body throws.
 */
export async function firstBlock(
	source: AsyncIterator<Uint8Array>,
	watch: StreamWatch,
	carry: { rest: Uint8Array | undefined },
): Promise<StreamBlock | undefined> {
	for (;;) {
		const next = await source.next();
		if (next.done) return undefined;
		const block = cut(next.value, carry, watch);
		if (block !== undefined) return block;
	}
}

/** The complete frames of `chunk` (after what was carried over), keeping the tail of an unfinished frame in `carry`. */
export function cut(chunk: Uint8Array, carry: { rest: Uint8Array | undefined }, watch: StreamWatch): StreamBlock | undefined {
	const bytes = carry.rest === undefined ? chunk : concat(carry.rest, chunk);
	const end = lastFrameEnd(bytes);
	if (end === 0) {
		carry.rest = bytes;
		return undefined;
	}
	carry.rest = end === bytes.length ? undefined : bytes.subarray(end);
	const whole = end === bytes.length ? bytes : bytes.subarray(0, end);
	watch.observe(whole);
	return new StreamBlock(whole);
}
