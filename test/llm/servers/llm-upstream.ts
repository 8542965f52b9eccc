/**
 * A local LLM upstream on node:http that speaks the OpenAI and Anthropic wire formats, including
 * real SSE, for tests and benchmarks (the gateway's tests reuse it). One server answers:
 *
 * - OpenAI: `POST /v1/chat/completions`, `/v1/completions`, `/v1/embeddings`, `GET /v1/models`,
 *   and Azure's `/openai/deployments/{name}/chat/completions?api-version=…`;
 * - Anthropic: `POST /v1/messages`.
 *
 * What a request gets is a {@link Scenario}: set per model with `script(model, scenario)`, or
 * by a model name starting with one of {@link SCENARIO_MODELS}. Every request is recorded.
 */
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";

export type Scenario =
	/** A normal answer: `chunks` content deltas (each `text` plus `padding` spaces), `delayMs` apart. */
	| { kind: "ok"; text?: string; chunks?: number; padding?: number; delayMs?: number }
	/** An error response in the provider's format (the first `times` requests only, when given). `retryAfter` is sent as the Retry-After header. */
	| { kind: "error"; status: number; errorType?: string; code?: string; message?: string; retryAfter?: string; times?: number }
	/** Streams `afterChunks` deltas (`delayMs` apart), then closes the socket (no terminator): an upstream cut mid-stream. */
	| { kind: "cut"; afterChunks: number; delayMs?: number }
	/**
	 * Streams `afterChunks` deltas (`delayMs` apart), then an in-band error event (Anthropic
	 * `event: error`, OpenAI `{error}` chunk); with `first`, the error event is the whole stream.
	 */
	| { kind: "errorEvent"; afterChunks: number; errorType?: string; delayMs?: number; first?: boolean }
	/** Sends the status line and headers, then nothing, until the client goes away. */
	| { kind: "stall" }
	/** Sends nothing at all, not even headers, until the client goes away. */
	| { kind: "silent" };

/** Model names that pick a scenario without scripting (for configs that cannot call `script`). */
export const SCENARIO_MODELS: Record<string, Scenario> = {
	"error-401": { kind: "error", status: 401 },
	"error-429": { kind: "error", status: 429, retryAfter: "7" },
	"error-529": { kind: "error", status: 529 },
	"error-500": { kind: "error", status: 500 },
	"error-503": { kind: "error", status: 503 },
	"error-context": { kind: "error", status: 400, code: "context_length_exceeded" },
	"cut-stream": { kind: "cut", afterChunks: 2 },
	stall: { kind: "stall" },
	silent: { kind: "silent" },
};

export interface RecordedRequest {
	method: string;
	path: string;
	headers: http.IncomingHttpHeaders;
	body: Record<string, unknown> | undefined;
	/** The request body's bytes as they came (`body` is their JSON.parse: the last of duplicate keys, bad UTF-8 as U+FFFD). */
	bytes: Buffer;
	/** Every byte of the response body written so far. */
	response: string;
}

export interface LlmUpstreamOptions {
	/** Default scenario for models nobody scripted. Default `{ kind: "ok" }`. */
	scenario?: Scenario;
	/** Answer 401 unless the request carries this key (Bearer, `x-api-key` or `api-key`). Default: any key. */
	apiKey?: string;
	/** Models listed by `GET /v1/models`. */
	models?: string[];
	/** Keep no record of requests (benchmarks). */
	record?: boolean;
}

export interface LlmUpstream {
	/** `http://127.0.0.1:<port>` */
	readonly origin: string;
	readonly requests: RecordedRequest[];
	/** Requests whose client went away before the response ended. */
	readonly aborted: number;
	/** Writes that returned false and waited for `drain` (the client applied backpressure). */
	readonly drainWaits: number;
	/** Chunks written by streams so far, over all requests. */
	readonly chunksWritten: number;
	/** Requests being answered right now. */
	readonly active: number;
	script(model: string, scenario: Scenario | undefined): void;
	/** Requests seen for a model. */
	hits(model: string): number;
	reset(): void;
	close(): Promise<void>;
}

