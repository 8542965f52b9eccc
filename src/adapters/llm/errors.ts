/**
 * The LLM adapter's typed errors, mapped from each provider's error body and status, and the
 * one place that decides whether a failure is the deployment's (cool it down, try another) or
 * the caller's (a bad request: no other deployment would answer differently).
 */
import { LifeguardError } from "../../core/errors.ts";
import { retryAfterMs } from "../../resilience/retry-after.ts";
import type { WireFormat } from "./api.ts";

export const LlmErrorCode = {
	/** 401/403: the provider refused the key. */
	AUTH: "LLM_AUTH",
	/** 429: requests or tokens per minute exceeded; `retryAfterMs` when the provider said. */
	RATE_LIMITED: "LLM_RATE_LIMITED",
	/** 529 (Anthropic), 503, or an `overloaded_error`: the provider is shedding load. */
	OVERLOADED: "LLM_OVERLOADED",
	/** The prompt (plus `max_tokens`) does not fit the model's context window. */
	CONTEXT_LENGTH: "LLM_CONTEXT_LENGTH",
	/** Another 4xx: the request itself is wrong. */
	BAD_REQUEST: "LLM_BAD_REQUEST",
	/** 404: the deployment does not know the model (or the path): its configuration is wrong. */
	NOT_FOUND: "LLM_NOT_FOUND",
	/** 5xx other than overload, or an in-band `api_error`. */
	SERVER: "LLM_SERVER",
	/** The upstream closed a response before its end (no `[DONE]`, no `message_stop`, a broken body). */
	STREAM_CUT: "LLM_STREAM_CUT",
	/** No response headers within `headersTimeoutMs`, or no body bytes within `bodyTimeoutMs`. */
	TIMEOUT: "LLM_TIMEOUT",
	/** The connection failed (refused, reset, DNS) before a response. */
	CONNECTION: "LLM_CONNECTION",
	/** The caller's signal aborted the request; the upstream request was aborted with it. */
	ABORTED: "LLM_ABORTED",
	/** No deployment is configured for the model. */
	UNKNOWN_MODEL: "LLM_UNKNOWN_MODEL",
	/** Every deployment that could serve the model (and its fallbacks) is cooling down or full. */
	UNAVAILABLE: "LLM_UNAVAILABLE",
	/** The request body is not something the API accepts (no model, not an object). */
	INVALID_REQUEST: "LLM_INVALID_REQUEST",
	/** The client is closed. */
	CLOSED: "LLM_CLOSED",
} as const;
export type LlmErrorCode = (typeof LlmErrorCode)[keyof typeof LlmErrorCode];

// Registers these codes as LifeguardError codes (see LifeguardErrorCodes in the core).
declare module "../../core/errors.ts" {
	interface LifeguardErrorCodes {
		llm: LlmErrorCode;
	}
}

export interface LlmErrorDetails {
	/** HTTP status the upstream answered (or the one a gateway should answer with, for lifeguard's own errors). */
	status?: number;
	/** The deployment that failed, by label (`openai/gpt-4o`). */
	deployment?: string;
	/** The model the caller asked for. */
	model?: string;
	/** How long the provider asked to wait (Retry-After, retry-after-ms), or until a deployment leaves its cooldown. */
	retryAfterMs?: number;
	/** The provider's own error type (`rate_limit_error`, `invalid_request_error`, `server_error`). */
	providerType?: string;
	/** The provider's own error code (`context_length_exceeded`, `invalid_api_key`), when it sends one. */
	providerCode?: string;
	/** The provider's request id (`x-request-id`, `request-id`), for support tickets. */
	requestId?: string;
	cause?: unknown;
}

/** Every failure of the LLM client. Match on `code` ({@link LlmErrorCode}); it is also a `LifeguardError`. */
export class LlmError extends LifeguardError {
	declare readonly code: LlmErrorCode;
	readonly status: number | undefined;
	readonly deployment: string | undefined;
	readonly model: string | undefined;
	readonly retryAfterMs: number | undefined;
	readonly providerType: string | undefined;
	readonly providerCode: string | undefined;
	readonly requestId: string | undefined;

	constructor(code: LlmErrorCode, message: string, details: LlmErrorDetails = {}) {
		super(code, message, details.cause === undefined ? undefined : { cause: details.cause });
		this.status = details.status;
		this.deployment = details.deployment;
		this.model = details.model;
		this.retryAfterMs = details.retryAfterMs;
		this.providerType = details.providerType;
		this.providerCode = details.providerCode;
		this.requestId = details.requestId;
	}

	/** The deployment is at fault (cool it down, try another); false for the caller's own mistakes. */
	get deploymentFault(): boolean {
		return DEPLOYMENT_FAULTS.has(this.code);
	}
}

const DEPLOYMENT_FAULTS = new Set<LlmErrorCode>([
	LlmErrorCode.AUTH,
	LlmErrorCode.RATE_LIMITED,
	LlmErrorCode.OVERLOADED,
	LlmErrorCode.NOT_FOUND,
	LlmErrorCode.SERVER,
	LlmErrorCode.STREAM_CUT,
	LlmErrorCode.TIMEOUT,
	LlmErrorCode.CONNECTION,
]);

