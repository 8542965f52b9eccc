/**
 * The Redis adapter's own codes: a Redis command is not a query, and matching `QUERY_FAILED` for a
 * WRONGTYPE would mix it with SQL errors. A lost connection stays `CONNECTION_LOST`, as in every adapter.
 */
export const RedisErrorCode = {
	/** The server refused the command (WRONGTYPE, ERR syntax, NOSCRIPT, EXECABORT…), or lifeguard refused it before sending (a session command on the shared path). */
	REDIS_COMMAND_FAILED: "REDIS_COMMAND_FAILED",
	/** No reply within the call's `timeoutMs`. */
	REDIS_TIMEOUT: "REDIS_TIMEOUT",
	/** Redis Cluster: a transaction (or a blocking command) whose keys live in more than one hash slot, so no one node can run it. */
	REDIS_CROSS_SLOT: "REDIS_CROSS_SLOT",
} as const;
export type RedisErrorCode = (typeof RedisErrorCode)[keyof typeof RedisErrorCode];

// Registers these codes as LifeguardError codes (see LifeguardErrorCodes in the core).
declare module "../../core/errors.ts" {
	interface LifeguardErrorCodes {
		redis: RedisErrorCode;
	}
}