const ANTHROPIC_ERROR_TYPES: Record<number, string> = {
	400: "invalid_request_error",
	401: "authentication_error",
	403: "permission_error",
	404: "not_found_error",
	413: "request_too_large",
	429: "rate_limit_error",
	500: "api_error",
	529: "overloaded_error",
};

const OPENAI_ERROR_TYPES: Record<number, string> = {
	400: "invalid_request_error",
	401: "invalid_request_error",
	429: "requests",
	500: "server_error",
	503: "server_error",
};

function errorMessage(s: Extract<Scenario, { kind: "error" }>): string {
	if (s.message !== undefined) return s.message;
	if (s.code === "context_length_exceeded") {
		return "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens. Please reduce the length of the messages.";
	}
	if (s.status === 401) return "Incorrect API key provided.";
	if (s.status === 429) return "Rate limit reached for requests";
	if (s.status === 529) return "Overloaded";
	return "The server had an error while processing your request.";
}

export async function startLlmUpstream(options: LlmUpstreamOptions = {}): Promise<LlmUpstream> {
	const scripted = new Map<string, Scenario>();
	const hitsByModel = new Map<string, number>();
	const requests: RecordedRequest[] = [];
	const record = options.record ?? true;
	const counters = { aborted: 0, drainWaits: 0, chunksWritten: 0, active: 0 };
	let sequence = 0;

	const scenarioFor = (model: string): Scenario => {
		const s = scripted.get(model);
		if (s?.kind === "error" && s.times !== undefined && (hitsByModel.get(model) ?? 0) > s.times) return options.scenario ?? { kind: "ok" };
		if (s !== undefined) return s;
		for (const [prefix, scenario] of Object.entries(SCENARIO_MODELS)) if (model.startsWith(prefix)) return scenario;
		return options.scenario ?? { kind: "ok" };
	};

	const server = http.createServer(async (req, res) => {
		counters.active++;
		let finished = false;
		res.on("finish", () => {
			finished = true;
		});
		res.on("close", () => {
			counters.active--;
			if (!finished) counters.aborted++;
		});
		try {
			const chunks: Buffer[] = [];
			for await (const c of req) chunks.push(c as Buffer);
			const bytes = Buffer.concat(chunks);
			const raw = bytes.toString("utf8");
			const body = raw.length > 0 ? (JSON.parse(raw) as Record<string, unknown>) : undefined;
			const url = new URL(req.url ?? "/", "http://localhost");
			const recorded: RecordedRequest = { method: req.method ?? "GET", path: url.pathname + url.search, headers: req.headers, body, bytes, response: "" };
			if (record) {
				requests.push(recorded);
				const write = res.write.bind(res) as (chunk: unknown, ...rest: unknown[]) => boolean;
				const end = res.end.bind(res) as (...args: unknown[]) => http.ServerResponse;
				res.write = ((chunk: unknown, ...rest: unknown[]) => {
					if (typeof chunk === "string") recorded.response += chunk;
					return write(chunk, ...rest);
				}) as typeof res.write;
				res.end = ((...args: unknown[]) => {
					if (typeof args[0] === "string") recorded.response += args[0];
					return end(...args);
				}) as typeof res.end;
			}
			const anthropic = url.pathname === "/v1/messages";
			if (options.apiKey !== undefined && keyOf(req) !== options.apiKey) {
				return sendError(res, anthropic, { kind: "error", status: 401 });
			}
			if (req.method === "GET" && url.pathname === "/v1/models") {
				const data = (options.models ?? ["test-model"]).map((id) => ({ id, object: "model", created: 1_700_000_000, owned_by: "lifeguard-test" }));
				return sendJson(res, 200, { object: "list", data });
			}
			const azure = /^\/openai\/deployments\/([^/]+)\/(chat\/completions|completions|embeddings)$/.exec(url.pathname);
			const route = azure ? `/v1/${azure[2]}` : url.pathname;
			const model = String(body?.model ?? azure?.[1] ?? "");
			hitsByModel.set(model, (hitsByModel.get(model) ?? 0) + 1);
			const scenario = scenarioFor(model);
			const id = ++sequence;
			if (scenario.kind === "error") return sendError(res, anthropic, scenario);
			if (scenario.kind === "silent") return;
			if (scenario.kind === "stall") {
				res.writeHead(200, { "content-type": "text/event-stream" });
				res.flushHeaders();
				return;
			}
			const stream = body?.stream === true;
			if (route === "/v1/embeddings") return sendEmbeddings(res, body ?? {}, model);
			if (!["/v1/chat/completions", "/v1/completions", "/v1/messages"].includes(route)) {
				return sendJson(res, 404, { error: { message: `no route ${route}`, type: "invalid_request_error", param: null, code: null } });
			}
			const kind = anthropic ? "messages" : route === "/v1/completions" ? "completions" : "chat";
			const plan = planOf(scenario);
			const promptTokens = promptTokensOf(body);
			if (!stream) {
				if (scenario.kind === "cut") {
					// A non-streaming answer cut half-way: a content-length that is never reached.
					const full = JSON.stringify(answerBody(kind, id, model, plan, promptTokens));
					res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(full) });
					res.write(full.slice(0, Math.floor(full.length / 2)));
					res.socket?.destroySoon();
					return;
				}
				return sendJson(res, 200, answerBody(kind, id, model, plan, promptTokens), anthropic ? { "request-id": `req_${id}` } : { "x-request-id": `req_${id}` });
			}
			res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive", "x-request-id": `req_${id}` });
			res.flushHeaders();
			if (scenario.kind === "errorEvent" && scenario.first === true) {
				res.end(kind === "messages" ? anthropicErrorEvent(scenario.errorType ?? "overloaded_error") : openAiErrorChunk(scenario.errorType ?? "server_error"));
				return;
			}
			const includeUsage = (body?.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
			const events = kind === "messages" ? anthropicEvents(id, model, plan, promptTokens) : openAiEvents(kind, id, model, plan, promptTokens, includeUsage);
			let written = 0;
			const contentEvents = plan.chunks;
			for (const event of events) {
				if (res.destroyed) return;
				if (event.content) {
					if (scenario.kind === "cut" && written === scenario.afterChunks) {
						// Flushes what was written, then closes without the final chunk: the body ends early.
						res.socket?.destroySoon();
						return;
					}
					if (scenario.kind === "errorEvent" && written === scenario.afterChunks) {
						res.end(
							kind === "messages" ? anthropicErrorEvent(scenario.errorType ?? "overloaded_error") : openAiErrorChunk(scenario.errorType ?? "server_error"),
						);
						return;
					}
					written++;
				}
				if (!res.write(event.text)) {
					counters.drainWaits++;
					await drainOrClose(res);
				}
				if (event.content) counters.chunksWritten++;
				if (event.content && plan.delayMs > 0 && written < contentEvents) await sleep(plan.delayMs);
			}
			res.end();
		} catch (error) {
			if (!res.headersSent) sendJson(res, 500, { error: { message: String(error), type: "server_error", param: null, code: null } });
			else res.destroy();
		}
	});
	server.keepAliveTimeout = 30_000;
	server.listen(0, "127.0.0.1");
	await once(server, "listening");
	const { port } = server.address() as AddressInfo;

	return {
		origin: `http://127.0.0.1:${port}`,
		requests,
		get aborted() {
			return counters.aborted;
		},
		get drainWaits() {
			return counters.drainWaits;
		},
		get chunksWritten() {
			return counters.chunksWritten;
		},
		get active() {
			return counters.active;
		},
		script(model, scenario) {
			if (scenario === undefined) scripted.delete(model);
			else scripted.set(model, scenario);
		},
		hits: (model) => hitsByModel.get(model) ?? 0,
		reset() {
			requests.length = 0;
			hitsByModel.clear();
			scripted.clear();
			counters.aborted = 0;
			counters.drainWaits = 0;
			counters.chunksWritten = 0;
		},
		async close() {
			server.closeAllConnections();
			server.close();
			await once(server, "close");
		},
	};
}

