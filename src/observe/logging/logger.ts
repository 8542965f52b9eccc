import { redactSecrets, redactValue } from "../redact.ts";

/** Any pino-style logger: an object of fields first, then the message. pino, bunyan-style wrappers and `console`-like adapters fit. */
export interface Logger {
	debug(fields: object, message?: string): void;
	info(fields: object, message?: string): void;
	warn(fields: object, message?: string): void;
	error(fields: object, message?: string): void;
}

export const LogLevel = { debug: "debug", info: "info", warn: "warn", error: "error", silent: "silent" } as const;
export type LogLevel = (typeof LogLevel)[keyof typeof LogLevel];
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface JsonLoggerOptions {
	/** Lowest level written. Default `info`. */
	level?: LogLevel;
	/** Where lines go. Default `process.stderr`. */
	stream?: { write(line: string): unknown };
}

/**
 * lifeguard's own structured logger: one JSON object per line (`level`, `time`, `name`, `msg`,
 * then the fields), every string redacted and secret-named fields masked on the way out.
 */
export function createJsonLogger(options: JsonLoggerOptions = {}): Logger {
	const min = RANK[options.level ?? "info"];
	const stream = options.stream ?? process.stderr;
	const write = (level: Exclude<LogLevel, "silent">) => (fields: object, message?: string) => {
		if (RANK[level] < min) return;
		const safe = redactValue(fields) as Record<string, unknown>;
		const line = { level, time: new Date().toISOString(), name: "lifeguard", msg: message === undefined ? "" : redactSecrets(message), ...safe };
		stream.write(`${JSON.stringify(line)}\n`);
	};
	return { debug: write("debug"), info: write("info"), warn: write("warn"), error: write("error") };
}

/**
 * The logger `LIFEGUARD_LOG_LEVEL` asks for (debug, info, warn, error): JSON lines to stderr.
 * Undefined when it is unset or `silent`: lifeguard is quiet by default.
 */
export function loggerFromEnv(env: NodeJS.ProcessEnv = process.env): Logger | undefined {
	const level = env.LIFEGUARD_LOG_LEVEL?.trim().toLowerCase();
	if (level === undefined || level === "" || level === "silent") return undefined;
	if (!(level in RANK)) {
		process.emitWarning(`LIFEGUARD_LOG_LEVEL must be one of ${Object.keys(RANK).join(", ")}; logging at info`, { code: "LIFEGUARD_LOG_LEVEL" });
		return createJsonLogger({ level: "info" });
	}
	return createJsonLogger({ level: level as LogLevel });
}
