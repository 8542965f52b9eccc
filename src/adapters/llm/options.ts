/**
 * The LLM client's options: providers (where, which key, how tuned), models (the public names
 * callers use, each a group of deployments with a routing strategy and fallbacks), and the
 * validation that lists every problem at once, with its path, never quoting a key or URL.
 */
import type { Dispatcher } from "undici";
import { durationProblem } from "../../core/duration.ts";
import { ConfigError, type ConfigProblem } from "../../core/errors.ts";
import type { HttpClientOptions } from "../http/index.ts";
import type { WireFormat } from "./api.ts";
import { authHeaders, defaultHeaders, PRESETS, ProviderPreset, type ResolvedProvider } from "./providers.ts";
import type { LlmUsageRecord } from "./usage.ts";

/** Per-provider tuning; a deployment may override any of it. */
export interface LlmTuning {
	/** Requests in flight at once on one deployment (the size of its pool). Default 64. */
	maxConcurrent?: number;
	/** Requests waiting for a free slot on one deployment; more try the next deployment. Default 1 000. */
	maxQueue?: number;
	/** How long a request waits for a slot before trying the next deployment. Default 30 000 ms. */
	queueTimeoutMs?: number;
	/**
	 * Time to the response headers. Default 600 000 ms: a long non-streaming completion sends
	 * nothing until it is done, and undici's own 300 s default silently kills such calls.
	 */
	headersTimeoutMs?: number;
	/** Longest silence between two body chunks (a stalled stream). Default 300 000 ms. */
	bodyTimeoutMs?: number;
	/** How long a failing deployment is skipped when the provider did not say (Retry-After). Default 5 000 ms. */
	cooldownMs?: number;
	/** Requests per minute this deployment may send; more wait (up to `queueTimeoutMs`) or go to another deployment. */
	rpm?: number;
	/** Tokens per minute: each request reserves an estimate (prompt / 4 + `max_tokens`), settled with the reported usage. */
	tpm?: number;
}

export interface LlmProviderOptions extends LlmTuning {
	/** Which API and where: `openai`, `azure`, `openrouter`, `groq`, `together`, `mistral`, `vllm`, `ollama`, `anthropic`, `openai-compatible`. */
	preset: ProviderPreset;
	/** Overrides the preset's base URL (required for `azure` and `openai-compatible`), e.g. `https://my-resource.openai.azure.com`. */
	baseUrl?: string;
	/** Sent as the preset says (Bearer, `api-key`, `x-api-key`); never shown in errors, logs or `details()`. */
	apiKey?: string;
	/** Extra headers on every request (OpenRouter's `HTTP-Referer`, `anthropic-beta`, an organisation id). */
	headers?: Record<string, string>;
	/** Azure's `api-version`. Default `2024-10-21`. */
	apiVersion?: string;
}

export interface LlmDeploymentOptions extends LlmTuning {
	/** A key of `providers`. */
	provider: string;
	/** The model name sent upstream (Azure: the deployment name). Default: the public model name. */
	model?: string;
	/** Share of traffic under `weighted` routing. Default 1. */
	weight?: number;
}

export type LlmRouting = "least-busy" | "weighted";

export interface LlmModelOptions {
	deployments: LlmDeploymentOptions[];
	/** `least-busy` (fewest requests in flight, the default) or `weighted` (random by `weight`). */
	routing?: LlmRouting;
	/** Public model names tried, in order, when every deployment of this one failed before the first byte. */
	fallbacks?: string[];
}

export interface LlmClientOptions {
	/** Shown in errors, metrics and the manager. Default `llm`. */
	name?: string;
	/**
	 * The HTTP dispatcher requests go through (a lifeguard HTTP client shared with other code,
	 * an undici Agent). Default: a lifeguard HTTP client of its own, sized so every deployment's
	 * `maxConcurrent` slots can have a connection, closed with the LLM client.
	 */
	dispatcher?: Dispatcher;
	/** Options of the HTTP client it makes when no `dispatcher` is given (connect timeout, TLS, prewarm, HTTP/2…). */
	http?: HttpClientOptions;
	providers: Record<string, LlmProviderOptions>;
	/** Public model name → its deployments; an array is shorthand for `{ deployments }`. */
	models: Record<string, LlmModelOptions | LlmDeploymentOptions[]>;
	/** Default routing for models that do not say. Default `least-busy`. */
	routing?: LlmRouting;
	/** Most upstream attempts for one request, over its deployments and fallbacks. Default 3. */
	maxAttempts?: number;
	/** Cap on a cooldown taken from a provider's Retry-After. Default 60 000 ms. */
	maxCooldownMs?: number;
	/** Called once per request when its body has ended (or failed), with the tokens the provider reported. */
	onUsage?: (record: LlmUsageRecord) => void;
}

