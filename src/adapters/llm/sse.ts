/**
 * Server-sent events, read incrementally from the bytes of a response. A frame ends at a blank
 * line; `data:` lines join with "\n"; lines starting with ":" are comments (keep-alives).
 */

/** One dispatched event: its `event:` name (undefined when the frame had none) and its data. */
export interface SseFrame {
	event: string | undefined;
	data: string;
}

const LF = 0x0a;
const CR = 0x0d;

/**
 * Where the last complete frame of `bytes` ends (just after its blank line), or 0 when there is
 * none yet. Everything before that offset can be handed on: no frame is split by it.
 */
export function lastFrameEnd(bytes: Uint8Array): number {
	for (let i = bytes.length - 1; i >= 1; i--) {
		const b = bytes[i];
		if (b === LF) {
			if (bytes[i - 1] === LF) return i + 1;
			if (bytes[i - 1] === CR && i >= 3 && bytes[i - 2] === LF && bytes[i - 3] === CR) return i + 1;
		} else if (b === CR && bytes[i - 1] === CR) {
			// "\r\r" ends a frame only when the next byte is not the "\n" of a "\r\n".
			if (i + 1 < bytes.length && bytes[i + 1] !== LF) return i + 1;
		}
	}
	return 0;
}

/** The frames in a run of complete frames (as cut by {@link lastFrameEnd}). */
export function parseFrames(text: string): SseFrame[] {
	const frames: SseFrame[] = [];
	let event: string | undefined;
	let data: string | undefined;
	let start = 0;
	const n = text.length;
	while (start <= n) {
		let end = start;
		while (end < n && text.charCodeAt(end) !== LF && text.charCodeAt(end) !== CR) end++;
		if (end === start) {
			if (data !== undefined) frames.push({ event, data });
			event = undefined;
			data = undefined;
		} else if (text.charCodeAt(start) !== 0x3a) {
			const colon = text.indexOf(":", start);
			const hasColon = colon !== -1 && colon < end;
			const field = hasColon ? text.slice(start, colon) : text.slice(start, end);
			let valueStart = hasColon ? colon + 1 : end;
			if (hasColon && text.charCodeAt(valueStart) === 0x20) valueStart++;
			const value = text.slice(valueStart, end);
			if (field === "data") data = data === undefined ? value : `${data}\n${value}`;
			else if (field === "event") event = value;
		}
		if (end >= n) break;
		start = text.charCodeAt(end) === CR && text.charCodeAt(end + 1) === LF ? end + 2 : end + 1;
	}
	if (data !== undefined) frames.push({ event, data });
	return frames;
}

/**
 * The text of each frame in a run of complete frames, blank line included, by the same line
 * rules as {@link parseFrames} (LF, CRLF or CR); text after the last blank line comes last.
 * Joined, they give the text back.
 */
export function splitFrames(text: string): string[] {
	const frames: string[] = [];
	const n = text.length;
	let frameStart = 0;
	let lineStart = 0;
	while (lineStart < n) {
		let end = lineStart;
		while (end < n && text.charCodeAt(end) !== LF && text.charCodeAt(end) !== CR) end++;
		const next = text.charCodeAt(end) === CR && text.charCodeAt(end + 1) === LF ? end + 2 : end + 1;
		if (end === lineStart) {
			frames.push(text.slice(frameStart, Math.min(next, n)));
			frameStart = next;
		}
		lineStart = next;
	}
	if (frameStart < n) frames.push(text.slice(frameStart));
	return frames;
}

/** Reads frames from chunks of bytes that may split frames anywhere (even inside a UTF-8 character). */
export class SseReader {
	#pending: Uint8Array | undefined;

	/** The frames completed by this chunk. */
	push(chunk: Uint8Array): SseFrame[] {
		const bytes = this.#pending === undefined ? chunk : concat(this.#pending, chunk);
		const end = lastFrameEnd(bytes);
		this.#pending = end === bytes.length ? undefined : bytes.subarray(end);
		return end === 0 ? [] : parseFrames(Buffer.from(bytes.buffer, bytes.byteOffset, end).toString("utf8"));
	}

	/** Bytes of a frame not yet ended by a blank line. */
	get pendingBytes(): number {
		return this.#pending?.length ?? 0;
	}
}

export function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
	const out = new Uint8Array(a.length + b.length);
	out.set(a, 0);
	out.set(b, a.length);
	return out;
}
