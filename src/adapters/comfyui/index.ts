/**
 * `lifeguard/comfyui`: one pool over several ComfyUI instances (undici for HTTP, ws for the
 * event socket): instance choice, health, stall detection, re-queue, cancellation, outputs
 * with their images. See docs/adapters/comfyui.md.
 */
export type { ComfyUIUpload } from "./attempt.ts";
export { type ComfyUICommand, ComfyUIConnection, type ExecuteArgs, type ExecuteResults } from "./connection.ts";
export {
	ComfyUICancelledError,
	ComfyUIClosedError,
	ComfyUIDriverMissingError,
	ComfyUIExecutionError,
	ComfyUIInstanceError,
	ComfyUIInterruptedError,
	type ComfyUIPromptErrorBody,
	ComfyUIQueueFullError,
	ComfyUITimeoutError,
	ComfyUIWorkflowError,
} from "./errors.ts";
export { type ComfyUIInstanceStats, InstanceState } from "./instance.ts";
export { type ComfyUIImage, ComfyUIJob, type ComfyUIProgress, type ComfyUIResult } from "./job.ts";
export { ChoiceStrategy, COMFYUI_DEFAULTS, type ComfyUIAuth, type ComfyUIConfig, type ComfyUIInstanceConfig, type ComfyUIPoolOptions } from "./options.ts";
export {
	type AcquireSlotOptions,
	ComfyUIPool,
	type ComfyUIPoolStats,
	type ComfyUISeedOptions,
	type ComfyUIWorkflow,
	createComfyUIPool,
	type RunOptions,
} from "./pool.ts";
