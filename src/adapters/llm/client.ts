/**
 * The LLM client: deployments grouped by public model name, each with its pool of request
 * slots and its cooldown; requests routed over a model's deployments (least busy or weighted),
 * then over its fallbacks, while nothing has reached the caller; responses passed on as the
 * upstream sent them (`forward`, for gateways) or as typed values and event streams.
 */
import { performance } from "node:perf_hooks";
import type { Dispatcher } from "undici";
import type { Lease } from "../../core/lease.ts";
import { type CloseOptions, closeTimeout } from "../../core/pool.ts";
import type { BreakerView, ClientPool, ManagedClient } from "../../manager/client.ts";
import { Deadline, sleep } from "../../resilience/deadline.ts";
import { RateLimitedError } from "../../resilience/errors.ts";
import { RateLimiter, type Reservation } from "../../resilience/rate-limiter.ts";
import { createHttpClient, type HttpClient } from "../http/index.ts";
import { LlmApi as Api, formatOf, isLlmApi, type LlmApi, streams } from "./api.ts";
import { Deployment, type LlmSlot } from "./deployment.ts";
import { errorBody, LlmError, LlmErrorCode, llmError, statusOf, upstreamError } from "./errors.ts";
import { ForwardBody, type ForwardRequest, type ForwardResponse, OneChunk, passHeaders } from "./forward.ts";
import { LlmStream } from "./llm-stream.ts";
import { type LlmClientOptions, type ResolvedLlmOptions, type ResolvedModel, resolveLlmOptions } from "./options.ts";
import { modelsPathOf } from "./providers.ts";
import { orderCandidates } from "./routing.ts";
import { type AttemptRequest, attempt, type UpstreamResponse } from "./upstream.ts";
import type { LlmUsage, LlmUsageRecord } from "./usage.ts";
import type {
	AnthropicMessage,
	AnthropicMessageRequest,
	AnthropicStreamEvent,
	ChatCompletion,
	ChatCompletionChunk,
	ChatCompletionRequest,
	ChatMessage,
	Completion,
	CompletionRequest,
	EmbeddingRequest,
	EmbeddingResponse,
	ModelList,
} from "./wire.ts";

/** Failures worth another try on the same deployment when nothing else can serve the request. */
const RETRY_SAME = new Set<string>([LlmErrorCode.SERVER, LlmErrorCode.CONNECTION, LlmErrorCode.OVERLOADED, LlmErrorCode.TIMEOUT, LlmErrorCode.STREAM_CUT]);
const RETRY_BASE_DELAY_MS = 250;
const RETRY_MAX_DELAY_MS = 4_000;

export interface CallOptions {
	/** Aborts the request, upstream included. */
	signal?: AbortSignal;
	/** Extra upstream request headers. */
	headers?: Record<string, string>;
}

/** A configured model as `models()` lists it. */
export interface LlmModelInfo {
	id: string;
	format: "openai" | "anthropic";
	routing: "least-busy" | "weighted";
	fallbacks: string[];
	deployments: { label: string; provider: string; model: string; weight: number; state: "closed" | "open" | "halfOpen" }[];
}

/** Seed 000's operations: `complete` (a prompt), `chat` (messages), `embed` (input), `messages` (Anthropic's body). */
export type LlmOperation = "complete" | "chat" | "embed" | "messages";

export interface ExecuteParams {
	/** Default: the client's first model. */
	model?: string;
	prompt?: string;
	messages?: ChatMessage[];
	input?: string | string[];
	max_tokens?: number;
	[key: string]: unknown;
}

/** What `execute` resolves with: the text (or vectors), the usage, and the provider's whole response. */
export interface ExecuteResult {
	text: string;
	embeddings?: number[][];
	usage: LlmUsage | undefined;
	model: string;
	deployment: string;
	raw: unknown;
}

/** A leased slot on one deployment (seed 000's pooled connection): its calls go to that deployment only. */
export interface LlmConnection {
	readonly deployment: string;
	execute(operation: LlmOperation, params: ExecuteParams, options?: CallOptions): Promise<ExecuteResult>;
	release(): void;
	[Symbol.asyncDispose](): Promise<void>;
}

