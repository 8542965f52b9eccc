/**
 * One attempt at one deployment over the dispatcher: the request, the response read as far as
 * the first byte the caller may see (a whole JSON body; a stream's first complete frame), and
 * every failure up to there as a typed error, so the router can still go elsewhere. After that
 * point a failure is a typed error thrown by the stream's iterator.
 */
import { performance } from "node:perf_hooks";
import type { Dispatcher } from "undici";
import { formatOf, LlmApi, type WireFormat } from "./api.ts";
import { BlockStream, type Blocks, TranslatedBlocks } from "./block-stream.ts";
import type { Deployment } from "./deployment.ts";
import { type LlmError, LlmErrorCode, llmError, streamEventError, upstreamError } from "./errors.ts";
import { pathOf } from "./providers.ts";
import { firstBlock, type StreamBlock, StreamWatch } from "./stream-body.ts";
import { ChunkTranslator, chatToMessage, chatToMessages, messagesToChat, messageToChat, StreamTranslator } from "./translate.ts";
import { type LlmUsage, usageOfBody } from "./usage.ts";
import { requestWhole, type WholeResponse } from "./whole-request.ts";

export type ResponseHeaders = Record<string, string | string[] | undefined>;

export interface AttemptRequest {
	api: LlmApi;
	/** The public model name the caller asked for (for errors and usage). */
	model: string;
	body: Record<string, unknown>;
	/** `body`'s own bytes as the caller sent them (a gateway's), sent as they are when the body needs no rewriting. */
	raw: Uint8Array | undefined;
	stream: boolean;
	signal: AbortSignal | undefined;
	headers: Record<string, string> | undefined;
}

/** How a response's body ended: cleanly, or with the error the caller saw. */
export interface BodyOutcome {
	usage: LlmUsage | undefined;
	/** Why it did not end cleanly: a cut, an abort, or the provider's own in-band error event. */
	error: LlmError | undefined;
}

export interface UpstreamResponse {
	status: number;
	headers: ResponseHeaders;
	headersMs: number;
	/** A JSON body, read whole. */
	bytes: Uint8Array | undefined;
	/** A stream's complete frames, starting with the first; throws a typed error on a cut. Undefined for JSON bodies. */
	blocks: Blocks | undefined;
	/** Settles when the body has been read to its end, failed, or been abandoned by the caller. */
	outcome: Promise<BodyOutcome>;
}

const ERROR_BODY_LIMIT = 64 * 1024;