export const LLM_DEFAULTS = {
	maxConcurrent: 64,
	maxQueue: 1_000,
	queueTimeoutMs: 30_000,
	headersTimeoutMs: 600_000,
	bodyTimeoutMs: 300_000,
	cooldownMs: 5_000,
	maxAttempts: 3,
	maxCooldownMs: 60_000,
} as const;

export type ResolvedTuning = Required<Omit<LlmTuning, "rpm" | "tpm">> & Pick<LlmTuning, "rpm" | "tpm">;

export interface ResolvedDeployment {
	label: string;
	provider: ResolvedProvider;
	upstreamModel: string;
	tuning: ResolvedTuning;
}

export interface ResolvedModel {
	name: string;
	format: WireFormat;
	routing: LlmRouting;
	members: { label: string; weight: number }[];
	fallbacks: string[];
}

export interface ResolvedLlmOptions {
	name: string;
	providers: Map<string, ResolvedProvider>;
	deployments: Map<string, ResolvedDeployment>;
	models: Map<string, ResolvedModel>;
	maxAttempts: number;
	maxCooldownMs: number;
}

const TUNING_KEYS = ["maxConcurrent", "maxQueue", "queueTimeoutMs", "headersTimeoutMs", "bodyTimeoutMs", "cooldownMs", "rpm", "tpm"] as const;
const CLIENT_KEYS = new Set(["name", "dispatcher", "http", "providers", "models", "routing", "maxAttempts", "maxCooldownMs", "onUsage"]);
const PROVIDER_KEYS = new Set<string>(["preset", "baseUrl", "apiKey", "headers", "apiVersion", ...TUNING_KEYS]);
const DEPLOYMENT_KEYS = new Set<string>(["provider", "model", "weight", ...TUNING_KEYS]);
const MODEL_KEYS = new Set(["deployments", "routing", "fallbacks"]);
const ROUTINGS = new Set(["least-busy", "weighted"]);

function isObject(v: unknown): v is Record<string, unknown> {
	return v !== null && typeof v === "object" && !Array.isArray(v);
}

function unknownKeys(o: Record<string, unknown>, known: Set<string>, path: string, problems: ConfigProblem[]): void {
	for (const key of Object.keys(o)) {
		if (!known.has(key)) problems.push({ path: path ? `${path}.${key}` : key, message: `unknown option (known: ${[...known].join(", ")})` });
	}
}

function checkTuning(o: Record<string, unknown>, path: string, problems: ConfigProblem[]): void {
	for (const key of TUNING_KEYS) {
		const v = o[key];
		if (v === undefined) continue;
		if (key.endsWith("Ms")) {
			// Checked here so the error names the option the user wrote; past 2^31-1 a Node (and undici) timer fires after 1 ms.
			const problem = durationProblem(v);
			if (problem !== undefined) problems.push({ path: `${path}.${key}`, message: problem });
			continue;
		}
		const integer = key === "maxConcurrent" || key === "maxQueue";
		const ok = typeof v === "number" && (integer ? Number.isInteger(v) && v >= (key === "maxQueue" ? 0 : 1) : Number.isFinite(v) && v > 0);
		if (!ok)
			problems.push({
				path: `${path}.${key}`,
				message: `must be ${integer ? "an integer >=" : "a number >"} ${key === "maxQueue" ? 0 : integer ? 1 : 0}, got ${String(v)}`,
			});
	}
}

