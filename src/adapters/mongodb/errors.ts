/**
 * The MongoDB adapter's typed errors. Operations go straight to the driver and throw the
 * driver's own errors (a `MongoServerError` with its `code`); lifeguard's errors are about what
 * lifeguard adds: the health check and the client's configuration.
 */
import { LifeguardError, messageOf } from "../../core/errors.ts";
import { redactUrlCredentials } from "../kit/connection-url.ts";

export const MongoErrorCode = {
	/** `ping` failed: the server refused it or no server could be selected. */
	MONGO_HEALTH_FAILED: "MONGO_HEALTH_FAILED",
	/** `ping` got no answer within the health check's deadline. */
	MONGO_HEALTH_TIMEOUT: "MONGO_HEALTH_TIMEOUT",
} as const;
export type MongoErrorCode = (typeof MongoErrorCode)[keyof typeof MongoErrorCode];

// Registers these codes as LifeguardError codes (see LifeguardErrorCodes in the core).
declare module "../../core/errors.ts" {
	interface LifeguardErrorCodes {
		mongodb: MongoErrorCode;
	}
}

/** The health check's `ping` failed (MONGO_HEALTH_FAILED) or missed its deadline (MONGO_HEALTH_TIMEOUT). */
export class MongoHealthError extends LifeguardError {
	readonly client: string;
	/** The deadline, when it was missed. */
	readonly timeoutMs: number | undefined;
	constructor(client: string, cause: unknown, timeoutMs?: number) {
		const what =
			timeoutMs === undefined
				? `ping failed: ${redactUrlCredentials(messageOf(cause))}`
				: `ping got no answer within ${timeoutMs} ms (healthTimeoutMs): the server is unreachable or overloaded`;
		super(timeoutMs === undefined ? MongoErrorCode.MONGO_HEALTH_FAILED : MongoErrorCode.MONGO_HEALTH_TIMEOUT, `mongodb client "${client}": ${what}`, {
			cause,
		});
		this.client = client;
		this.timeoutMs = timeoutMs;
	}
}
