/** undici, an optional peer dependency, imported only when the client must make its own dispatcher. */
import type { Dispatcher } from "undici";
import { ErrorCode, LifeguardError } from "../../core/errors.ts";

export class LlmDriverMissingError extends LifeguardError {
	constructor(cause: unknown) {
		super(ErrorCode.DRIVER_MISSING, 'lifeguard/llm needs the "undici" package (>= 7) unless you pass a dispatcher: run `npm install undici`', { cause });
	}
}

/** A new undici Agent; DRIVER_MISSING when undici is not installed. */
export async function newAgent(): Promise<Dispatcher> {
	let undici: typeof import("undici");
	try {
		undici = await import("undici");
	} catch (error) {
		const code = (error as { code?: unknown } | null)?.code;
		if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") throw new LlmDriverMissingError(error);
		throw error;
	}
	return new undici.Agent();
}