/** What a provider's error body says, whichever format it came in. */
interface ProviderError {
	type?: string;
	code?: string;
	message?: string;
}

/** Reads `{error:{message,type,code}}` (OpenAI and most compatibles), `{type:"error",error:{type,message}}` (Anthropic), or `{error:"text"}` (Ollama, vLLM). */
export function parseProviderError(text: string): ProviderError {
	let body: unknown;
	try {
		body = JSON.parse(text);
	} catch {
		return { message: text.slice(0, 500) || undefined };
	}
	const inner = (body as { error?: unknown } | null)?.error;
	if (typeof inner === "string") return { message: inner };
	if (inner !== null && typeof inner === "object") {
		const e = inner as Record<string, unknown>;
		return {
			type: typeof e.type === "string" ? e.type : undefined,
			code: typeof e.code === "string" ? e.code : typeof e.code === "number" ? String(e.code) : undefined,
			message: typeof e.message === "string" ? e.message : undefined,
		};
	}
	const message = (body as { message?: unknown } | null)?.message;
	return { message: typeof message === "string" ? message : undefined };
}

const CONTEXT_PATTERNS = [/context[_ ]length/i, /context window/i, /prompt is too long/i, /maximum context/i, /too many tokens/i, /reduce the length/i];

/** The error code for an upstream status and error body. */
export function classifyStatus(status: number, e: ProviderError): LlmErrorCode {
	const type = e.type ?? "";
	const code = e.code ?? "";
	if (type === "overloaded_error" || status === 529) return LlmErrorCode.OVERLOADED;
	if (status === 401 || status === 403 || type === "authentication_error" || type === "permission_error") return LlmErrorCode.AUTH;
	if (status === 429 || type === "rate_limit_error") return LlmErrorCode.RATE_LIMITED;
	if (code === "context_length_exceeded" || CONTEXT_PATTERNS.some((p) => p.test(e.message ?? ""))) {
		if (status < 500) return LlmErrorCode.CONTEXT_LENGTH;
	}
	if (status === 503) return LlmErrorCode.OVERLOADED;
	if (status === 404 || type === "not_found_error") return LlmErrorCode.NOT_FOUND;
	if (status === 408) return LlmErrorCode.TIMEOUT;
	if (status >= 500 || type === "api_error" || type === "server_error") return LlmErrorCode.SERVER;
	return LlmErrorCode.BAD_REQUEST;
}

const WHAT: Record<LlmErrorCode, string> = {
	LLM_AUTH: "the provider refused the API key",
	LLM_RATE_LIMITED: "rate limited",
	LLM_OVERLOADED: "the provider is overloaded",
	LLM_CONTEXT_LENGTH: "the prompt does not fit the model's context window",
	LLM_BAD_REQUEST: "the provider rejected the request",
	LLM_NOT_FOUND: "the provider does not know this model or path",
	LLM_SERVER: "the provider failed",
	LLM_STREAM_CUT: "the upstream cut the response before its end",
	LLM_TIMEOUT: "timed out",
	LLM_CONNECTION: "could not reach the provider",
	LLM_ABORTED: "aborted by the caller's signal",
	LLM_UNKNOWN_MODEL: "no deployment is configured for this model",
	LLM_UNAVAILABLE: "no deployment can take the request now",
	LLM_INVALID_REQUEST: "invalid request",
	LLM_CLOSED: "the client is closed",
};

export interface UpstreamErrorInput {
	status: number;
	bodyText: string;
	headers: Record<string, string | string[] | undefined>;
	deployment: string;
	model: string;
	secrets: readonly string[];
}

/** The typed error for an upstream error response, its message scrubbed of the deployment's secrets. */
export function upstreamError(input: UpstreamErrorInput): LlmError {
	const parsed = parseProviderError(input.bodyText);
	const code = classifyStatus(input.status, parsed);
	const retryAfterMs = retryAfterOf(input.headers);
	const requestId = headerValue(input.headers, "x-request-id") ?? headerValue(input.headers, "request-id");
	const said = parsed.message === undefined ? "" : `: ${redact(parsed.message, input.secrets)}`;
	const tag = [String(input.status), parsed.code ?? parsed.type].filter(Boolean).join(" ");
	const wait = retryAfterMs === undefined ? "" : `; retry after ${Math.ceil(retryAfterMs / 1000)} s`;
	return new LlmError(code, `llm deployment "${input.deployment}": ${WHAT[code]} (${tag})${said}${wait}`, {
		status: input.status,
		deployment: input.deployment,
		model: input.model,
		retryAfterMs,
		providerType: parsed.type,
		providerCode: parsed.code,
		requestId,
	});
}

