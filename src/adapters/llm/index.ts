/**
 * `lifeguard/llm`: pooled LLM clients for OpenAI-compatible providers and Anthropic, with
 * routing over deployments, cooldown, fallback before the first byte, typed errors and typed
 * streams, and `forward()` for gateways. See docs/adapters/llm.md.
 */
export { apiForPath, formatOf, isLlmApi, LlmApi, type WireFormat } from "./api.ts";
export {
	type CallOptions,
	createLlmClient,
	type ExecuteParams,
	type ExecuteResult,
	LlmClient,
	type LlmConnection,
	type LlmModelInfo,
	type LlmOperation,
} from "./client.ts";
export { type DeploymentState, LlmSlot } from "./deployment.ts";
export { errorBody, LlmError, LlmErrorCode, type LlmErrorDetails, redact, retryAfterOf, statusOf } from "./errors.ts";
export type { ForwardRequest, ForwardResponse } from "./forward.ts";
export { type ChatStream, type CompletionStream, LlmStream, type MessageStream } from "./llm-stream.ts";
export {
	LLM_DEFAULTS,
	type LlmClientOptions,
	type LlmDeploymentOptions,
	type LlmModelOptions,
	type LlmProviderOptions,
	type LlmRouting,
	type LlmTuning,
} from "./options.ts";
export { ANTHROPIC_VERSION, AZURE_API_VERSION, ProviderPreset } from "./providers.ts";
export { type SseFrame, SseReader } from "./sse.ts";
export type { LlmUsage, LlmUsageRecord } from "./usage.ts";
export type * from "./wire.ts";
