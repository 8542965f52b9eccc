/**
 * Which thrown errors are worth another attempt: the connection failed or was cut before an
 * answer came. DNS "no such host" (ENOTFOUND) is not among them: another try gets the same answer.
 */
export const RETRYABLE_ERROR_CODES: ReadonlySet<string> = new Set([
	"ECONNRESET",
	"ECONNREFUSED",
	"ECONNABORTED",
	"EPIPE",
	"ETIMEDOUT",
	"EHOSTUNREACH",
	"ENETUNREACH",
	"ENETDOWN",
	"EAI_AGAIN",
	"ERR_SOCKET_CLOSED",
	// undici's: "other side closed", connect timeout, headers timeout (the server never answered).
	"UND_ERR_SOCKET",
	"UND_ERR_CONNECT_TIMEOUT",
	"UND_ERR_HEADERS_TIMEOUT",
	// HTTP/2: a stream reset by the peer (REFUSED_STREAM on GOAWAY), a session that went away.
	"ERR_HTTP2_STREAM_ERROR",
	"ERR_HTTP2_GOAWAY_SESSION",
	"ERR_HTTP2_INVALID_SESSION",
	// lifeguard's own: a connection lost under the request, a pooled connection that could not be opened.
	"CONNECTION_LOST",
	"CREATE_FAILED",
	"CREATE_TIMEOUT",
]);

/** True when `error` (or its `cause`, as fetch wraps undici's errors in "fetch failed") is a connection failure. */
export function isRetryableError(error: unknown): boolean {
	for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 4; depth++) {
		const code = (e as { code?: unknown }).code;
		if (typeof code === "string" && RETRYABLE_ERROR_CODES.has(code)) return true;
		e = (e as { cause?: unknown }).cause;
	}
	return false;
}
