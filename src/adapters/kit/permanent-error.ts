/**
 * Create errors no retry can fix: wrong credentials, a database or role that does not exist, a
 * password function that throws, TLS the server does not offer, a Redis database index out of
 * range, a missing or read-only SQLite file. The core fails every waiter at once on such an
 * error (instead of retrying until `acquireTimeoutMs`) when its code is CONFIG_INVALID, as it
 * does for DRIVER_MISSING; the message says what to fix and never quotes a secret.
 */
import { ErrorCode, LifeguardError, messageOf } from "../../core/errors.ts";

export class PermanentConnectError extends LifeguardError {
	/** Which server or database the connection was for (a label, never a URL with credentials). */
	readonly target: string;
	constructor(adapter: string, target: string, problem: string, fix: string, cause?: unknown) {
		super(
			ErrorCode.CONFIG_INVALID,
			`${adapter} ${target}: ${problem}; ${fix} (a retry cannot fix this, so waiters fail at once)`,
			cause === undefined ? undefined : { cause },
		);
		this.target = target;
	}
}

/** Calls a user's password function; its throw, or a result that is not a string, is permanent. */
export async function callPasswordFunction(adapter: string, target: string, password: () => unknown): Promise<string> {
	let value: unknown;
	try {
		value = await password();
	} catch (error) {
		throw new PermanentConnectError(adapter, target, `the password function threw (${messageOf(error)})`, "fix the function or what it reads", error);
	}
	if (typeof value !== "string") {
		throw new PermanentConnectError(
			adapter,
			target,
			`the password function returned ${value === null ? "null" : typeof value}`,
			"return a string (or a promise of one)",
		);
	}
	return value;
}
