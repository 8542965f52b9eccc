/**
 * A value as the user wrote it, for error messages. JSON.stringify turns NaN and Infinity into
 * `null` and drops the quotes' meaning for `undefined`, which sends people hunting for a null
 * they never wrote.
 */
export function quoteValue(value: unknown): string {
	switch (typeof value) {
		case "string":
			return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
		case "number":
			return Object.is(value, -0) ? "-0" : String(value);
		case "bigint":
			return `${value}n`;
		case "undefined":
			return "undefined";
		case "function":
			return "a function";
		case "symbol":
			return value.toString();
		case "boolean":
			return String(value);
		default:
			if (value === null) return "null";
			if (Array.isArray(value)) return "an array";
			return "an object";
	}
}