/** An attempt that answered, with the deployment it ran on. */
interface Dispatched extends UpstreamResponse {
	deployment: Deployment;
	model: string;
	stream: boolean;
}

interface Pinned {
	deployment: Deployment;
}

export class LlmClient implements ManagedClient {
	readonly name: string;
	readonly kind = "llm";
	readonly #options: ResolvedLlmOptions;
	readonly #deployments = new Map<string, Deployment>();
	readonly #onUsage: ((record: LlmUsageRecord) => void) | undefined;
	readonly #firstModel: string;
	readonly #dispatcher: Dispatcher;
	/** The HTTP client the LLM client made for itself (no `dispatcher` given): closed with it, its pools listed with its own. */
	readonly #http: HttpClient | undefined;
	/** RPM/TPM per deployment, for deployments that set them. */
	readonly #limiter: RateLimiter | undefined;
	#closed = false;

	constructor(options: LlmClientOptions) {
		this.#options = resolveLlmOptions(options);
		this.name = this.#options.name;
		this.#onUsage = options.onUsage;
		for (const d of this.#options.deployments.values()) {
			this.#deployments.set(d.label, new Deployment(this.name, d));
		}
		if (options.dispatcher !== undefined) {
			this.#dispatcher = options.dispatcher;
		} else {
			this.#http = createHttpClient({ name: `${this.name}-http`, ...sizedFor(this.#deployments.values()), ...options.http });
			this.#dispatcher = this.#http;
		}
		const limited = [...this.#deployments.values()].filter((d) => d.tuning.rpm !== undefined || d.tuning.tpm !== undefined);
		if (limited.length > 0) {
			this.#limiter = new RateLimiter((label) => {
				const t = this.#deployments.get(label)?.tuning;
				return t === undefined || (t.rpm === undefined && t.tpm === undefined)
					? undefined
					: { ...(t.rpm === undefined ? {} : { requestsPerMinute: t.rpm }), ...(t.tpm === undefined ? {} : { tokensPerMinute: t.tpm }) };
			});
		}
		this.#firstModel = [...this.#options.models.keys()][0] as string;
	}

	/** Starts the HTTP client it owns (prewarms the origins given in `http.prewarm`). */
	async start(): Promise<void> {
		await this.#http?.start();
	}

	/** One pool of request slots per deployment (`provider/model`), then the origin pools of the HTTP client it owns. */
	pools(): ClientPool[] {
		const deployments = [...this.#deployments.values()].map((d) => ({ label: d.label, pool: d.pool }));
		return this.#http === undefined ? deployments : [...deployments, ...this.#http.pools()];
	}

	/** One breaker per deployment: open while it cools down, half-open while its probe runs. */
	breakers(): BreakerView[] {
		return [...this.#deployments.values()].map((d) => d.breaker());
	}

	details(): Record<string, unknown> {
		return {
			models: this.models(),
			deployments: [...this.#deployments.values()].map((d) => d.details()),
			...(this.#limiter === undefined ? {} : { rateLimits: this.#limiter.stats() }),
		};
	}

	/** The configured models, with their deployments and fallbacks (what a gateway's `GET /v1/models` lists). */
	models(): LlmModelInfo[] {
		return [...this.#options.models.values()].map((m) => ({
			id: m.name,
			format: m.format,
			routing: m.routing,
			fallbacks: [...m.fallbacks],
			deployments: m.members.map((member) => {
				const d = this.#deployments.get(member.label) as Deployment;
				return { label: d.label, provider: d.provider.name, model: d.upstreamModel, weight: member.weight, state: d.state() };
			}),
		}));
	}

	/**
	 * For gateways: sends `body` to a deployment of `body.model` (routing, cooldown, fallbacks
	 * before the first byte) and resolves with the upstream's status, headers and bytes
	 * unchanged. Never rejects for an upstream failure: the response is then an error in the
	 * caller's format (`error` says which). See docs/adapters/llm.md, "For gateways".
	 */
	async forward(request: ForwardRequest): Promise<ForwardResponse> {
		const api = request.api;
		const format = isLlmApi(api) ? formatOf(api) : "openai";
		let d: Dispatched;
		try {
			d = await this.#dispatch(api, request.body, request.signal, request.headers, undefined, request.raw);
		} catch (error) {
			const e = asLlmError(error, this.name);
			const headers: Record<string, string> = { "content-type": "application/json" };
			if (e.retryAfterMs !== undefined) headers["retry-after"] = String(Math.max(1, Math.ceil(e.retryAfterMs / 1000)));
			if (e.requestId !== undefined) headers["x-request-id"] = e.requestId;
			return {
				status: statusOf(e),
				headers,
				deployment: e.deployment,
				stream: false,
				body: new OneChunk(Buffer.from(errorBody(format, e))),
				usage: Promise.resolve(undefined),
				error: e,
			};
		}
		const body = d.blocks === undefined ? new OneChunk(d.bytes as Uint8Array) : new ForwardBody(d.blocks, format);
		return {
			status: d.status,
			headers: passHeaders(d.headers),
			deployment: d.deployment.label,
			stream: d.blocks !== undefined,
			body,
			usage: d.outcome.then((o) => o.usage),
			error: undefined,
		};
	}

	/** Chat completions (OpenAI format), whole. */
	chat(body: ChatCompletionRequest, options?: CallOptions): Promise<ChatCompletion> {
		return this.#json<ChatCompletion>(Api.openaiChat, { ...body, stream: false }, options);
	}

	/** Chat completions as a stream of chunks; resolves once the first chunk is in (failures before it fall back). */
	chatStream(body: ChatCompletionRequest, options?: CallOptions): Promise<LlmStream<ChatCompletionChunk>> {
		return this.#stream<ChatCompletionChunk>(Api.openaiChat, body, options);
	}

	/** Legacy completions (OpenAI format), whole. */
	completions(body: CompletionRequest, options?: CallOptions): Promise<Completion> {
		return this.#json<Completion>(Api.openaiCompletions, { ...body, stream: false }, options);
	}

	completionsStream(body: CompletionRequest, options?: CallOptions): Promise<LlmStream<Completion>> {
		return this.#stream<Completion>(Api.openaiCompletions, body, options);
	}

	embeddings(body: EmbeddingRequest, options?: CallOptions): Promise<EmbeddingResponse> {
		return this.#json<EmbeddingResponse>(Api.openaiEmbeddings, body, options);
	}

	/** Anthropic messages, whole. */
	messages(body: AnthropicMessageRequest, options?: CallOptions): Promise<AnthropicMessage> {
		return this.#json<AnthropicMessage>(Api.anthropicMessages, { ...body, stream: false }, options);
	}

	/** Anthropic messages as a stream of events. */
	messagesStream(body: AnthropicMessageRequest, options?: CallOptions): Promise<LlmStream<AnthropicStreamEvent>> {
		return this.#stream<AnthropicStreamEvent>(Api.anthropicMessages, body, options);
	}

	/** The provider's own model list (`GET {baseUrl}/models`), through the same dispatcher. */
	async upstreamModels(provider: string, options?: CallOptions): Promise<ModelList> {
		const p = this.#options.providers.get(provider);
		if (p === undefined) {
			throw llmError(LlmErrorCode.INVALID_REQUEST, `llm client "${this.name}"`, `unknown provider ${JSON.stringify(provider)}`, { status: 400 });
		}
		const dispatcher = this.#dispatcher;
		const subject = `llm provider "${provider}"`;
		let res: Dispatcher.ResponseData;
		try {
			res = await dispatcher.request({
				origin: p.origin,
				path: modelsPathOf(p),
				method: "GET",
				headers: { ...options?.headers, ...p.headers },
				signal: options?.signal,
			});
		} catch (error) {
			throw llmError(LlmErrorCode.CONNECTION, subject, (error as Error).message, { cause: error });
		}
		const text = await res.body.text();
		if (res.statusCode >= 400) {
			throw upstreamError({ status: res.statusCode, bodyText: text, headers: res.headers, deployment: provider, model: "", secrets: p.secrets });
		}
		return JSON.parse(text) as ModelList;
	}

	/**
	 * Seed 000's shape: runs one operation on a routed deployment and returns its text.
	 * `complete` sends `prompt` (OpenAI completions; a user message for Anthropic models),
	 * `chat` sends `messages`, `embed` sends `input`, `messages` sends an Anthropic body.
	 */
	execute(operation: LlmOperation, params: ExecuteParams, options?: CallOptions): Promise<ExecuteResult> {
		return this.#execute(operation, params, options, undefined);
	}

	/**
	 * Leases a slot on a deployment of `model` (least busy first) for seed 000's
	 * `connection.execute(...)`; release it when done (`await using` works too).
	 */
	async getConnection(model: string = this.#firstModel, options?: { signal?: AbortSignal }): Promise<LlmConnection> {
		const group = this.#group(model);
		const now = Date.now();
		const ready = group.members.map((m) => ({ d: this.#deployments.get(m.label) as Deployment, weight: m.weight })).filter((c) => c.d.available(now));
		const ordered = orderCandidates(
			ready.map((c) => ({ ...c, busy: c.d.busy })),
			group.routing,
		);
		const chosen = ordered[0]?.d;
		if (chosen === undefined) throw this.#unavailable(group, now);
		const lease = await chosen.pool.acquire({ signal: options?.signal });
		return this.#connection(chosen, lease, model);
	}

	async close(options?: CloseOptions): Promise<void> {
		closeTimeout("llm client: close", options);
		if (this.#closed) return;
		this.#closed = true;
		await Promise.all([...this.#deployments.values()].map((d) => d.pool.close(options)));
		await this.#http?.close(options);
	}

	[Symbol.asyncDispose](): Promise<void> {
		return this.close();
	}

	#connection(deployment: Deployment, lease: Lease<LlmSlot>, model: string): LlmConnection {
		let released = false;
		const release = () => {
			released = true;
			lease.release();
		};
		return {
			deployment: deployment.label,
			execute: async (operation, params, options) => {
				// A pinned call uses the connection's slot instead of taking one: once given back, there is none to use.
				if (released)
					throw llmError(LlmErrorCode.CLOSED, `llm connection to "${deployment.label}"`, "it was released; take another with getConnection()", { model });
				return this.#execute(operation, { model, ...params }, options, { deployment });
			},
			release,
			[Symbol.asyncDispose]: async () => release(),
		};
	}

	async #execute(operation: LlmOperation, params: ExecuteParams, options: CallOptions | undefined, pinned: Pinned | undefined): Promise<ExecuteResult> {
		const { model = this.#firstModel, ...rest } = params;
		const format = this.#group(model).format;
		let api: LlmApi;
		let body: Record<string, unknown>;
		switch (operation) {
			case "complete":
				if (typeof rest.prompt !== "string") throw invalid(this.name, 'execute("complete") needs params.prompt (a string)');
				if (format === "anthropic") {
					const { prompt, ...others } = rest;
					api = Api.anthropicMessages;
					body = { max_tokens: 1024, ...others, model, messages: [{ role: "user", content: prompt }] };
				} else {
					api = Api.openaiCompletions;
					body = { ...rest, model };
				}
				break;
			case "chat":
				if (!Array.isArray(rest.messages)) throw invalid(this.name, 'execute("chat") needs params.messages (an array)');
				// OpenAI-style messages for either format: an Anthropic model gets them translated.
				api = Api.openaiChat;
				body = { ...rest, model };
				break;
			case "embed":
				api = Api.openaiEmbeddings;
				body = { ...rest, model };
				break;
			case "messages":
				api = Api.anthropicMessages;
				body = { ...rest, model };
				break;
			default:
				throw invalid(this.name, `unknown operation ${JSON.stringify(operation)} (complete, chat, embed, messages)`);
		}
		const d = await this.#dispatch(api, { ...body, stream: false }, options?.signal, options?.headers, pinned);
		const raw = parseJson(d);
		const usage = (await d.outcome).usage;
		return { ...resultOf(api, raw), usage, model, deployment: d.deployment.label, raw };
	}

	async #json<T>(api: LlmApi, body: Record<string, unknown>, options: CallOptions | undefined): Promise<T> {
		const d = await this.#dispatch(api, body, options?.signal, options?.headers, undefined);
		return parseJson(d) as T;
	}

	async #stream<E>(api: LlmApi, body: Record<string, unknown>, options: CallOptions | undefined): Promise<LlmStream<E>> {
		const d = await this.#dispatch(api, { ...body, stream: true }, options?.signal, options?.headers, undefined);
		if (d.blocks === undefined) {
			throw llmError(LlmErrorCode.SERVER, `llm deployment "${d.deployment.label}"`, "a stream was asked for and a JSON body came back", {
				deployment: d.deployment.label,
				model: d.model,
				status: 502,
			});
		}
		return new LlmStream<E>({
			deployment: d.deployment.label,
			model: d.model,
			status: d.status,
			headers: d.headers,
			blocks: d.blocks,
			format: formatOf(api),
			outcome: d.outcome,
			secrets: d.deployment.provider.secrets,
		});
	}

	#group(model: string): ResolvedModel {
		const group = this.#options.models.get(model);
		if (group === undefined) {
			throw llmError(
				LlmErrorCode.UNKNOWN_MODEL,
				`llm client "${this.name}"`,
				`${JSON.stringify(model)}; configured: ${[...this.#options.models.keys()].join(", ")}`,
				{
					model,
					status: 404,
				},
			);
		}
		return group;
	}

	#unavailable(group: ResolvedModel, now: number, chain: ResolvedModel[] = [group]): LlmError {
		let soonest = Number.POSITIVE_INFINITY;
		for (const g of chain) for (const m of g.members) soonest = Math.min(soonest, this.#deployments.get(m.label)?.openUntil || soonest);
		const retryAfterMs = Number.isFinite(soonest) ? Math.max(0, soonest - now) : undefined;
		const wait = retryAfterMs === undefined ? "" : `; the first is back in ${Math.ceil(retryAfterMs / 1000)} s`;
		return llmError(
			LlmErrorCode.UNAVAILABLE,
			`llm model "${group.name}"`,
			`every deployment${chain.length > 1 ? " and fallback" : ""} is cooling down or full${wait}`,
			{
				model: group.name,
				status: 503,
				retryAfterMs,
			},
		);
	}

	/** Tries deployments (pinned, or the model's then its fallbacks') until one answers or no attempt is left. */
	async #dispatch(
		api: LlmApi,
		body: Record<string, unknown>,
		signal: AbortSignal | undefined,
		headers: Record<string, string> | undefined,
		pinned: Pinned | undefined,
		raw?: Uint8Array,
	): Promise<Dispatched> {
		const subject = `llm client "${this.name}"`;
		if (this.#closed) throw llmError(LlmErrorCode.CLOSED, subject, "", { status: 503 });
		if (!isLlmApi(api)) throw invalid(this.name, `unknown api ${JSON.stringify(api)} (${Object.values(Api).join(", ")})`);
		if (body === null || typeof body !== "object" || Array.isArray(body)) throw invalid(this.name, "the body must be a JSON object");
		const model = body.model;
		if (typeof model !== "string" || model === "") throw invalid(this.name, "the body has no model");
		const group = this.#group(model);
		if (!servable(api, group)) {
			throw invalid(
				this.name,
				`model ${JSON.stringify(model)} is served in the ${group.format} format; call it through ${group.format === "anthropic" ? Api.anthropicMessages : Api.openaiChat}`,
			);
		}
		if (signal?.aborted) throw llmError(LlmErrorCode.ABORTED, subject, "before it started", { model });
		const stream = streams(api, body);

		if (pinned !== undefined) {
			const d = pinned.deployment;
			const reservation = await this.#reserve(d, body, model, signal);
			d.begin();
			try {
				const res = await attempt(this.#dispatcher, d, { api, model, body, raw, stream, signal, headers });
				d.succeed();
				return this.#answered(res, d, model, stream, api, undefined, reservation);
			} catch (error) {
				throw this.#failed(d, asLlmError(error, this.name), reservation);
			}
		}

		const chain = [group, ...group.fallbacks.map((f) => this.#options.models.get(f) as ResolvedModel)];
		const tried = new Set<Deployment>();
		const request = { api, model, body, raw, stream, signal, headers };
		let attempts = 0;
		let last: LlmError | undefined;
		for (const g of chain) {
			if (!servable(api, g)) continue;
			const now = Date.now();
			const ready: { d: Deployment; weight: number; busy: number }[] = [];
			for (const m of g.members) {
				const d = this.#deployments.get(m.label) as Deployment;
				if (!tried.has(d) && d.available(now)) ready.push({ d, weight: m.weight, busy: d.busy });
			}
			for (const { d } of orderCandidates(ready, g.routing)) {
				if (attempts >= this.#options.maxAttempts) throw last ?? this.#unavailable(group, Date.now(), chain);
				if (!d.available()) continue;
				tried.add(d);
				attempts++;
				const outcome = await this.#try(d, request);
				if (!(outcome instanceof LlmError)) return outcome;
				last = outcome;
			}
		}
		// Nobody else can take it: a deployment cooling down after a failure the provider put no
		// wait on (a 5xx, a reset) is retried as a last resort, after a jittered backoff. One the
		// provider asked to wait (Retry-After) is left alone.
		for (let retry = 0; attempts < this.#options.maxAttempts; retry++) {
			const d = this.#lastResort(api, chain);
			// Without an attempt of its own yet (everything was cooling down), the request tries at once.
			if (d === undefined || (last !== undefined && !RETRY_SAME.has(last.code))) break;
			// A retry (this request already had its attempt) is one at a time per deployment: others fail with their error.
			const retrying = last !== undefined;
			if (retrying && !d.claimRetry()) break;
			try {
				if (retrying) {
					const capMs = Math.min(RETRY_MAX_DELAY_MS, RETRY_BASE_DELAY_MS * 2 ** retry);
					try {
						await sleep(Math.random() * capMs, { signal });
					} catch (error) {
						throw llmError(LlmErrorCode.ABORTED, subject, "while waiting to retry", { model, cause: error });
					}
				}
				attempts++;
				const outcome = await this.#try(d, request);
				if (!(outcome instanceof LlmError)) return outcome;
				last = outcome;
			} finally {
				if (retrying) d.releaseRetry();
			}
		}
		throw last ?? this.#unavailable(group, Date.now(), chain);
	}

	/** The deployment of the chain back soonest among those cooling down with no wait asked by the provider. */
	#lastResort(api: LlmApi, chain: ResolvedModel[]): Deployment | undefined {
		let best: Deployment | undefined;
		for (const g of chain) {
			if (!servable(api, g)) continue;
			for (const m of g.members) {
				const d = this.#deployments.get(m.label) as Deployment;
				if (d.retryableNow && (best === undefined || d.openUntil < best.openUntil)) best = d;
			}
		}
		return best;
	}

	/**
	 * One attempt on one deployment: a slot, its RPM/TPM budget, the request. Resolves with the
	 * answer, or with the error when another deployment may still serve the request; throws when
	 * none should (the caller aborted, or the request itself is wrong).
	 */
	async #try(d: Deployment, request: AttemptRequest): Promise<Dispatched | LlmError> {
		const { signal, model } = request;
		let lease: Lease<LlmSlot>;
		try {
			lease = await d.pool.acquire({ signal });
		} catch (error) {
			if (signal?.aborted) throw llmError(LlmErrorCode.ABORTED, `llm client "${this.name}"`, "while waiting for a slot", { model, cause: error });
			// A full deployment is busy, not failing: try the next one without cooling this one down.
			return llmError(LlmErrorCode.UNAVAILABLE, `llm deployment "${d.label}"`, (error as Error).message, {
				deployment: d.label,
				model,
				status: 503,
				cause: error,
			});
		}
		let reservation: Reservation | undefined;
		// Without a limiter there is nothing to wait for: no await (and no microtask turn) for it.
		if (this.#limiter !== undefined) {
			try {
				reservation = await this.#reserve(d, request.body, model, signal);
			} catch (error) {
				lease.release();
				const e = error as LlmError;
				if (e.code === LlmErrorCode.ABORTED) throw e;
				// Its RPM/TPM budget would hold the request past queueTimeoutMs: busy, not failing.
				return e;
			}
		}
		d.begin();
		try {
			const res = await attempt(this.#dispatcher, d, request);
			d.succeed();
			return this.#answered(res, d, model, request.stream, request.api, lease, reservation);
		} catch (error) {
			lease.release();
			const e = this.#failed(d, asLlmError(error, this.name), reservation);
			if (e.code === LlmErrorCode.ABORTED || !e.deploymentFault) throw e;
			return e;
		}
	}

	/** Cools a deployment down for its own faults; anything else says nothing about it. A failed call used no tokens. */
	#failed(d: Deployment, e: LlmError, reservation: Reservation | undefined): LlmError {
		if (e.deploymentFault) d.fail(e, this.#options.maxCooldownMs);
		else d.settle();
		if (e.code === LlmErrorCode.CONNECTION) reservation?.cancel();
		else reservation?.settle(0);
		return e;
	}

	/**
	 * Waits for the deployment's RPM/TPM budget, reserving the request and an estimate of its
	 * tokens (prompt characters / 4 plus `max_tokens`); settled with the reported usage at the end.
	 */
	async #reserve(d: Deployment, body: Record<string, unknown>, model: string, signal: AbortSignal | undefined): Promise<Reservation | undefined> {
		if (this.#limiter === undefined || (d.tuning.rpm === undefined && d.tuning.tpm === undefined)) return undefined;
		const tokens = d.tuning.tpm === undefined ? 0 : estimateTokens(body);
		try {
			return await this.#limiter.reserve(d.label, { tokens, signal, deadline: new Deadline(d.tuning.queueTimeoutMs) });
		} catch (error) {
			const subject = `llm deployment "${d.label}"`;
			if (signal?.aborted) throw llmError(LlmErrorCode.ABORTED, subject, "while waiting for its rate limit", { deployment: d.label, model, cause: error });
			const waitMs = error instanceof RateLimitedError ? error.waitMs : undefined;
			throw llmError(
				LlmErrorCode.RATE_LIMITED,
				subject,
				`its own ${d.tuning.tpm === undefined ? "rpm" : "rpm/tpm"} budget would hold the request past queueTimeoutMs`,
				{
					deployment: d.label,
					model,
					status: 429,
					retryAfterMs: waitMs,
					cause: error,
				},
			);
		}
	}

	/** Frees the slot and reports usage when the body ends; a stream cut after the first byte cools the deployment down too. */
	#answered(
		res: UpstreamResponse,
		d: Deployment,
		model: string,
		stream: boolean,
		api: LlmApi,
		lease: Lease<LlmSlot> | undefined,
		reservation: Reservation | undefined,
	): Dispatched {
		const started = performance.now() - res.headersMs;
		d.headersMs.record(res.headersMs);
		const done = (o: { usage: LlmUsage | undefined; error: LlmError | undefined }) => {
			lease?.release();
			d.recordUsage(o.usage);
			if (o.usage !== undefined) reservation?.settle(o.usage.totalTokens);
			if (o.error?.deploymentFault) d.fail(o.error, this.#options.maxCooldownMs);
			const onUsage = this.#onUsage;
			if (onUsage === undefined) return;
			const record: LlmUsageRecord = {
				api,
				model,
				deployment: d.label,
				provider: d.provider.name,
				upstreamModel: d.upstreamModel,
				stream,
				status: res.status,
				usage: o.usage,
				headersMs: res.headersMs,
				durationMs: performance.now() - started,
				...(o.error === undefined ? {} : { error: o.error.code }),
			};
			try {
				onUsage(record);
			} catch (error) {
				process.emitWarning(`llm client "${this.name}": the onUsage callback threw: ${(error as Error)?.message ?? String(error)}`, "LIFEGUARD_LISTENER_ERROR");
			}
		};
		// A JSON body is read whole already, so its outcome is settled and the slot frees at once.
		void res.outcome.then(done);
		return { ...res, deployment: d, model, stream: res.blocks !== undefined };
	}
}

/** A model serves an API of its own format, and the other format's chat API (translated). */
function servable(api: LlmApi, model: ResolvedModel): boolean {
	return model.format === formatOf(api) || api === Api.openaiChat || api === Api.anthropicMessages;
}

/** A rough token count for a rate-limit reservation: the prompt's characters / 4, plus the completion it may ask for. */
function estimateTokens(body: Record<string, unknown>): number {
	const prompt = JSON.stringify(body.messages ?? body.prompt ?? body.input ?? "").length + (typeof body.system === "string" ? body.system.length : 0);
	const completion = Number(body.max_tokens ?? body.max_completion_tokens ?? 0);
	return Math.ceil(prompt / 4) + (Number.isFinite(completion) ? completion : 0);
}

/** Sizes the HTTP client the LLM client makes for itself so that every slot of every deployment can have a connection. */
function sizedFor(deployments: Iterable<Deployment>): { maxConnections: number; maxConnectionsPerOrigin: number } {
	const perOrigin = new Map<string, number>();
	for (const d of deployments) perOrigin.set(d.provider.origin, (perOrigin.get(d.provider.origin) ?? 0) + d.tuning.maxConcurrent);
	const counts = [...perOrigin.values()];
	return { maxConnections: counts.reduce((a, b) => a + b, 0), maxConnectionsPerOrigin: Math.max(...counts) };
}

function invalid(name: string, detail: string): LlmError {
	return llmError(LlmErrorCode.INVALID_REQUEST, `llm client "${name}"`, detail, { status: 400 });
}

function asLlmError(error: unknown, name: string): LlmError {
	if (error instanceof LlmError) return error;
	return llmError(LlmErrorCode.SERVER, `llm client "${name}"`, (error as Error)?.message ?? String(error), { cause: error });
}

function parseJson(d: Dispatched): unknown {
	const bytes = d.bytes as Uint8Array;
	try {
		return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("utf8"));
	} catch (error) {
		throw llmError(LlmErrorCode.SERVER, `llm deployment "${d.deployment.label}"`, `the response is not JSON (${bytes.length} bytes)`, {
			deployment: d.deployment.label,
			model: d.model,
			status: 502,
			cause: error,
		});
	}
}

function resultOf(api: LlmApi, raw: unknown): { text: string; embeddings?: number[][] } {
	const r = raw as Record<string, unknown>;
	if (api === Api.anthropicMessages) {
		const content = (r.content as { type: string; text?: string }[] | undefined) ?? [];
		return { text: content.map((c) => (c.type === "text" ? (c.text ?? "") : "")).join("") };
	}
	if (api === Api.openaiEmbeddings) {
		const data = (r.data as { embedding: number[] }[] | undefined) ?? [];
		return { text: "", embeddings: data.map((e) => e.embedding) };
	}
	const choice = (r.choices as { text?: string; message?: { content?: string | null } }[] | undefined)?.[0];
	return { text: choice?.message?.content ?? choice?.text ?? "" };
}

/** Creates an {@link LlmClient}. See {@link LlmClientOptions} and docs/adapters/llm.md. */
export function createLlmClient(options: LlmClientOptions): LlmClient {
	return new LlmClient(options);
}
