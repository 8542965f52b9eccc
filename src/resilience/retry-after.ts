/**
 * Reading how long a server asks us to wait: `Retry-After` in seconds or as an HTTP-date
 * (RFC 9110 §10.2.3), and the millisecond variant `retry-after-ms` that OpenAI and Azure send.
 */

export type HeaderValue = string | string[] | undefined;
/** Response headers as undici gives them (lower-case names) or a fetch `Headers`. */
export type HeaderBag = Record<string, HeaderValue> | { get(name: string): string | null };

function header(headers: HeaderBag | undefined, name: string): string | undefined {
	if (headers === undefined) return undefined;
	if (typeof (headers as { get?: unknown }).get === "function") return (headers as { get(n: string): string | null }).get(name) ?? undefined;
	const value = (headers as Record<string, HeaderValue>)[name];
	return Array.isArray(value) ? value[0] : value;
}

/**
 * Milliseconds the server asked to wait, or undefined when it did not say (or said something
 * unreadable). A date in the past is 0.
 */
export function retryAfterMs(headers: HeaderBag | undefined, nowMs = Date.now()): number | undefined {
	const ms = header(headers, "retry-after-ms");
	if (ms !== undefined && /^\s*\d+(\.\d+)?\s*$/.test(ms)) return Number(ms);
	const value = header(headers, "retry-after")?.trim();
	if (value === undefined || value === "") return undefined;
	if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
	// Only HTTP-dates: Date.parse accepts far more ("1", "tomorrow" in some engines) than RFC 9110 allows.
	if (!/^[A-Za-z]{3},? /.test(value)) return undefined;
	const at = Date.parse(value);
	if (Number.isNaN(at)) return undefined;
	return Math.max(0, at - nowMs);
}
