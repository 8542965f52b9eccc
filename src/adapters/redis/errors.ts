/**
 * The Redis adapter's typed errors, and the one place that decides whether an ioredis error
 * is the connection's fault (destroy it) or the caller's (the connection stays reusable).
 */
import { ErrorCode, LifeguardError, messageOf } from "../../core/errors.ts";

/**
 * The Redis adapter's own codes: a Redis command is not a query, and matching `QUERY_FAILED` for a
 * WRONGTYPE would mix it with SQL errors. A lost connection stays `CONNECTION_LOST`, as in every adapter.
 */
export const RedisErrorCode = {
	/** The server refused the command (WRONGTYPE, ERR syntax, NOSCRIPT, EXECABORT…), or lifeguard refused it before sending (a session command on the shared path). */
	REDIS_COMMAND_FAILED: "REDIS_COMMAND_FAILED",
	/** No reply within the call's `timeoutMs`. */
	REDIS_TIMEOUT: "REDIS_TIMEOUT",
} as const;
export type RedisErrorCode = (typeof RedisErrorCode)[keyof typeof RedisErrorCode];

/** The core types `code` as its own codes; an adapter's codes are strings of the same kind. */
function adapterCode(code: RedisErrorCode): ErrorCode {
	return code as unknown as ErrorCode;
}

import type { ErrorClass } from "../../core/options.ts";
import { isSocketFaultCode } from "../socket-faults.ts";

/** The server rejected a command (WRONGTYPE, ERR syntax, NOSCRIPT, …): the caller's error (REDIS_COMMAND_FAILED); the connection stays in use. */
export class RedisCommandError extends LifeguardError {
	/** The command, upper case (`GET`); never its arguments, which may hold secrets. */
	readonly command: string;
	/** The first word of the server's reply (`WRONGTYPE`, `ERR`, `NOSCRIPT`), when the server sent one. */
	readonly serverCode: string | undefined;
	constructor(command: string, cause: unknown) {
		const message = messageOf(cause);
		super(adapterCode(RedisErrorCode.REDIS_COMMAND_FAILED), `redis ${command}: ${message}`, { cause });
		this.command = command;
		this.serverCode = isReplyError(cause) ? /^[A-Z]+/.exec(message)?.[0] : undefined;
	}
}

/** The connection died under a command; the command may or may not have run. The connection was discarded. */
export class RedisConnectionLostError extends LifeguardError {
	readonly command: string;
	constructor(pool: string, command: string, cause: unknown) {
		super(
			ErrorCode.CONNECTION_LOST,
			`redis pool "${pool}": the connection was lost during ${command} (${messageOf(cause)}); it may or may not have run. The connection was discarded: retry on a new one if ${command} is safe to repeat`,
			{ cause },
		);
		this.command = command;
	}
}

/** No reply within the call's `timeoutMs` (REDIS_TIMEOUT). The connection was destroyed: its replies are out of step with its commands. */
export class RedisTimeoutError extends LifeguardError {
	readonly command: string;
	readonly timeoutMs: number;
	constructor(pool: string, command: string, timeoutMs: number) {
		super(
			adapterCode(RedisErrorCode.REDIS_TIMEOUT),
			`redis pool "${pool}": ${command} got no reply within ${timeoutMs} ms (timeoutMs); the connection was closed because a late reply would answer the wrong command. ${command} may still run on the server`,
		);
		this.command = command;
		this.timeoutMs = timeoutMs;
	}
}

/** `ioredis` is an optional peer dependency and is not installed. */
export class RedisDriverMissingError extends LifeguardError {
	constructor(cause: unknown) {
		super(ErrorCode.DRIVER_MISSING, 'lifeguard/redis needs the "ioredis" package (>= 5): run `npm install ioredis`', { cause });
	}
}

/** What ioredis says when a command meets a closed or closing connection. */
const CONNECTION_ERROR_MESSAGES = [
	"Connection is closed",
	"Stream isn't writeable",
	"Command aborted due to connection close",
	"Command timed out",
	"Socket closed unexpectedly",
];

/** Server replies that mean this connection's session is unusable rather than the command being wrong. */
const CONNECTION_REPLY_PREFIXES = ["NOAUTH"];

function isReplyError(error: unknown): boolean {
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

/**
 * The typed error a caller sees for an ioredis failure: CONNECTION_LOST for connection faults,
 * QUERY_FAILED for the server's (and ioredis's) rejections; lifeguard's own errors pass through.
 */
export function toRedisError(error: unknown, pool: string, command: string): Error {
	if (error instanceof LifeguardError) return error;
	if (classifyRedisError(error) === "connection") return new RedisConnectionLostError(pool, command, error);
	return new RedisCommandError(command, error);
}

/** Like {@link toRedisError}, but leaves errors that did not come from Redis (a user's own throw) untouched. */
export function toRedisErrorIfDriver(error: unknown, pool: string): unknown {
	if (!(error instanceof Error) || error instanceof LifeguardError) return error;
	if (isReplyError(error) || classifyRedisError(error) === "connection") return toRedisError(error, pool, commandOf(error));
	return error;
}

/** The command ioredis attaches to its errors (`err.command.name`), upper case; "a command" when it did not. */
function commandOf(error: Error): string {
	const name = (error as Error & { command?: { name?: unknown } }).command?.name;
	return typeof name === "string" ? name.toUpperCase() : "a command";
}

/** True when the error means the connection is dead (the name every adapter's faults check shares). */
export function isConnectionFault(error: unknown): boolean {
	return classifyRedisError(error) === "connection";
}
