/**
 * The ComfyUI adapter's typed errors, on the core's stable codes. A workflow the server
 * rejects (QUERY_FAILED, `ComfyUIWorkflowError`) is never re-queued: it would fail anywhere.
 */
import { ErrorCode, LifeguardError } from "../../core/errors.ts";

/** ComfyUI's `{ error: { type, message, details }, node_errors }` for a rejected prompt. */
export interface ComfyUIPromptErrorBody {
	type: string;
	message: string;
	details: string;
	extra_info?: Record<string, unknown>;
}

/** POST /prompt answered 400: the workflow is invalid (unknown node, failed validation, no outputs). Never retried. */
export class ComfyUIWorkflowError extends LifeguardError {
	readonly error: ComfyUIPromptErrorBody;
	/** Per-node validation errors, as ComfyUI sent them. */
	readonly nodeErrors: Record<string, unknown>;
	readonly instance: string;
	constructor(instance: string, error: ComfyUIPromptErrorBody, nodeErrors: Record<string, unknown>) {
		const nodes = Object.keys(nodeErrors);
		super(
			ErrorCode.QUERY_FAILED,
			`comfyui "${instance}" rejected the workflow: ${error.message}${error.details ? ` (${error.details})` : ""}${nodes.length > 0 ? `; nodes with errors: ${nodes.join(", ")}` : ""}`,
		);
		this.error = error;
		this.nodeErrors = nodeErrors;
		this.instance = instance;
	}
}

/** `execution_error`: a node raised while the prompt ran. The instance cools down for this workflow. */
export class ComfyUIExecutionError extends LifeguardError {
	readonly promptId: string;
	readonly instance: string;
	readonly nodeId: string;
	readonly nodeType: string;
	readonly exceptionType: string;
	readonly exceptionMessage: string;
	readonly traceback: string[];
	constructor(instance: string, promptId: string, data: Record<string, unknown>) {
		const nodeType = String(data.node_type ?? "");
		const exceptionType = String(data.exception_type ?? "");
		const exceptionMessage = String(data.exception_message ?? "");
		super(ErrorCode.QUERY_FAILED, `comfyui "${instance}": node ${String(data.node_id)} (${nodeType}) failed: ${exceptionType}: ${exceptionMessage}`);
		this.promptId = promptId;
		this.instance = instance;
		this.nodeId = String(data.node_id ?? "");
		this.nodeType = nodeType;
		this.exceptionType = exceptionType;
		this.exceptionMessage = exceptionMessage;
		this.traceback = Array.isArray(data.traceback) ? data.traceback.map(String) : [];
	}
}

/** The prompt was interrupted on the server (by someone else, or by a cancel that landed). */
export class ComfyUIInterruptedError extends LifeguardError {
	readonly promptId: string;
	constructor(instance: string, promptId: string) {
		super(ErrorCode.QUERY_FAILED, `comfyui "${instance}": prompt ${promptId} was interrupted`);
		this.promptId = promptId;
	}
}

/** The caller's signal aborted the job: it was removed from the queue, or interrupted on its instance. */
export class ComfyUICancelledError extends LifeguardError {
	constructor(pool: string, where: string, reason: unknown) {
		super(ErrorCode.ACQUIRE_ABORTED, `comfyui pool "${pool}": job cancelled ${where}`, { cause: reason });
	}
}

/** No message about the job for `stallTimeoutMs` (and its history shows no end), or the job passed `timeoutMs`. */
export class ComfyUITimeoutError extends LifeguardError {
	readonly kind: "stall" | "deadline";
	readonly attempts: number;
	constructor(pool: string, kind: "stall" | "deadline", ms: number, attempts: number, where: string) {
		super(
			ErrorCode.QUERY_TIMEOUT,
			kind === "stall"
				? `comfyui pool "${pool}": no word about the job for ${ms} ms (stallTimeoutMs) ${where}, after ${attempts} attempt${attempts === 1 ? "" : "s"}`
				: `comfyui pool "${pool}": the job did not finish within ${ms} ms (timeoutMs) ${where}`,
		);
		this.kind = kind;
		this.attempts = attempts;
	}
}

/** An instance could not be reached or answered with an error status (the job may be re-queued elsewhere). */
export class ComfyUIInstanceError extends LifeguardError {
	readonly instance: string;
	readonly status: number | undefined;
	constructor(instance: string, what: string, status: number | undefined, cause?: unknown) {
		super(
			ErrorCode.CONNECTION_LOST,
			`comfyui "${instance}": ${what} failed${status === undefined ? "" : ` with HTTP ${status}`}${cause instanceof Error ? `: ${cause.message}` : ""}`,
			cause === undefined ? undefined : { cause },
		);
		this.instance = instance;
		this.status = status;
	}
}

/** More jobs wait than `maxQueued`: rejected at once. */
export class ComfyUIQueueFullError extends LifeguardError {
	constructor(pool: string, maxQueued: number) {
		super(ErrorCode.POOL_QUEUE_FULL, `comfyui pool "${pool}": ${maxQueued} jobs already wait (maxQueued); rejected at once, shed load or raise maxQueued`);
	}
}

/** The pool was closed. */
export class ComfyUIClosedError extends LifeguardError {
	constructor(pool: string) {
		super(ErrorCode.POOL_CLOSED, `comfyui pool "${pool}" is closed or closing: it takes no new work`);
	}
}

/** `undici` is an optional peer dependency and is not installed. */
export class ComfyUIDriverMissingError extends LifeguardError {
	constructor(cause: unknown) {
		super(ErrorCode.DRIVER_MISSING, 'lifeguard/comfyui needs the "undici" package (>= 7) and "ws" (>= 8): run `npm install undici ws`', { cause });
	}
}
