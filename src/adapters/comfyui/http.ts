/**
 * HTTP calls to one ComfyUI instance through undici's `request` and a dispatcher: by default
 * an undici Agent the pool owns, or the caller's (lifeguard's pooled HTTP client is one), so
 * ComfyUI traffic shares the application's connection budget.
 */
import type { Dispatcher } from "undici";
import { ComfyUIDriverMissingError, ComfyUIInstanceError } from "./errors.ts";

export interface UndiciModule {
	request: typeof import("undici").request;
	Agent: typeof import("undici").Agent;
}

let loading: Promise<UndiciModule> | undefined;

export function loadUndici(): Promise<UndiciModule> {
	loading ??= import("undici").then(
		(m) => ({ request: m.request, Agent: m.Agent }),
		(error: unknown) => {
			loading = undefined;
			const code = (error as NodeJS.ErrnoException | undefined)?.code;
			if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") throw new ComfyUIDriverMissingError(error);
			throw error;
		},
	);
	return loading;
}

export interface HttpAnswer {
	status: number;
	body: Buffer;
}

export interface HttpCall {
	method: "GET" | "POST";
	/** Under the instance's base path: `/prompt`, `/history/<id>`. */
	path: string;
	json?: unknown;
	form?: FormData;
	signal?: AbortSignal;
}

/** One instance's HTTP side: its base URL (with the API path), auth header, timeout, dispatcher. */
export class ComfyHttp {
	readonly #label: string;
	readonly #origin: string;
	readonly #basePath: string;
	readonly #headers: Record<string, string>;
	readonly #timeoutMs: number;
	readonly #dispatcher: () => Promise<Dispatcher>;

	constructor(label: string, base: URL, headers: Record<string, string>, timeoutMs: number, dispatcher: () => Promise<Dispatcher>) {
		this.#label = label;
		this.#origin = base.origin;
		this.#basePath = base.pathname.replace(/\/+$/, "");
		this.#headers = headers;
		this.#timeoutMs = timeoutMs;
		this.#dispatcher = dispatcher;
	}

	/** Sends the call; network failures become ComfyUIInstanceError (CONNECTION_LOST). Any status is returned. */
	async send(call: HttpCall): Promise<HttpAnswer> {
		const { request } = await loadUndici();
		const dispatcher = await this.#dispatcher();
		const headers: Record<string, string> = { ...this.#headers };
		let body: string | Buffer | undefined;
		if (call.json !== undefined) {
			headers["content-type"] = "application/json";
			body = JSON.stringify(call.json);
		} else if (call.form !== undefined) {
			const encoded = new Response(call.form);
			headers["content-type"] = encoded.headers.get("content-type") ?? "multipart/form-data";
			body = Buffer.from(await encoded.arrayBuffer());
		}
		const signals = [AbortSignal.timeout(this.#timeoutMs), ...(call.signal === undefined ? [] : [call.signal])];
		try {
			const answer = await request(`${this.#origin}${this.#basePath}${call.path}`, {
				method: call.method,
				headers,
				body,
				dispatcher,
				signal: AbortSignal.any(signals),
				headersTimeout: this.#timeoutMs,
				bodyTimeout: this.#timeoutMs,
			});
			return { status: answer.statusCode, body: Buffer.from(await answer.body.arrayBuffer()) };
		} catch (error) {
			if (call.signal?.aborted) throw call.signal.reason;
			throw new ComfyUIInstanceError(this.#label, `${call.method} ${call.path.split("?")[0]}`, undefined, error);
		}
	}

	/** Sends the call and reads a 2xx JSON answer (an empty body is `{}`); any other status is ComfyUIInstanceError. */
	async json<T>(call: HttpCall): Promise<T> {
		const answer = await this.send(call);
		if (answer.status < 200 || answer.status >= 300) throw new ComfyUIInstanceError(this.#label, `${call.method} ${call.path.split("?")[0]}`, answer.status);
		return (answer.body.length === 0 ? {} : JSON.parse(answer.body.toString("utf8"))) as T;
	}
}