function resolveProvider(name: string, o: Record<string, unknown>, problems: ConfigProblem[]): ResolvedProvider | undefined {
	const path = `providers.${name}`;
	unknownKeys(o, PROVIDER_KEYS, path, problems);
	checkTuning(o, path, problems);
	const preset = o.preset as ProviderPreset;
	const spec = PRESETS[preset];
	if (spec === undefined) {
		problems.push({ path: `${path}.preset`, message: `must be one of ${Object.values(ProviderPreset).join(", ")}, got ${JSON.stringify(o.preset)}` });
		return undefined;
	}
	if (o.apiKey !== undefined && typeof o.apiKey !== "string") problems.push({ path: `${path}.apiKey`, message: "must be a string" });
	const apiKey = typeof o.apiKey === "string" ? o.apiKey : undefined;
	if (spec.needsKey && !apiKey) problems.push({ path: `${path}.apiKey`, message: `required for the ${preset} preset` });
	if (o.apiVersion !== undefined && typeof o.apiVersion !== "string") problems.push({ path: `${path}.apiVersion`, message: "must be a string" });
	const headers: Record<string, string> = {};
	if (o.headers !== undefined) {
		if (!isObject(o.headers)) problems.push({ path: `${path}.headers`, message: "must be an object of header names to strings" });
		else {
			for (const [k, v] of Object.entries(o.headers)) {
				if (typeof v !== "string") problems.push({ path: `${path}.headers.${k}`, message: "must be a string" });
				else headers[k.toLowerCase()] = v;
			}
		}
	}
	const base = o.baseUrl ?? spec.baseUrl;
	if (base === undefined) {
		problems.push({ path: `${path}.baseUrl`, message: `required for the ${preset} preset` });
		return undefined;
	}
	let url: URL;
	try {
		url = new URL(String(base));
	} catch {
		problems.push({ path: `${path}.baseUrl`, message: "is not a valid URL (not shown: it may hold a credential)" });
		return undefined;
	}
	if (url.protocol !== "http:" && url.protocol !== "https:")
		problems.push({ path: `${path}.baseUrl`, message: `must be http: or https:, got ${url.protocol}` });
	if (url.username !== "" || url.password !== "") {
		problems.push({ path: `${path}.baseUrl`, message: "must not hold credentials: put the key in apiKey (the URL is not shown)" });
	}
	if (url.search !== "" || url.hash !== "") problems.push({ path: `${path}.baseUrl`, message: "must not have a query or fragment" });
	const auth = authHeaders(preset, apiKey);
	const all = { ...defaultHeaders(preset), ...headers, ...auth };
	const secrets = [
		apiKey,
		...Object.entries(headers)
			.filter(([k]) => /authorization|key|token|secret/.test(k))
			.map(([, v]) => v),
	].filter((s): s is string => typeof s === "string" && s.length > 0);
	return {
		name,
		preset,
		format: spec.format,
		origin: url.origin,
		basePath: url.pathname.replace(/\/+$/, ""),
		headers: all,
		apiVersion: typeof o.apiVersion === "string" ? o.apiVersion : undefined,
		secrets,
	};
}

function tuningOf(provider: Record<string, unknown>, deployment: Record<string, unknown>): ResolvedTuning {
	const pick = <K extends (typeof TUNING_KEYS)[number]>(k: K) => (deployment[k] ?? provider[k]) as number | undefined;
	return {
		maxConcurrent: pick("maxConcurrent") ?? LLM_DEFAULTS.maxConcurrent,
		maxQueue: pick("maxQueue") ?? LLM_DEFAULTS.maxQueue,
		queueTimeoutMs: pick("queueTimeoutMs") ?? LLM_DEFAULTS.queueTimeoutMs,
		headersTimeoutMs: pick("headersTimeoutMs") ?? LLM_DEFAULTS.headersTimeoutMs,
		bodyTimeoutMs: pick("bodyTimeoutMs") ?? LLM_DEFAULTS.bodyTimeoutMs,
		cooldownMs: pick("cooldownMs") ?? LLM_DEFAULTS.cooldownMs,
		rpm: pick("rpm"),
		tpm: pick("tpm"),
	};
}

