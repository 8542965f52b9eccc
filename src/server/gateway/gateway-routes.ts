/**
 * The LLM gateway: OpenAI-compatible (`/v1/chat/completions`, `/v1/embeddings`, `/v1/models`) and
 * Anthropic-compatible (`/v1/messages`) endpoints in front of the pooled LLM clients. Requests are
 * routed by model through `LlmClient.forward()` (retries, cooldowns, fallbacks before the first
 * byte); bytes go back as they arrive and only as fast as the caller reads; a caller that goes
 * away aborts the upstream request. Errors are in the caller's own format, with real statuses.
 */
import { once } from "node:events";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { LlmApi, WireFormat } from "../../adapters/llm/api.ts";
import type { LlmClient } from "../../adapters/llm/client.ts";
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
			// body needs rewriting, instead of serialising the parsed body again.
			const parseJson = gateway.getDefaultJsonParser("error", "error");
			gateway.addContentTypeParser("application/json", { parseAs: "buffer" }, (request, raw, done) => {
				const text = (raw as Buffer).toString("utf8");
				if (singleModelKey(text)) request.gatewayRaw = raw as Buffer;
				parseJson(request, text, done);
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
 * The raw bytes may go upstream only if the upstream cannot read another `model` in them than
 * the parsed body holds: JSON.parse keeps the last of duplicate keys, some parsers keep the
 * first, and the model is what the key's allow-list checked. So: `"model"` spelled out once, and
 * no \u escape that could spell it another way (`"mod\u0065l"`). Anything else is serialised
 * again from the parsed body, which has exactly one. False alarms (the word in a message) only
 * cost that serialisation.
 */
function singleModelKey(text: string): boolean {
	const at = text.indexOf('"model"');
	return at !== -1 && text.indexOf('"model"', at + 7) === -1 && !MODEL_ESCAPE.test(text);
}

/** A \u escape of one of the letters of "model" (d e l m o are U+0064–U+006F). */
const MODEL_ESCAPE = /\\u006[4-9a-f]/i;

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
	const raw = request.gatewayRaw;
	const result = await llm.forward({
		api,
		body,
		...(raw === null ? {} : { raw }),
		signal: controller.signal,
		...(typeof beta === "string" ? { headers: { "anthropic-beta": beta } } : {}),
	});
	void result.usage.then(
		(usage) => {
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
	try {
		for await (const chunk of result.body) {
			if (res.destroyed) break;
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