export async function attempt(dispatcher: Dispatcher, deployment: Deployment, req: AttemptRequest): Promise<UpstreamResponse> {
	const provider = deployment.provider;
	// A chat request to a deployment of the other format is translated; everything else passes through.
	const toAnthropic = req.api === LlmApi.openaiChat && provider.format === "anthropic";
	const toOpenAi = req.api === LlmApi.anthropicMessages && provider.format === "openai";
	const translated = toAnthropic || toOpenAi;
	const api = toAnthropic ? LlmApi.anthropicMessages : toOpenAi ? LlmApi.openaiChat : req.api;
	const format = formatOf(api);
	const subject = `llm deployment "${deployment.label}"`;
	const renamed = req.body.model !== deployment.upstreamModel;
	const named = renamed ? { ...req.body, model: deployment.upstreamModel } : req.body;
	// The caller's own bytes when they say exactly what is to be sent: no second serialisation.
	const payload =
		!renamed && !translated && req.raw !== undefined ? req.raw : JSON.stringify(toAnthropic ? chatToMessages(named) : toOpenAi ? messagesToChat(named) : named);
	const headers: Record<string, string> = {
		...req.headers,
		...provider.headers,
		"content-type": "application/json",
		accept: req.stream ? "text/event-stream" : "application/json",
	};
	const options = {
		origin: provider.origin,
		path: pathOf(provider, api, deployment.upstreamModel),
		method: "POST" as const,
		headers,
		body: payload,
		signal: req.signal,
		headersTimeout: deployment.tuning.headersTimeoutMs,
		bodyTimeout: deployment.tuning.bodyTimeoutMs,
	};
	const started = performance.now();
	if (!req.stream) {
		// Read whole in any case: straight over dispatch(), without request()'s body stream.
		let whole: WholeResponse;
		try {
			whole = await requestWhole(dispatcher, options, ERROR_BODY_LIMIT);
		} catch (error) {
			throw transportError(error, "headers", subject, deployment, req);
		}
		const headersMs = whole.headersAt - started;
		if (whole.statusCode >= 400) {
			const text = whole.body.toString("utf8");
			throw upstreamError({
				status: whole.statusCode,
				bodyText: text,
				headers: whole.headers,
				deployment: deployment.label,
				model: req.model,
				secrets: provider.secrets,
			});
		}
		if (whole.bodyError !== undefined) throw transportError(whole.bodyError, "body", subject, deployment, req);
		return wholeResponse(whole.statusCode, whole.headers, headersMs, whole.body, format, translated, toAnthropic, subject, deployment, req);
	}
	let res: Dispatcher.ResponseData;
	try {
		res = await dispatcher.request(options);
	} catch (error) {
		throw transportError(error, "headers", subject, deployment, req);
	}
	const headersMs = performance.now() - started;
	const status = res.statusCode;
	const resHeaders = res.headers as ResponseHeaders;
	if (status >= 400) {
		const text = await readText(res.body, ERROR_BODY_LIMIT).catch(() => "");
		throw upstreamError({ status, bodyText: text, headers: resHeaders, deployment: deployment.label, model: req.model, secrets: provider.secrets });
	}
	const contentType = String(resHeaders["content-type"] ?? "");
	if (!contentType.includes("text/event-stream")) {
		// A stream was asked for and a JSON body came back: passed on as it is.
		let bytes: Uint8Array;
		try {
			bytes = await readAll(res.body);
		} catch (error) {
			throw transportError(error, "body", subject, deployment, req);
		}
		return wholeResponse(status, resHeaders, headersMs, bytes, format, translated, toAnthropic, subject, deployment, req);
	}
	const response = await streamResponse(res, status, resHeaders, headersMs, format, subject, deployment, req);
	if (!translated || response.blocks === undefined) return response;
	const includeUsage = (req.body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;
	const watchUsage = response.usage;
	const translator = toAnthropic ? new StreamTranslator(includeUsage) : new ChunkTranslator();
	return { ...response, blocks: new TranslatedBlocks(response.blocks, translator, watchUsage) };
}

/** A JSON answer read whole: its usage, and its translation when the deployment speaks the other format. */
function wholeResponse(
	status: number,
	headers: ResponseHeaders,
	headersMs: number,
	bytes: Uint8Array,
	format: WireFormat,
	translated: boolean,
	toAnthropic: boolean,
	subject: string,
	deployment: Deployment,
	req: AttemptRequest,
): UpstreamResponse {
	const usage = usageOfBody(format, bytes);
	const outcome = Promise.resolve({ usage, error: undefined });
	if (!translated) return { status, headers, headersMs, bytes, blocks: undefined, outcome };
	let message: Record<string, unknown>;
	try {
		message = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("utf8")) as Record<string, unknown>;
	} catch (error) {
		throw llmError(LlmErrorCode.SERVER, subject, "the response is not JSON", { deployment: deployment.label, model: req.model, status: 502, cause: error });
	}
	const chat = Buffer.from(JSON.stringify(toAnthropic ? messageToChat(message, usage) : chatToMessage(message, usage)));
	return { status, headers: { ...headers, "content-length": String(chat.length) }, headersMs, bytes: chat, blocks: undefined, outcome };
}

