/** Exit codes scripts can rely on. */
export const ExitCode = {
	ok: 0,
	/** The command ran and found a problem (an invalid config, an unhealthy service, a pool too small). */
	problem: 1,
	/** The command line itself is wrong. */
	usage: 2,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export interface CommandResult {
	code: ExitCode;
	/** Printed to stdout. */
	out?: string;
	/** Printed to stderr. */
	err?: string;
}

/** A wrong command line: printed with the command's usage, exit code 2. */
export class UsageError extends Error {
	constructor(message: string) {
		super(message);
		this.name = "UsageError";
	}
}
