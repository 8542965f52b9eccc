import { ConfigError, type ConfigProblem } from "../core/errors.ts";

/** Bad options of a shared budget or rate limit: CONFIG_INVALID listing every problem with its path. */
export function distributedConfigError(subject: string, problems: ConfigProblem[]): ConfigError {
	return new ConfigError(subject, problems);
}

/** Collects the problems of positive integer options. */
export function checkPositiveInteger(problems: ConfigProblem[], path: string, value: unknown, required: boolean, minimum = 1): void {
	if (value === undefined) {
		if (required) problems.push({ path, message: "required" });
		return;
	}
	if (typeof value !== "number" || !Number.isInteger(value) || value < minimum) {
		problems.push({ path, message: `must be an integer >= ${minimum}, got ${typeof value === "number" ? value : typeof value}` });
	}
}