interface Plan {
	chunks: number;
	text: string;
	delayMs: number;
}

function planOf(s: Scenario): Plan {
	if (s.kind === "ok") {
		return { chunks: s.chunks ?? 3, text: (s.text ?? "word") + " ".repeat(s.padding ?? 0), delayMs: s.delayMs ?? 0 };
	}
	return { chunks: 3 + ("afterChunks" in s ? s.afterChunks : 0), text: "word", delayMs: "delayMs" in s ? (s.delayMs ?? 0) : 0 };
}

function keyOf(req: http.IncomingMessage): string | undefined {
	const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
	return bearer ?? (req.headers["x-api-key"] as string | undefined) ?? (req.headers["api-key"] as string | undefined);
}

function promptTokensOf(body: Record<string, unknown> | undefined): number {
	return Math.max(1, Math.ceil(JSON.stringify(body?.messages ?? body?.prompt ?? body?.input ?? "").length / 4));
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
	const text = JSON.stringify(body);
	res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
	res.end(text);
}

function sendError(res: http.ServerResponse, anthropic: boolean, s: Extract<Scenario, { kind: "error" }>): void {
	const headers: Record<string, string> = s.retryAfter === undefined ? {} : { "retry-after": s.retryAfter };
	const message = errorMessage(s);
	if (anthropic) {
		const type = s.errorType ?? ANTHROPIC_ERROR_TYPES[s.status] ?? "api_error";
		const text = s.code === "context_length_exceeded" ? "prompt is too long: 250000 tokens > 200000 maximum" : message;
		return sendJson(res, s.status, { type: "error", error: { type, message: text }, request_id: "req_err" }, headers);
	}
	const code = s.code ?? (s.status === 401 ? "invalid_api_key" : s.status === 429 ? "rate_limit_exceeded" : null);
	sendJson(res, s.status, { error: { message, type: s.errorType ?? OPENAI_ERROR_TYPES[s.status] ?? "server_error", param: null, code } }, headers);
}

