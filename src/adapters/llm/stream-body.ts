/**
 * The body of a streaming response as it passes through: cut at SSE frame boundaries (so a cut
 * never leaves half a frame at the caller, where an appended error event would merge with it),
 * watched for its terminator and usage, and turned into a typed error when the upstream ends it
 * early. Backpressure is the caller's pace: nothing is read ahead of what the caller asked for.
 */
import type { WireFormat } from "./api.ts";
import { concat, lastFrameEnd, parseFrames, type SseFrame } from "./sse.ts";
import { anthropicUsage, type LlmUsage, openAiUsage } from "./usage.ts";

/** Complete frames: their bytes exactly as the upstream sent them, and the frames they hold. */
export interface StreamBlock {
	bytes: Uint8Array;
	frames: SseFrame[];
}

/** What the frames seen so far say about the stream: how it ended, what it used. */
export class StreamWatch {
	readonly format: WireFormat;
	/** `done`: `[DONE]` or `message_stop`; `error`: an in-band error event (the data is kept). */
	terminal: "done" | "error" | undefined;
	errorData: string | undefined;
	usage: LlmUsage | undefined;
	/** Frames that carry content (anything but pings and comments). */
	frames = 0;

	constructor(format: WireFormat) {
		this.format = format;
	}

	observe(frames: readonly SseFrame[]): void {
		for (const f of frames) {
			this.frames++;
			if (this.format === "anthropic") this.#anthropic(f);
			else this.#openAi(f);
		}
	}

	#openAi(f: SseFrame): void {
		const data = f.data;
		if (data.startsWith("[DONE]")) {
			this.terminal ??= "done";
			return;
		}
		// Only frames that may carry usage or an error are parsed: the rest pass untouched.
		const usage = data.includes('"usage"');
		const error = f.event === "error" || data.includes('"error"');
		if (!usage && !error) return;
		let o: Record<string, unknown>;
		try {
			o = JSON.parse(data) as Record<string, unknown>;
		} catch {
			return;
		}
		if (error && (f.event === "error" || (o.error !== undefined && o.error !== null))) {
			this.terminal ??= "error";
			this.errorData = data;
			return;
		}
		if (usage && o.usage !== null && o.usage !== undefined) this.usage = openAiUsage(o.usage);
	}

	#anthropic(f: SseFrame): void {
		const type = f.event ?? typeOf(f.data);
		if (type === "message_stop") this.terminal ??= "done";
		else if (type === "error") {
			this.terminal ??= "error";
			this.errorData = f.data;
		} else if (type === "message_start" || type === "message_delta") {
			try {
				const o = JSON.parse(f.data) as { message?: { usage?: unknown }; usage?: unknown };
				this.usage = anthropicUsage(type === "message_start" ? o.message?.usage : o.usage, this.usage);
			} catch {
				// A frame that is not JSON carries no usage; the caller's parser will say what is wrong with it.
			}
		}
	}
}

function typeOf(data: string): string | undefined {
	const m = /"type"\s*:\s*"([a-z_]+)"/.exec(data);
	return m?.[1];
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
	const frames = parseFrames(Buffer.from(whole.buffer, whole.byteOffset, whole.length).toString("utf8"));
	watch.observe(frames);
	return { bytes: whole, frames };
}
