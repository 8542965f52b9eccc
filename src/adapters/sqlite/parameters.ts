/**
 * The values a SQLite statement can bind, checked on the main thread before anything is sent:
 * node:sqlite binds null, numbers, bigints, strings and bytes; lifeguard adds booleans (as 0/1)
 * and undefined (as NULL). Anything else (a Date, a Map, a plain object) used to reach the host,
 * where it was bound as NULL without a word or crashed the host: refused here instead, as the
 * caller's error (QUERY_FAILED), with the connection kept.
 */

/** The caller's parameter that SQLite cannot store; not a connection fault. */
export class UnsupportedParameterError extends Error {
	readonly code = "ERR_LIFEGUARD_UNSUPPORTED_PARAMETER";
}

function describe(value: unknown): string {
	if (value instanceof Date) return "a Date (pass value.toISOString() or value.getTime())";
	if (value instanceof Map || value instanceof Set) return `a ${value instanceof Map ? "Map" : "Set"} (pass JSON.stringify([...value]))`;
	if (typeof value === "function") return "a function";
	if (typeof value === "symbol") return "a symbol";
	if (Array.isArray(value)) return "an array (pass JSON.stringify(value))";
	return "an object (pass JSON.stringify(value))";
}

/** Throws {@link UnsupportedParameterError} naming the first value SQLite cannot bind; `set` numbers a batch's parameter set. */
export function checkParameters(params: readonly unknown[], set?: number): void {
	for (let i = 0; i < params.length; i++) {
		const value = params[i];
		if (value === null || value === undefined) continue;
		const type = typeof value;
		if (type === "number" || type === "string" || type === "bigint" || type === "boolean") continue;
		if (value instanceof Uint8Array) continue;
		const where = set === undefined ? `parameter ${i + 1}` : `parameter ${i + 1} of set ${set + 1}`;
		throw new UnsupportedParameterError(
			`${where} is ${describe(value)}: SQLite binds null, numbers, bigints, strings, booleans and Uint8Array/Buffer only; nothing was sent`,
		);
	}
}
