/**
 * The LLM gateway: OpenAI-compatible (`/v1/chat/completions`, `/v1/embeddings`, `/v1/models`) and
 * Anthropic-compatible (`/v1/messages`) endpoints in front of the pooled LLM clients. Requests are
 * routed by model through `LlmClient.forward()` (retries, cooldowns, fallbacks before the first
 * byte); bytes go back as they arrive and only as fast as the caller reads; a caller that goes
 * away aborts the upstream request. Errors are in the caller's own format, with real statuses.
 */
import { isUtf8 } from "node:buffer";
import { once } from "node:events";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { LlmApi, WireFormat } from "../../adapters/llm/api.ts";
import type { LlmClient } from "../../adapters/llm/client.ts";
import { withoutUsageChunk } from "../../adapters/llm/stream-body.ts";
import type { ClientKey, ClientKeys } from "./client-keys.ts";
import type { UsageMeter } from "./usage-meter.ts";

const ROUTES: { path: string; api: LlmApi; required: string[] }[] = [
	{ path: "/v1/chat/completions", api: "openai.chat", required: ["model", "messages"] },
	{ path: "/v1/completions", api: "openai.completions", required: ["model", "prompt"] },
	{ path: "/v1/embeddings", api: "openai.embeddings", required: ["model", "input"] },
	{ path: "/v1/messages", api: "anthropic.messages", required: ["model", "messages", "max_tokens"] },
];

/** The error body a caller's SDK expects: OpenAI `{error:{message,type,param,code}}`, Anthropic `{type:"error",error:{type,message}}`. */
export function gatewayError(format: WireFormat, status: number, message: string, code: string | null = null, param: string | null = null): string {
	if (format === "anthropic") {
		const type =
			status === 401
				? "authentication_error"
				: status === 403
					? "permission_error"
					: status === 404
						? "not_found_error"
						: status === 413
							? "request_too_large"
							: status === 429
								? "rate_limit_error"
								: status >= 500
									? "api_error"
									: "invalid_request_error";
		return JSON.stringify({ type: "error", error: { type, message } });
	}
	const type = status === 401 ? "invalid_request_error" : status === 429 ? "requests" : status >= 500 ? "server_error" : "invalid_request_error";
	return JSON.stringify({ error: { message, type, param, code } });
}

function formatOfPath(url: string): WireFormat {
	return url.startsWith("/v1/messages") ? "anthropic" : "openai";
}

declare module "fastify" {
	interface FastifyRequest {
		/** The client key a gateway request authenticated with (set by the gateway's onRequest hook). */
		gatewayKey: ClientKey | null;
		/** The request body's bytes as they came (the gateway's JSON parser keeps them for forward()). */
		gatewayRaw: Buffer | null;
	}
}

export interface GatewayDeps {
	keys: ClientKeys;
	usage: UsageMeter;
	/** The LLM clients, looked up at each request (the first that serves a model answers for it). */
	llms: () => LlmClient[];
	bodyLimitBytes: number;
}

