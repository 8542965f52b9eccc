/**
 * The checks every `close(options)` shares. A misspelt key (`{ timoutMs: 0 }`) used to be
 * ignored, so the caller got the default 30 s deadline instead of the one they asked for, with
 * no word: like the pool's other option validators, close() now refuses a key it does not know,
 * saying which one it probably meant. Each client's close() checks first, before it stops
 * anything, so a refused close leaves the client as it was.
 */
import { suggestion } from "./did-you-mean.ts";
import { ConfigError, type ConfigProblem } from "./errors.ts";
import { quoteValue } from "./quote-value.ts";

/** The keys `close(options)` takes. */
export const CLOSE_OPTION_KEYS: readonly string[] = ["timeoutMs"];

/** What is wrong with `options` besides its timeoutMs value: not an object, or keys close() does not know. */
export function closeOptionProblems(options: unknown): ConfigProblem[] {
	if (options === undefined) return [];
	if (options === null || typeof options !== "object" || Array.isArray(options)) {
		return [{ path: "options", message: `must be an object such as { timeoutMs: 5000 }, got ${quoteValue(options)}` }];
	}
	return Object.keys(options)
		.filter((key) => !CLOSE_OPTION_KEYS.includes(key))
		.map((key) => ({ path: key, message: `unknown close() option${suggestion(key, CLOSE_OPTION_KEYS)}; known: ${CLOSE_OPTION_KEYS.join(", ")}` }));
}

/**
 * Throws CONFIG_INVALID listing every problem of `options`: unknown keys, and `timeoutProblem`
 * (what the caller found wrong with timeoutMs) when given.
 */
export function checkCloseOptions(subject: string, options: unknown, timeoutProblem?: string): void {
	const problems = closeOptionProblems(options);
	if (timeoutProblem !== undefined) problems.push({ path: "timeoutMs", message: timeoutProblem });
	if (problems.length > 0) throw new ConfigError(subject, problems);
}