/** An in-band stream error event (Anthropic `event: error`, an OpenAI chunk with `error`) as a typed error. */
export function streamEventError(data: string, deployment: string, model: string, secrets: readonly string[]): LlmError {
	const parsed = parseProviderError(data);
	const status = parsed.type === "overloaded_error" ? 529 : parsed.type === "rate_limit_error" ? 429 : 500;
	const code = classifyStatus(status, parsed);
	const said = parsed.message === undefined ? "" : `: ${redact(parsed.message, secrets)}`;
	return new LlmError(code, `llm deployment "${deployment}": ${WHAT[code]} mid-stream (${parsed.type ?? "error event"})${said}`, {
		status,
		deployment,
		model,
		providerType: parsed.type,
		providerCode: parsed.code,
	});
}

/** An error of lifeguard's own (no upstream body): a cut, a timeout, a refused connection, an abort. */
export function llmError(code: LlmErrorCode, subject: string, detail: string, details: LlmErrorDetails = {}): LlmError {
	return new LlmError(code, `${subject}: ${WHAT[code]}${detail ? ` (${detail})` : ""}`, details);
}

/**
 * Removes every configured secret, and anything shaped like a provider key, from text that
 * may be shown: providers echo part of a refused key in their 401 messages.
 */
export function redact(text: string, secrets: readonly string[]): string {
	let out = text;
	for (const secret of secrets) if (secret.length >= 4) out = out.split(secret).join("[redacted]");
	return out.replace(/\b(sk|pk|rk|gsk|sk-ant|sk-or)[-_][A-Za-z0-9_*\-.]{6,}/g, "[redacted]");
}

function headerValue(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
	const v = headers[name];
	return Array.isArray(v) ? v[0] : v;
}

/** Retry-After in seconds or as an HTTP date, or `retry-after-ms` (OpenAI, Azure), in milliseconds (lifeguard/resilience reads it). */
export function retryAfterOf(headers: Record<string, string | string[] | undefined>, now = Date.now()): number | undefined {
	return retryAfterMs(headers, now);
}

/**
 * How a gateway answers each code: the HTTP status when the upstream gave none (lifeguard's own
 * errors), and the names the caller's SDK parses: Anthropic's `error.type`, OpenAI's `error.type`
 * and `error.code` (null: none; the provider's own code, when it sent one, is passed on instead).
 */
const ANSWER: Record<LlmErrorCode, { status: number; anthropicType: string; openAiType: string; openAiCode: string | null }> = {
	// Anthropic answers a key without the permission (403) with permission_error: see errorBody.
	LLM_AUTH: { status: 502, anthropicType: "authentication_error", openAiType: "invalid_request_error", openAiCode: null },
	LLM_RATE_LIMITED: { status: 502, anthropicType: "rate_limit_error", openAiType: "rate_limit_error", openAiCode: "rate_limit_exceeded" },
	LLM_OVERLOADED: { status: 502, anthropicType: "overloaded_error", openAiType: "server_error", openAiCode: null },
	LLM_CONTEXT_LENGTH: { status: 502, anthropicType: "invalid_request_error", openAiType: "invalid_request_error", openAiCode: "context_length_exceeded" },
	LLM_BAD_REQUEST: { status: 502, anthropicType: "invalid_request_error", openAiType: "invalid_request_error", openAiCode: null },
	LLM_NOT_FOUND: { status: 502, anthropicType: "not_found_error", openAiType: "invalid_request_error", openAiCode: null },
	LLM_SERVER: { status: 502, anthropicType: "api_error", openAiType: "server_error", openAiCode: null },
	LLM_STREAM_CUT: { status: 502, anthropicType: "api_error", openAiType: "server_error", openAiCode: "upstream_stream_cut" },
	LLM_TIMEOUT: { status: 504, anthropicType: "timeout_error", openAiType: "server_error", openAiCode: null },
	LLM_CONNECTION: { status: 502, anthropicType: "api_error", openAiType: "server_error", openAiCode: null },
	LLM_ABORTED: { status: 499, anthropicType: "api_error", openAiType: "server_error", openAiCode: null },
	LLM_UNKNOWN_MODEL: { status: 404, anthropicType: "not_found_error", openAiType: "invalid_request_error", openAiCode: "model_not_found" },
	LLM_UNAVAILABLE: { status: 503, anthropicType: "overloaded_error", openAiType: "server_error", openAiCode: null },
	LLM_INVALID_REQUEST: { status: 400, anthropicType: "invalid_request_error", openAiType: "invalid_request_error", openAiCode: null },
	LLM_CLOSED: { status: 503, anthropicType: "api_error", openAiType: "server_error", openAiCode: null },
};

/** The status a gateway should answer with for one of lifeguard's errors. */
export function statusOf(error: LlmError): number {
	return error.status ?? ANSWER[error.code].status;
}

/** The caller's wire format's error body for an error: what the official SDKs parse. */
export function errorBody(format: WireFormat, error: LlmError): string {
	const answer = ANSWER[error.code];
	if (format === "anthropic") {
		const type = error.code === LlmErrorCode.AUTH && statusOf(error) === 403 ? "permission_error" : answer.anthropicType;
		return JSON.stringify({ type: "error", error: { type, message: error.message } });
	}
	return JSON.stringify({ error: { message: error.message, type: answer.openAiType, param: null, code: error.providerCode ?? answer.openAiCode } });
}
