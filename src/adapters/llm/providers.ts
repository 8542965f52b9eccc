/**
 * Provider presets: where each hosted API lives and how it wants its key. Every preset but
 * `anthropic` speaks the OpenAI wire format; `azure` puts the deployment in the path.
 */
import type { LlmApi, WireFormat } from "./api.ts";
import { endpointOf } from "./api.ts";

export const ProviderPreset = {
	openai: "openai",
	azure: "azure",
	openrouter: "openrouter",
	groq: "groq",
	together: "together",
	mistral: "mistral",
	vllm: "vllm",
	ollama: "ollama",
	anthropic: "anthropic",
	/** Any other OpenAI-compatible server: `baseUrl` is required. */
	openaiCompatible: "openai-compatible",
} as const;
export type ProviderPreset = (typeof ProviderPreset)[keyof typeof ProviderPreset];

interface PresetSpec {
	format: WireFormat;
	/** Undefined: the user must give `baseUrl`. */
	baseUrl: string | undefined;
	/** How the key is sent. */
	auth: "bearer" | "api-key" | "x-api-key";
	/** A key is required (local servers usually take none). */
	needsKey: boolean;
}

export const PRESETS: Record<ProviderPreset, PresetSpec> = {
	openai: { format: "openai", baseUrl: "https://api.openai.com/v1", auth: "bearer", needsKey: true },
	azure: { format: "openai", baseUrl: undefined, auth: "api-key", needsKey: true },
	openrouter: { format: "openai", baseUrl: "https://openrouter.ai/api/v1", auth: "bearer", needsKey: true },
	groq: { format: "openai", baseUrl: "https://api.groq.com/openai/v1", auth: "bearer", needsKey: true },
	together: { format: "openai", baseUrl: "https://api.together.xyz/v1", auth: "bearer", needsKey: true },
	mistral: { format: "openai", baseUrl: "https://api.mistral.ai/v1", auth: "bearer", needsKey: true },
	vllm: { format: "openai", baseUrl: "http://127.0.0.1:8000/v1", auth: "bearer", needsKey: false },
	ollama: { format: "openai", baseUrl: "http://127.0.0.1:11434/v1", auth: "bearer", needsKey: false },
	anthropic: { format: "anthropic", baseUrl: "https://api.anthropic.com/v1", auth: "x-api-key", needsKey: true },
	"openai-compatible": { format: "openai", baseUrl: undefined, auth: "bearer", needsKey: false },
};

/** The Anthropic API version sent unless the provider's `headers` say otherwise. */
export const ANTHROPIC_VERSION = "2023-06-01";
/** Azure OpenAI's `api-version` unless `apiVersion` says otherwise. */
export const AZURE_API_VERSION = "2024-10-21";

/** A provider as requests use it: resolved once at construction. */
export interface ResolvedProvider {
	name: string;
	preset: ProviderPreset;
	format: WireFormat;
	/** `https://host:port`, the key of the HTTP pool. */
	origin: string;
	/** The base URL's path without a trailing slash (`/v1`, `/openai/v1`, or empty for Azure). */
	basePath: string;
	/** Authentication and fixed headers, lower-case names. */
	headers: Record<string, string>;
	apiVersion: string | undefined;
	/** Strings no error or log may show: the key and any credential header. */
	secrets: string[];
}

/** The path (with query) of an API call to one deployment of a provider. */
export function pathOf(provider: ResolvedProvider, api: LlmApi, upstreamModel: string): string {
	if (provider.preset === ProviderPreset.azure) {
		return `${provider.basePath}/openai/deployments/${encodeURIComponent(upstreamModel)}${endpointOf(api)}?api-version=${encodeURIComponent(provider.apiVersion ?? AZURE_API_VERSION)}`;
	}
	return `${provider.basePath}${endpointOf(api)}`;
}

/** The path of the provider's model list. */
export function modelsPathOf(provider: ResolvedProvider): string {
	if (provider.preset === ProviderPreset.azure) {
		return `${provider.basePath}/openai/models?api-version=${encodeURIComponent(provider.apiVersion ?? AZURE_API_VERSION)}`;
	}
	return `${provider.basePath}/models`;
}

/** Headers a provider sends unless its `headers` option says otherwise. */
export function defaultHeaders(preset: ProviderPreset): Record<string, string> {
	return preset === ProviderPreset.anthropic ? { "anthropic-version": ANTHROPIC_VERSION } : {};
}

/** The key, as the preset sends it; it overrides any header of the same name. */
export function authHeaders(preset: ProviderPreset, apiKey: string | undefined): Record<string, string> {
	const spec = PRESETS[preset];
	const headers: Record<string, string> = {};
	if (apiKey !== undefined && apiKey !== "") {
		if (spec.auth === "bearer") headers.authorization = `Bearer ${apiKey}`;
		else headers[spec.auth] = apiKey;
	}
	return headers;
}