function answerText(plan: Plan): string {
	return Array.from({ length: plan.chunks }, () => plan.text).join("");
}

function answerBody(kind: "chat" | "completions" | "messages", id: number, model: string, plan: Plan, promptTokens: number): unknown {
	const text = answerText(plan);
	const created = Math.floor(Date.now() / 1000);
	if (kind === "messages") {
		return {
			id: `msg_${id}`,
			type: "message",
			role: "assistant",
			model,
			content: [{ type: "text", text }],
			stop_reason: "end_turn",
			stop_sequence: null,
			usage: { input_tokens: promptTokens, output_tokens: plan.chunks },
		};
	}
	const usage = { prompt_tokens: promptTokens, completion_tokens: plan.chunks, total_tokens: promptTokens + plan.chunks };
	if (kind === "completions") {
		return { id: `cmpl-${id}`, object: "text_completion", created, model, choices: [{ text, index: 0, logprobs: null, finish_reason: "stop" }], usage };
	}
	return {
		id: `chatcmpl-${id}`,
		object: "chat.completion",
		created,
		model,
		choices: [{ index: 0, message: { role: "assistant", content: text, refusal: null }, logprobs: null, finish_reason: "stop" }],
		usage,
	};
}

interface WireEvent {
	text: string;
	/** Carries a content delta (what scenarios count). */
	content: boolean;
}

