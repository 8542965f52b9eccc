/**
 * Removes what must never leave the process from a free-text message (an error from a driver,
 * a config value): credentials in URLs, and `password=`, `token=`, `apikey=`-style pairs and
 * bearer tokens. Adapters already redact their own messages; this is the last line before a
 * response or a log line.
 */
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]*@/gi;
const SECRET_PAIRS = /\b(password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|auth)(\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s&;,]+)/gi;
const BEARER = /\b(bearer\s+)[A-Za-z0-9._~+/=-]+/gi;
const KEY_LIKE = /\b(sk|pk|rk)-[A-Za-z0-9_-]{12,}/g;

export function redactSecrets(text: string): string {
	return text.replace(URL_CREDENTIALS, "$1***@").replace(SECRET_PAIRS, "$1$2***").replace(BEARER, "$1***").replace(KEY_LIKE, "$1-***");
}

/** Key names whose values are secrets wherever they appear (config, details, log fields). */
export const SECRET_KEY = /pass(word)?|secret|token|api[_-]?key|credential|private[_-]?key|auth/i;

/** A deep copy of a JSON-like value with secret-named keys masked and every string redacted. */
export function redactValue(value: unknown, depth = 0): unknown {
	if (typeof value === "string") return redactSecrets(value);
	if (value === null || typeof value !== "object" || depth > 8) return value;
	if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1));
	const out: Record<string, unknown> = {};
	for (const [key, v] of Object.entries(value)) out[key] = SECRET_KEY.test(key) && v !== undefined && v !== null ? "***" : redactValue(v, depth + 1);
	return out;
}
