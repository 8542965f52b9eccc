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

/**
 * The first problems of a Redis-backed part's options (a shared budget, rate limit, shard map):
 * `options` must be an object (else thrown at once: nothing else can be read), the part's
 * identifying option (`idPath`: its name or resource) a non-empty string, and `redis` a URL or
 * an ioredis client. The caller adds its own problems and throws when the list is not empty.
 */
export function redisPartProblems(part: string, options: unknown, idPath: string): ConfigProblem[] {
	if (options === null || typeof options !== "object") throw distributedConfigError(part, [{ path: "options", message: "expected an object" }]);
	const o = options as Record<string, unknown>;
	const problems: ConfigProblem[] = [];
	if (typeof o[idPath] !== "string" || o[idPath] === "") problems.push({ path: idPath, message: "required: a non-empty string" });
	if (typeof o.redis !== "string" && (o.redis === null || typeof o.redis !== "object"))
		problems.push({ path: "redis", message: "required: a Redis URL or an ioredis client" });
	return problems;
}
