/**
 * undici, loaded on first use so that users of other adapters never need it. It is loaded
 * synchronously (it is CommonJS) because the HTTP client is an undici `Dispatcher` subclass,
 * and a class cannot wait for its base.
 */
import { createRequire } from "node:module";
import type * as Undici from "undici";
import { HttpDriverMissingError } from "./errors.ts";

export type UndiciModule = typeof Undici;

let loaded: UndiciModule | undefined;

/** undici, or DRIVER_MISSING when it is not installed. */
export function loadUndici(): UndiciModule {
	if (loaded !== undefined) return loaded;
	try {
		loaded = createRequire(import.meta.url)("undici") as UndiciModule;
		return loaded;
	} catch (error) {
		if ((error as { code?: unknown }).code === "MODULE_NOT_FOUND") throw new HttpDriverMissingError(error);
		throw error;
	}
}