export function gatewayRoutes(app: FastifyInstance, deps: GatewayDeps): void {
	// A plugin under /v1: its own error and not-found handlers answer in the callers' formats.
	void app.register(
		async (gateway) => {
			gateway.setErrorHandler((error, request, reply) => {
				const e = error as Error & { statusCode?: number; validation?: unknown };
				const status = typeof e.statusCode === "number" && e.statusCode >= 400 && e.statusCode < 500 ? e.statusCode : 500;
				const message = status === 500 ? "internal error in the gateway" : e.message;
				reply
					.code(status)
					.type("application/json")
					.send(gatewayError(formatOfPath(request.url), status, message));
			});
			gateway.setNotFoundHandler((request, reply) => {
				reply
					.code(404)
					.type("application/json")
					.send(gatewayError(formatOfPath(request.url), 404, `no route ${request.method} ${request.url.split("?", 1)[0]}`));
			});

			// Request properties declared up front keep every request object the same shape (a WeakMap
			// per request would cost an ephemeron the GC has to trace).
			gateway.decorateRequest("gatewayKey", null);
			gateway.decorateRequest("gatewayRaw", null);

			// Fastify's own JSON parser (the same errors, the same prototype-poisoning checks), fed from
			// a buffer that is kept: forward() sends those bytes upstream unchanged when nothing in the
			// body needs rewriting (or with include_usage appended, see forward below), instead of
			// serialising the parsed body again.
			const parseJson = gateway.getDefaultJsonParser("error", "error");
			gateway.addContentTypeParser("application/json", { parseAs: "buffer" }, (request, raw, done) => {
				const bytes = raw as Buffer;
				const text = bytes.toString("utf8");
				parseJson(request, text, (error, body) => {
					if (error == null && readsTheSame(bytes, text, body)) request.gatewayRaw = bytes;
					done(error, body);
				});
			});

			// Before the body is read or validated: a caller without a key learns nothing about the API.
			// A callback hook: an async one costs a promise and a microtask turn on every call.
			gateway.addHook("onRequest", (request, reply, done) => {
				const key = authenticate(deps.keys, request, reply, formatOfPath(request.url));
				if (key === undefined) return;
				request.gatewayKey = key;
				done();
			});

			gateway.get("/models", async (request, reply) => {
				const key = request.gatewayKey as ClientKey;
				const data = [];
				const seen = new Set<string>();
				for (const llm of deps.llms()) {
					for (const model of llm.models()) {
						if (seen.has(model.id) || !key.allows(model.id)) continue;
						seen.add(model.id);
						data.push({ id: model.id, object: "model", created: 0, owned_by: "lifeguard" });
					}
				}
				reply.type("application/json");
				return JSON.stringify({ object: "list", data });
			});

			for (const route of ROUTES) {
				const schema = {
					body: {
						type: "object",
						required: route.required,
						properties: { model: { type: "string", minLength: 1, maxLength: 300 }, stream: { type: "boolean" } },
					},
				};
				gateway.post(route.path.slice(3), { schema, bodyLimit: deps.bodyLimitBytes }, (request, reply) => forward(deps, route.api, request, reply));
			}
		},
		{ prefix: "/v1" },
	);
}

/**
 * The raw bytes may go upstream only if no parser there can read another body in them than the
 * one the gateway checked (the model against the key's allow-list) and acts on (`stream` picks
 * the path that finds the usage the key's token budget is charged with; `max_tokens` and
 * `messages` make the deployment's TPM estimate):
 * - valid UTF-8: the gateway parsed a decoded copy in which each bad byte became U+FFFD, and
 *   an upstream may decode them otherwise or reject them;
 * - no top-level key twice: JSON.parse keeps the last, some parsers keep the first
 *   (`"stream":true,"stream":false` is a stream upstream and a JSON answer here). Escapes are
 *   counted too (`"mod\u0065l"` after `"model"` is a duplicate once decoded), since the count
 *   is compared with the parsed body's keys;
 * - no escape in a top-level key at all, for an upstream that compares keys undecoded.
 * Anything else is serialised again from the parsed body, which has none of these. Duplicates
 * in nested objects pass: the one nested thing the gateway acts on, stream_options, makes
 * forward() send the parsed body instead whenever it is there.
 * The check costs less than the serialisation it saves: isUtf8 is a vectorised scan, and the key
 * count jumps from quote to quote with indexOf (see the guard's measure in the commit message).
 */