async function streamResponse(
	res: Dispatcher.ResponseData,
	status: number,
	headers: ResponseHeaders,
	headersMs: number,
	format: WireFormat,
	subject: string,
	deployment: Deployment,
	req: AttemptRequest,
): Promise<UpstreamResponse & { usage: () => LlmUsage | undefined }> {
	const source = res.body[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>;
	const watch = new StreamWatch(format);
	const carry: { rest: Uint8Array | undefined } = { rest: undefined };
	let first: StreamBlock | undefined;
	try {
		first = await firstBlock(source, watch, carry);
	} catch (error) {
		res.body.destroy();
		throw transportError(error, "body", subject, deployment, req);
	}
	if (first === undefined) {
		throw llmError(LlmErrorCode.STREAM_CUT, subject, "the stream ended before its first event", {
			deployment: deployment.label,
			model: req.model,
			status: 502,
		});
	}
	if (watch.terminal === "error" && watch.errorData !== undefined) {
		// Overloaded before anything was said: nothing reached the caller, so another deployment may answer.
		res.body.destroy();
		throw streamEventError(watch.errorData, deployment.label, req.model, deployment.provider.secrets);
	}
	let settle!: (o: BodyOutcome) => void;
	const outcome = new Promise<BodyOutcome>((resolve) => {
		settle = resolve;
	});
	const blocks = new BlockStream(
		first,
		carry.rest,
		{ iterator: source, destroy: () => res.body.destroy(), mapError: (error) => transportError(error, "body", subject, deployment, req) },
		watch,
		format,
		subject,
		{ deployment: deployment.label, model: req.model },
		(end) => {
			// The provider's own error event ends the stream: that, not the reader stopping after it, is what happened.
			const inBand = watch.terminal === "error" && watch.errorData !== undefined;
			const error = inBand ? streamEventError(watch.errorData as string, deployment.label, req.model, deployment.provider.secrets) : end.error;
			settle({ usage: watch.usage, error });
		},
	);
	return { status, headers, headersMs, bytes: undefined, blocks, outcome, usage: () => watch.usage };
}

/** Codes of lifeguard's HTTP client refusing a call before sending it (POOL_CLOSED: the client is closing, no deployment's fault). */
const DISPATCHER_BUSY = new Set(["POOL_QUEUE_FULL", "POOL_TIMEOUT", "CIRCUIT_OPEN", "RATE_LIMITED", "DEADLINE_EXCEEDED", "POOL_CLOSED"]);

/** A failure below HTTP (connect, timeout, a broken body, an abort) as a typed error. */
export function transportError(error: unknown, phase: "headers" | "body", subject: string, deployment: Deployment, req: AttemptRequest): LlmError {
	const details = { deployment: deployment.label, model: req.model, cause: error };
	const e = error as { code?: string; name?: string; message?: string; cause?: { code?: string } } | null;
	const code = e?.code ?? e?.cause?.code;
	if (req.signal?.aborted || code === "UND_ERR_ABORTED" || e?.name === "AbortError") {
		return llmError(LlmErrorCode.ABORTED, subject, "the upstream request was aborted", details);
	}
	if (phase === "headers" && code !== undefined && DISPATCHER_BUSY.has(code)) {
		// The HTTP client's own limits (its queue, its breaker, its rate limits) said no: busy, not this deployment's fault.
		return llmError(LlmErrorCode.UNAVAILABLE, subject, `the HTTP client refused the request (${code}: ${e?.message ?? ""})`, { ...details, status: 503 });
	}
	if (code === "UND_ERR_HEADERS_TIMEOUT") {
		return llmError(LlmErrorCode.TIMEOUT, subject, `no response headers within ${deployment.tuning.headersTimeoutMs} ms (headersTimeoutMs)`, details);
	}
	if (code === "UND_ERR_BODY_TIMEOUT") {
		return llmError(LlmErrorCode.TIMEOUT, subject, `no body bytes for ${deployment.tuning.bodyTimeoutMs} ms (bodyTimeoutMs)`, details);
	}
	const what = `${code ?? e?.name ?? "error"}: ${e?.message ?? String(error)}`;
	// Once headers are in, a broken body is a cut response; before them, the connection failed.
	if (phase === "body") return llmError(LlmErrorCode.STREAM_CUT, subject, what, { ...details, status: 502 });
	return llmError(LlmErrorCode.CONNECTION, subject, what, details);
}

async function readAll(body: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
	const chunks: Uint8Array[] = [];
	let length = 0;
	for await (const c of body) {
		chunks.push(c);
		length += c.length;
	}
	return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, length);
}

async function readText(body: Dispatcher.ResponseData["body"], limit: number): Promise<string> {
	const chunks: Uint8Array[] = [];
	let length = 0;
	for await (const c of body as AsyncIterable<Uint8Array>) {
		if (length < limit) chunks.push(c);
		length += c.length;
	}
	return Buffer.concat(chunks).toString("utf8").slice(0, limit);
}
