/**
 * Node's error codes for a socket that is gone or unusable: the part of "is this connection
 * dead?" that every network adapter shares. Each adapter adds its driver's own signals
 * (SQLSTATEs, protocol codes, driver messages) on top.
 */
export const SOCKET_FAULT_CODES: ReadonlySet<string> = new Set([
	"ECONNRESET",
	"ECONNREFUSED",
	"ECONNABORTED",
	"EPIPE",
	"ETIMEDOUT",
	"ENOTCONN",
	"EHOSTUNREACH",
	"ENETUNREACH",
	"ENETDOWN",
	"ENOTFOUND",
	"EAI_AGAIN",
	"ERR_STREAM_DESTROYED",
	"ERR_STREAM_WRITE_AFTER_END",
	"ERR_SOCKET_CLOSED",
]);

/** True when `code` (an error's `code`) is a socket-level failure. */
export function isSocketFaultCode(code: unknown): boolean {
	return typeof code === "string" && SOCKET_FAULT_CODES.has(code);
}
