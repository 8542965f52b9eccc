/** The one place that decides whether an ioredis error is the connection's fault (destroy it) or the caller's (the connection stays reusable). */
import { ErrorCode, LifeguardError } from "../../core/errors.ts";
import type { ErrorClass } from "../../core/options.ts";
import { isSocketFaultCode } from "../kit/socket-faults.ts";
import { RedisErrorCode } from "./error-codes.ts";

/** What ioredis says when a command meets a closed or closing connection. */
const CONNECTION_ERROR_MESSAGES = [
	"Connection is closed",
	"Stream isn't writeable",
	"Command aborted due to connection close",
	"Command timed out",
	"Socket closed unexpectedly",
];

/**
 * Server replies that mean this connection's session is unusable rather than the command being
 * wrong. READONLY: the server this connection reached is (now) a replica, as a demoted primary is
 * after a failover; a new connection finds the primary again (through the sentinels).
 */
const CONNECTION_REPLY_PREFIXES = ["NOAUTH", "READONLY"];

export function isReplyError(error: unknown): boolean {
	return error instanceof Error && error.name === "ReplyError";
}

/** Connection faults destroy the connection; everything else is the caller's (see the adapter docs). */
export function classifyRedisError(error: unknown): ErrorClass {
	if (error instanceof LifeguardError) {
		return error.code === ErrorCode.CONNECTION_LOST || (error.code as string) === RedisErrorCode.REDIS_TIMEOUT ? "connection" : "caller";
	}
	if (!(error instanceof Error)) return "caller";
	if (isReplyError(error)) return CONNECTION_REPLY_PREFIXES.some((p) => error.message.startsWith(p)) ? "connection" : "caller";
	// A reply the parser cannot read leaves the stream out of step; an ioredis AbortError means the socket closed.
	if (error.name === "ParserError" || error.name === "AbortError" || error.name === "MaxRetriesPerRequestError") return "connection";
	const code = (error as NodeJS.ErrnoException).code;
	if (isSocketFaultCode(code)) return "connection";
	return CONNECTION_ERROR_MESSAGES.some((m) => error.message.startsWith(m)) ? "connection" : "caller";
}

/** True when the error means the connection is dead (the name every adapter's faults check shares). */
export function isConnectionFault(error: unknown): boolean {
	return classifyRedisError(error) === "connection";
}
