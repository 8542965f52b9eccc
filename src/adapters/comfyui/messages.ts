/**
 * ComfyUI's WebSocket messages: JSON `{ type, data }` text frames, and binary frames that start
 * with a 4-byte big-endian event type (1: a preview image, then a 4-byte format; 4: a preview
 * with JSON metadata that names its prompt).
 */
export interface ComfyMessage {
	type: string;
	data: Record<string, unknown>;
}

export const MessageType = {
	status: "status",
	executionStart: "execution_start",
	executionCached: "execution_cached",
	executing: "executing",
	progress: "progress",
	executed: "executed",
	executionSuccess: "execution_success",
	executionError: "execution_error",
	executionInterrupted: "execution_interrupted",
} as const;

export interface Preview {
	format: "jpeg" | "png";
	image: Buffer;
	/** Set when the server sent metadata (event type 4). */
	promptId: string | undefined;
	node: string | undefined;
}

const PREVIEW_IMAGE = 1;
const PREVIEW_IMAGE_WITH_METADATA = 4;

export function parseText(text: string): ComfyMessage | undefined {
	try {
		const message = JSON.parse(text) as ComfyMessage;
		return typeof message?.type === "string" && typeof message.data === "object" && message.data !== null ? message : undefined;
	} catch {
		return undefined;
	}
}

export function parseBinary(frame: Buffer): Preview | undefined {
	if (frame.length < 8) return undefined;
	const type = frame.readUInt32BE(0);
	if (type === PREVIEW_IMAGE) return { format: frame.readUInt32BE(4) === 2 ? "png" : "jpeg", image: frame.subarray(8), promptId: undefined, node: undefined };
	if (type === PREVIEW_IMAGE_WITH_METADATA) {
		const length = frame.readUInt32BE(4);
		try {
			const meta = JSON.parse(frame.subarray(8, 8 + length).toString("utf8")) as Record<string, unknown>;
			const format = String(meta.image_type ?? "image/jpeg").includes("png") ? "png" : "jpeg";
			return { format, image: frame.subarray(8 + length), promptId: meta.prompt_id as string | undefined, node: meta.node_id as string | undefined };
		} catch {
			return undefined;
		}
	}
	return undefined;
}

/** `status` messages carry the instance's queue depth (other clients' prompts included). */
export function queueRemainingOf(message: ComfyMessage): number | undefined {
	const status = message.data.status as { exec_info?: { queue_remaining?: unknown } } | undefined;
	const n = status?.exec_info?.queue_remaining;
	return typeof n === "number" ? n : undefined;
}
