/**
 * undici has two handler styles: the callbacks `fetch()` and `request()` use (`onConnect`,
 * `onHeaders`, `onData`, `onComplete`, `onError`), and the controller style of undici 7
 * interceptors (`onRequestStart`, `onResponseStart`, …). The client speaks the first inside and
 * accepts both, as undici's own dispatchers do.
 */
import type { IncomingHttpHeaders } from "node:http";
import type { Duplex } from "node:stream";
import type { Dispatcher } from "undici";

export interface LegacyHandler {
	onConnect?(abort: (reason?: unknown) => void, context?: object): void;
	onResponseStarted?(): void;
	onHeaders?(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean;
	onData?(chunk: Buffer): boolean;
	onComplete?(rawTrailers: Buffer[] | string[] | null): void;
	onError?(error: Error): void;
	onUpgrade?(statusCode: number, rawHeaders: Buffer[] | string[] | null, socket: Duplex): void;
	onBodySent?(chunk: unknown): void;
}

export function parseRawHeaders(raw: readonly (Buffer | string)[] | null | undefined): IncomingHttpHeaders {
	const headers: Record<string, string | string[]> = {};
	if (!raw) return headers;
	for (let i = 0; i + 1 < raw.length; i += 2) {
		const name = raw[i].toString().toLowerCase();
		const value = raw[i + 1].toString();
		const seen = headers[name];
		if (seen === undefined) headers[name] = value;
		else if (Array.isArray(seen)) seen.push(value);
		else headers[name] = [seen, value];
	}
	return headers;
}

/** The value of one header in undici's flat raw list, without parsing the rest. */
export function rawHeader(raw: readonly (Buffer | string)[], name: string): string | undefined {
	for (let i = 0; i + 1 < raw.length; i += 2) {
		const key = raw[i];
		if (key.length === name.length && key.toString().toLowerCase() === name) return raw[i + 1].toString();
	}
	return undefined;
}

class Controller implements Dispatcher.DispatchController {
	#abort: (reason?: unknown) => void;
	#resume: (() => void) | undefined;
	#paused = false;
	#aborted = false;
	#reason: Error | null = null;

	constructor(abort: (reason?: unknown) => void) {
		this.#abort = abort;
	}
	get aborted() {
		return this.#aborted;
	}
	get paused() {
		return this.#paused;
	}
	get reason() {
		return this.#reason;
	}
	setResume(resume: () => void): void {
		this.#resume = resume;
	}
	pause(): void {
		this.#paused = true;
	}
	resume(): void {
		if (!this.#paused) return;
		this.#paused = false;
		this.#resume?.();
	}
	abort(reason: Error): void {
		if (this.#aborted) return;
		this.#aborted = true;
		this.#reason = reason;
		this.#abort(reason);
	}
}

/** The handler as a callback-style handler. */
export function toLegacyHandler(handler: Dispatcher.DispatchHandler): LegacyHandler {
	if (typeof handler.onRequestStart !== "function" && typeof handler.onResponseStart !== "function") return handler as LegacyHandler;
	let controller: Controller;
	return {
		onConnect(abort, context) {
			controller = new Controller(abort);
			handler.onRequestStart?.(controller, context);
		},
		onUpgrade(statusCode, rawHeaders, socket) {
			handler.onRequestUpgrade?.(controller, statusCode, parseRawHeaders(rawHeaders), socket);
		},
		onHeaders(statusCode, rawHeaders, resume, statusText) {
			controller.setResume(resume);
			handler.onResponseStart?.(controller, statusCode, parseRawHeaders(rawHeaders), statusText);
			return !controller.paused;
		},
		onData(chunk) {
			handler.onResponseData?.(controller, chunk);
			return !controller.paused;
		},
		onComplete(rawTrailers) {
			handler.onResponseEnd?.(controller, parseRawHeaders(rawTrailers));
		},
		onError(error) {
			handler.onResponseError?.(controller, error);
		},
	};
}
