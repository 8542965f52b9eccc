/**
 * Rows as JSON: a bigint (SQLite's `readBigInts`, PostgreSQL's int8 when parsed as one) becomes its
 * exact decimal string rather than a rounded number or a thrown TypeError, and bytes become base64.
 */
export function toJson(value: unknown): string {
	return JSON.stringify(value, function replace(this: Record<string, unknown>, key: string, v: unknown) {
		if (typeof v === "bigint") return v.toString();
		// `this[key]` is the value before Buffer's own toJSON turned it into { type, data }.
		const original = this[key];
		if (original instanceof Uint8Array) return Buffer.from(original.buffer, original.byteOffset, original.byteLength).toString("base64");
		return v;
	});
}