function readsTheSame(bytes: Buffer, text: string, body: unknown): boolean {
	if (typeof body !== "object" || body === null || Array.isArray(body)) return false;
	const keys = topLevelKeys(text);
	return keys !== -1 && keys === Object.keys(body).length && isUtf8(bytes);
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * How many keys the top-level object of `text` spells out, duplicates included; -1 when one of
 * them holds an escape or `text` does not start with an object. Reads `text` as valid JSON, which
 * it is: its result is used only once JSON.parse has accepted the same text.
 */
function topLevelKeys(text: string): number {
	const n = text.length;
	let i = 0;
	// JSON's whitespace only: anything else before the object (a BOM) is not passed on as it is.
	for (let c = text.charCodeAt(i); c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09; c = text.charCodeAt(++i));
	if (text.charCodeAt(i) !== 0x7b) return -1;
	let depth = 0;
	let keys = 0;
	let keyNext = false;
	for (; i < n; i++) {
		const c = text.charCodeAt(i);
		if (c === QUOTE) {
			// The closing quote is the next one not escaped, i.e. not after an odd run of backslashes.
			let end = text.indexOf('"', i + 1);
			while (end !== -1 && escaped(text, end)) end = text.indexOf('"', end + 1);
			if (end === -1) return -1;
			if (keyNext && depth === 1) {
				for (let j = i + 1; j < end; j++) if (text.charCodeAt(j) === BACKSLASH) return -1;
				keys++;
				keyNext = false;
			}
			i = end;
		} else if (c === 0x7b || c === 0x5b) {
			// `{` or `[`; at depth 1 only the top-level object's `{` opens: a key comes first.
			if (++depth === 1) keyNext = true;
		} else if (c === 0x7d || c === 0x5d) {
			depth--;
		} else if (c === 0x2c && depth === 1) {
			keyNext = true;
		}
	}
	return keys;
}

/** True when the quote at `at` is escaped: an odd number of backslashes right before it. */
function escaped(text: string, at: number): boolean {
	let run = 0;
	while (text.charCodeAt(at - 1 - run) === BACKSLASH) run++;
	return run % 2 === 1;
}

/** Which LLM client serves each model, built once per client list (models are fixed when a client is made). */
const routing = new WeakMap<LlmClient[], Map<string, LlmClient>>();

function clientFor(deps: GatewayDeps, model: string): LlmClient | undefined {
	const llms = deps.llms();
	let byModel = routing.get(llms);
	if (byModel === undefined || byModel.size === 0) {
		byModel = new Map();
		for (const llm of llms) for (const m of llm.models()) if (!byModel.has(m.id)) byModel.set(m.id, llm);
		routing.set(llms, byModel);
	}
	// An unknown model goes to the first client, whose forward() answers 404 in the caller's format.
	return byModel.get(model) ?? llms[0];
}

function authenticate(keys: ClientKeys, request: FastifyRequest, reply: FastifyReply, format: WireFormat): ClientKey | undefined {
	const header = request.headers["x-api-key"];
	const key = keys.find(request.headers.authorization, typeof header === "string" ? header : undefined);
	if (key === undefined) {
		reply
			.code(401)
			.type("application/json")
			.send(
				gatewayError(
					format,
					401,
					"missing or unknown client key: send a key issued in the gateway's config as Authorization: Bearer <key> or x-api-key",
					"invalid_api_key",
				),
			);
	}
	return key;
}

async function forward(deps: GatewayDeps, api: LlmApi, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
	const format: WireFormat = api === "anthropic.messages" ? "anthropic" : "openai";
	const key = request.gatewayKey as ClientKey;
	const body = request.body as Record<string, unknown>;
	const model = body.model as string;
	if (!key.allows(model)) {
		return reply
			.code(403)
			.type("application/json")
			.send(gatewayError(format, 403, `client key "${key.name}" may not use model "${model}"`, "model_not_allowed", "model"));
	}
	const llm = clientFor(deps, model);
	if (llm === undefined)
		return reply
			.code(404)
			.type("application/json")
			.send(gatewayError(format, 404, "this service has no LLM client configured", "model_not_found", "model"));
	const over = key.admit();
	if (over !== undefined) {
		deps.usage.record(key.name, model, { failed: true });
		return reply
			.code(429)
			.header("retry-after", String(Math.max(1, Math.ceil(over.waitMs / 1000))))
			.type("application/json")
			.send(
				gatewayError(format, 429, `client key "${key.name}" is over its ${over.limit === "rpm" ? "requests" : "tokens"} per minute`, "rate_limit_exceeded"),
			);
	}

	const controller = new AbortController();
	const res = reply.raw;
	const onClose = () => {
		if (!res.writableFinished) controller.abort(new Error("the gateway's caller went away"));
	};
	res.once("close", onClose);
	// The caller's beta flags reach Anthropic; its version header does not: the provider client speaks its own.
	const beta = request.headers["anthropic-beta"];
	// An OpenAI stream carries usage only when the caller asks for it; without it the key's token
	// budget would never be charged, so streaming would escape the TPM limit. The gateway asks
	// the upstream itself and keeps the extra usage chunk from the caller, who did not ask for it.
	const hideUsage = wantsHiddenUsage(api, body);
	// stream_options is now read here, and a duplicate nested key in it could read otherwise
	// upstream (include_usage false there, true here): a body that has it is serialised again.
	// Without one, the option is appended to the caller's bytes: the key is not among the top-level
	// ones (readsTheSame counted them, unescaped), so the upstream reads it once and as added.
	const callerRaw = body.stream_options === undefined ? request.gatewayRaw : null;
	const raw = callerRaw === null ? null : hideUsage ? withIncludeUsage(callerRaw) : callerRaw;
	const result = await llm.forward({
		api,
		body: hideUsage ? { ...body, stream_options: { ...(body.stream_options as object | undefined), include_usage: true } } : body,
		...(raw === null ? {} : { raw }),
		signal: controller.signal,
		...(typeof beta === "string" ? { headers: { "anthropic-beta": beta } } : {}),
	});
	void result.usage.then(
		(usage) => {
			// An upstream that ignores include_usage reports nothing: nothing is charged (there is no
			// estimate at this level to fall back on), and the request still goes through.
			if (usage !== undefined) key.charge(usage.totalTokens);
			deps.usage.record(key.name, model, {
				failed: result.status >= 400,
				...(usage === undefined ? {} : { promptTokens: usage.promptTokens, completionTokens: usage.completionTokens }),
			});
		},
		() => deps.usage.record(key.name, model, { failed: true }),
	);
	// The bytes are written by hand from here: Fastify would buffer or re-serialise them.
	reply.hijack();
	if (!result.stream) {
		// A whole answer is one chunk: headers and body in one write.
		const first = await result.body.next();
		const bytes = first.done === true ? undefined : first.value;
		// forward() hands over headers of this response only: they can take the length as they are.
		const headers = result.headers;
		headers["content-length"] = String(bytes?.byteLength ?? 0);
		res.writeHead(result.status, headers);
		res.end(bytes);
		await result.body.return?.();
		return reply;
	}
	res.writeHead(result.status, result.headers);
	// Writes are corked until this turn of the event loop has run its I/O callbacks: what the
	// upstream sent in one read and the stream's end, when it came in that read too, leave in one
	// syscall instead of two (a local or fast upstream sends most streams whole). A chunk waits
	// at most for the callbacks already due in this turn, never for a timer.
	// The socket is corked, not the response: a response corked with chunked encoding keeps its
	// chunks back in a buffer of its own that end() writes after the terminating chunk (Node 24),
	// so the caller would see the stream end without them. end() uncorks the socket fully; after
	// it the socket may carry the next response, which this uncork must not touch.
	const socket = res.socket;
	let corked = false;
	const uncork = () => {
		corked = false;
		if (!res.writableEnded) socket?.uncork();
	};
	try {
		for await (const upstream of result.body) {
			if (res.destroyed) break;
			const chunk = hideUsage ? withoutUsageChunk(upstream) : upstream;
			if (chunk.byteLength === 0) continue;
			if (!corked) {
				corked = true;
				socket?.cork();
				setImmediate(uncork);
			}
			if (!res.write(chunk)) await Promise.race([once(res, "drain"), once(res, "close")]);
		}
	} catch {
		// The body already ends with an error event in the caller's format when the upstream cut it; anything else is a cut too.
	} finally {
		if (res.destroyed) await result.body.return?.();
		res.end();
	}
	return reply;
}

const INCLUDE_USAGE = Buffer.from(',"stream_options":{"include_usage":true}}');

/**
 * The caller's JSON object with `stream_options: { include_usage: true }` added as its last key,
 * for a body without stream_options: its last `}` (after JSON whitespace) becomes the option and
 * a new `}`. The object is not empty (it has a model), so the comma is always right.
 */
function withIncludeUsage(raw: Buffer): Buffer | null {
	let end = raw.length - 1;
	for (let c = raw[end]; c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09; c = raw[--end]);
	if (raw[end] !== 0x7d) return null;
	return Buffer.concat([raw.subarray(0, end), INCLUDE_USAGE]);
}

/**
 * Whether the gateway must ask the upstream for a stream's usage on the caller's behalf: an
 * OpenAI-format stream whose caller left `stream_options.include_usage` off. A `stream_options`
 * that is not an object is left as it is, for the upstream to reject.
 */
function wantsHiddenUsage(api: LlmApi, body: Record<string, unknown>): boolean {
	if ((api !== "openai.chat" && api !== "openai.completions") || body.stream !== true) return false;
	const options = body.stream_options;
	if (options === undefined || options === null) return true;
	return typeof options === "object" && !Array.isArray(options) && (options as { include_usage?: unknown }).include_usage !== true;
}
