/**
 * The Redis adapter's typed errors, and how an ioredis failure becomes one (which kind is
 * decided in faults.ts).
 */
import { ErrorCode, LifeguardError, messageOf } from "../../core/errors.ts";
import { DriverMissingError } from "../kit/optional-driver.ts";
import { RedisErrorCode } from "./error-codes.ts";
import { classifyRedisError, isReplyError } from "./faults.ts";

export { RedisErrorCode };

/** The server rejected a command (WRONGTYPE, ERR syntax, NOSCRIPT, …): the caller's error (REDIS_COMMAND_FAILED); the connection stays in use. */
export class RedisCommandError extends LifeguardError {
	/** The command, upper case (`GET`); never its arguments, which may hold secrets. */
	readonly command: string;
	/** The first word of the server's reply (`WRONGTYPE`, `ERR`, `NOSCRIPT`), when the server sent one. */
	readonly serverCode: string | undefined;
	constructor(command: string, cause: unknown) {
		const message = messageOf(cause);
		super(RedisErrorCode.REDIS_COMMAND_FAILED, `redis ${command}: ${message}`, { cause });
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
			RedisErrorCode.REDIS_TIMEOUT,
			`redis pool "${pool}": ${command} got no reply within ${timeoutMs} ms (timeoutMs); the connection was closed because a late reply would answer the wrong command. ${command} may still run on the server`,
		);
		this.command = command;
		this.timeoutMs = timeoutMs;
	}
}

/**
 * Redis Cluster runs a transaction (or a multi-key blocking command) on one node, so all its keys
 * must hash to one slot (REDIS_CROSS_SLOT). Refused before anything is sent. Give related keys a
 * common hash tag (`{user:42}:cart`, `{user:42}:total`) to keep them in one slot.
 */
export class RedisCrossSlotError extends LifeguardError {
	readonly command: string;
	/** The distinct slots the keys hash to. */
	readonly slots: readonly number[];
	constructor(pool: string, command: string, slots: readonly number[]) {
		super(
			RedisErrorCode.REDIS_CROSS_SLOT,
			`redis cluster "${pool}": the keys of ${command} hash to ${slots.length} slots (${slots.slice(0, 5).join(", ")}${slots.length > 5 ? ", …" : ""}); a cluster runs it on one node only, so all keys must share a slot: give them a common hash tag like {user:42}`,
		);
		this.command = command;
		this.slots = slots;
	}
}

/** `ioredis` is an optional peer dependency and is not installed (the kit's DriverMissingError, with the version needed). */
export class RedisDriverMissingError extends DriverMissingError {
	constructor(cause: unknown) {
		super("ioredis", "redis", cause, 'install the "ioredis" package (>= 5): npm install ioredis');
	}
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