/** Resolves and checks the options; one CONFIG_INVALID error lists every problem. */
export function resolveLlmOptions(options: LlmClientOptions): ResolvedLlmOptions {
	const problems: ConfigProblem[] = [];
	if (!isObject(options)) throw new ConfigError("createLlmClient", [{ path: "", message: "options must be an object" }]);
	const o = options as unknown as Record<string, unknown>;
	unknownKeys(o, CLIENT_KEYS, "", problems);
	const name = options.name ?? "llm";
	if (typeof name !== "string" || name === "") problems.push({ path: "name", message: "must be a non-empty string" });
	if (options.routing !== undefined && !ROUTINGS.has(options.routing))
		problems.push({ path: "routing", message: `must be least-busy or weighted, got ${JSON.stringify(options.routing)}` });
	const maxAttempts = options.maxAttempts ?? LLM_DEFAULTS.maxAttempts;
	if (!Number.isInteger(maxAttempts) || maxAttempts < 1) problems.push({ path: "maxAttempts", message: `must be an integer >= 1, got ${String(maxAttempts)}` });
	const maxCooldownMs = options.maxCooldownMs ?? LLM_DEFAULTS.maxCooldownMs;
	if (!(typeof maxCooldownMs === "number" && maxCooldownMs >= 0))
		problems.push({ path: "maxCooldownMs", message: `must be a number >= 0, got ${String(maxCooldownMs)}` });
	if (options.onUsage !== undefined && typeof options.onUsage !== "function") problems.push({ path: "onUsage", message: "must be a function" });
	if (options.dispatcher !== undefined && typeof (options.dispatcher as { request?: unknown })?.request !== "function") {
		problems.push({ path: "dispatcher", message: "must be an undici Dispatcher (an Agent, a Pool, lifeguard's HTTP client)" });
	}
	if (options.http !== undefined && options.dispatcher !== undefined)
		problems.push({ path: "http", message: "only for the HTTP client made when no dispatcher is given" });
	if (options.http !== undefined && !isObject(options.http)) problems.push({ path: "http", message: "must be an object of HTTP client options" });

	const providers = new Map<string, ResolvedProvider>();
	const providerOptions = new Map<string, Record<string, unknown>>();
	if (!isObject(options.providers) || Object.keys(options.providers).length === 0) {
		problems.push({ path: "providers", message: "required: an object of provider name → { preset, apiKey, … }" });
	} else {
		for (const [pname, p] of Object.entries(options.providers)) {
			if (!isObject(p)) {
				problems.push({ path: `providers.${pname}`, message: "must be an object { preset, apiKey, … }" });
				continue;
			}
			providerOptions.set(pname, p);
			const resolved = resolveProvider(pname, p, problems);
			if (resolved !== undefined) providers.set(pname, resolved);
		}
	}

	const deployments = new Map<string, ResolvedDeployment>();
	const models = new Map<string, ResolvedModel>();
	if (!isObject(options.models) || Object.keys(options.models).length === 0) {
		problems.push({ path: "models", message: "required: an object of model name → deployments" });
	} else {
		for (const [mname, raw] of Object.entries(options.models)) {
			const path = `models.${mname}`;
			const m: Record<string, unknown> | undefined = Array.isArray(raw) ? { deployments: raw } : isObject(raw) ? raw : undefined;
			if (m === undefined) {
				problems.push({ path, message: "must be an object { deployments, routing?, fallbacks? } or an array of deployments" });
				continue;
			}
			unknownKeys(m, MODEL_KEYS, path, problems);
			const routing = (m.routing ?? options.routing ?? "least-busy") as LlmRouting;
			if (!ROUTINGS.has(routing)) problems.push({ path: `${path}.routing`, message: `must be least-busy or weighted, got ${JSON.stringify(m.routing)}` });
			const fallbacks = m.fallbacks ?? [];
			if (!Array.isArray(fallbacks) || fallbacks.some((f) => typeof f !== "string"))
				problems.push({ path: `${path}.fallbacks`, message: "must be an array of model names" });
			const list = m.deployments;
			if (!Array.isArray(list) || list.length === 0) {
				problems.push({ path: `${path}.deployments`, message: "required: at least one { provider, model? }" });
				continue;
			}
			const members: ResolvedModel["members"] = [];
			const formats = new Set<WireFormat>();
			list.forEach((d, i) => {
				const dpath = `${path}.deployments[${i}]`;
				if (!isObject(d)) {
					problems.push({ path: dpath, message: "must be an object { provider, model?, weight? }" });
					return;
				}
				unknownKeys(d, DEPLOYMENT_KEYS, dpath, problems);
				checkTuning(d, dpath, problems);
				const provider = providers.get(String(d.provider));
				if (provider === undefined) {
					if (!providerOptions.has(String(d.provider))) {
						problems.push({
							path: `${dpath}.provider`,
							message: `unknown provider ${JSON.stringify(d.provider)} (known: ${[...providerOptions.keys()].join(", ")})`,
						});
					}
					return;
				}
				if (d.model !== undefined && (typeof d.model !== "string" || d.model === ""))
					problems.push({ path: `${dpath}.model`, message: "must be a non-empty string" });
				const weight = d.weight ?? 1;
				if (!(typeof weight === "number" && weight > 0 && Number.isFinite(weight)))
					problems.push({ path: `${dpath}.weight`, message: `must be a number > 0, got ${String(weight)}` });
				const upstreamModel = typeof d.model === "string" && d.model !== "" ? d.model : mname;
				const label = `${provider.name}/${upstreamModel}`;
				if (!deployments.has(label)) {
					deployments.set(label, { label, provider, upstreamModel, tuning: tuningOf(providerOptions.get(provider.name) ?? {}, d) });
				}
				formats.add(provider.format);
				members.push({ label, weight: weight as number });
			});
			if (formats.size > 1) {
				problems.push({
					path: `${path}.deployments`,
					message: "mixes OpenAI-format and Anthropic providers: one model's deployments must speak one wire format",
				});
			}
			models.set(mname, {
				name: mname,
				format: [...formats][0] ?? "openai",
				routing,
				members,
				fallbacks: Array.isArray(fallbacks) ? (fallbacks as string[]) : [],
			});
		}
		for (const model of models.values()) {
			model.fallbacks.forEach((f, i) => {
				const target = models.get(f);
				const path = `models.${model.name}.fallbacks[${i}]`;
				if (target === undefined) {
					if (!(options.models as Record<string, unknown>)[f]) problems.push({ path, message: `unknown model ${JSON.stringify(f)}` });
				} else if (f === model.name) problems.push({ path, message: "a model cannot fall back to itself" });
			});
		}
	}
	if (problems.length > 0) throw new ConfigError(`createLlmClient(${JSON.stringify(typeof name === "string" ? name : "llm")})`, problems);
	return { name, providers, deployments, models, maxAttempts, maxCooldownMs };
}
