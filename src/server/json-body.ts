/**
 * Rows as JSON: a bigint (SQLite's `readBigInts`, PostgreSQL's int8 when parsed as one) becomes its
 * exact decimal string rather than a rounded number or a thrown TypeError, and bytes become base64.
 */
export function toJson(value: unknown): string {
	// A replacer is called back for every key and value of the result; most results hold neither
	// bytes nor bigints, and a walk to make sure costs far less than the callbacks.
	if (!hasSpecial(value, 0)) {
		try {
			return JSON.stringify(value);
		} catch (error) {
			// A bigint out of reach of the walk (deeper than it looks, or from a toJSON): the replacer handles it.
			if (!(error instanceof TypeError)) throw error;
		}
	}
	return JSON.stringify(value, function replace(this: Record<string, unknown>, key: string, v: unknown) {
		if (typeof v === "bigint") return v.toString();
		// `this[key]` is the value before Buffer's own toJSON turned it into { type, data }.
		const original = this[key];
		if (original instanceof Uint8Array) return Buffer.from(original.buffer, original.byteOffset, original.byteLength).toString("base64");
		return v;
	});
}

/** Whether `value` holds a bigint or bytes (Uint8Array, Buffer), within `MAX_DEPTH` levels; deeper counts as yes. */
function hasSpecial(value: unknown, depth: number): boolean {
	if (typeof value === "bigint") return true;
	if (value === null || typeof value !== "object") return false;
	if (value instanceof Uint8Array) return true;
	if (depth >= MAX_DEPTH) return true;
	if (Array.isArray(value)) {
		for (const v of value) if (hasSpecial(v, depth + 1)) return true;
		return false;
	}
	for (const key in value) if (hasSpecial((value as Record<string, unknown>)[key], depth + 1)) return true;
	return false;
}

const MAX_DEPTH = 8;