function* openAiEvents(kind: "chat" | "completions", id: number, model: string, plan: Plan, promptTokens: number, includeUsage: boolean): Generator<WireEvent> {
	const created = Math.floor(Date.now() / 1000);
	const base =
		kind === "chat"
			? { id: `chatcmpl-${id}`, object: "chat.completion.chunk", created, model }
			: { id: `cmpl-${id}`, object: "text_completion", created, model };
	const frame = (o: unknown) => `data: ${JSON.stringify(o)}\n\n`;
	const choice = (content: string | undefined, finish: string | null, first: boolean) =>
		kind === "chat"
			? { index: 0, delta: content === undefined ? {} : first ? { role: "assistant", content } : { content }, logprobs: null, finish_reason: finish }
			: { text: content ?? "", index: 0, logprobs: null, finish_reason: finish };
	if (kind === "chat") yield { text: frame({ ...base, choices: [choice("", null, true)] }), content: false };
	for (let i = 0; i < plan.chunks; i++) yield { text: frame({ ...base, choices: [choice(plan.text, null, false)] }), content: true };
	yield { text: frame({ ...base, choices: [choice(undefined, "stop", false)] }), content: false };
	if (includeUsage) {
		const usage = { prompt_tokens: promptTokens, completion_tokens: plan.chunks, total_tokens: promptTokens + plan.chunks };
		yield { text: frame({ ...base, choices: [], usage }), content: false };
	}
	yield { text: "data: [DONE]\n\n", content: false };
}

function* anthropicEvents(id: number, model: string, plan: Plan, promptTokens: number): Generator<WireEvent> {
	const frame = (type: string, o: unknown) => `event: ${type}\ndata: ${JSON.stringify(o)}\n\n`;
	const message = {
		id: `msg_${id}`,
		type: "message",
		role: "assistant",
		model,
		content: [],
		stop_reason: null,
		stop_sequence: null,
		usage: { input_tokens: promptTokens, output_tokens: 1 },
	};
	yield { text: frame("message_start", { type: "message_start", message }), content: false };
	yield { text: frame("content_block_start", { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }), content: false };
	yield { text: frame("ping", { type: "ping" }), content: false };
	for (let i = 0; i < plan.chunks; i++) {
		yield {
			text: frame("content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: plan.text } }),
			content: true,
		};
	}
	yield { text: frame("content_block_stop", { type: "content_block_stop", index: 0 }), content: false };
	yield {
		text: frame("message_delta", { type: "message_delta", delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: plan.chunks } }),
		content: false,
	};
	yield { text: frame("message_stop", { type: "message_stop" }), content: false };
}

function anthropicErrorEvent(type: string): string {
	return `event: error\ndata: ${JSON.stringify({ type: "error", error: { type, message: type === "overloaded_error" ? "Overloaded" : "Internal error" } })}\n\n`;
}

function openAiErrorChunk(type: string): string {
	return `data: ${JSON.stringify({ error: { message: "The server had an error while processing your request.", type, param: null, code: null } })}\n\n`;
}

function sendEmbeddings(res: http.ServerResponse, body: Record<string, unknown>, model: string): void {
	const inputs = Array.isArray(body.input) ? body.input : [body.input];
	const base64 = body.encoding_format === "base64";
	const data = inputs.map((input, index) => {
		const vector = Float32Array.from({ length: 8 }, (_, i) => (String(input).length + i) / 10);
		return { object: "embedding", index, embedding: base64 ? Buffer.from(vector.buffer).toString("base64") : Array.from(vector) };
	});
	const tokens = inputs.reduce((n: number, input) => n + Math.max(1, Math.ceil(String(input).length / 4)), 0);
	sendJson(res, 200, { object: "list", data, model, usage: { prompt_tokens: tokens, total_tokens: tokens } });
}

function drainOrClose(res: http.ServerResponse): Promise<void> {
	return new Promise((resolve) => {
		const done = () => {
			res.off("drain", done);
			res.off("close", done);
			resolve();
		};
		res.on("drain", done);
		res.on("close", done);
	});
}

function sleep(ms: number): Promise<void> {
	return new Promise((resolve) => setTimeout(resolve, ms));
}
