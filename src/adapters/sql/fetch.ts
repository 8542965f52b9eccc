/**
 * A statement's call options, read and checked here once for every dialect (unknown keys, fetch
 * mode, row limit, timeout, signal), and the driver's result shaped by the fetch mode.
 */
import { durationProblem } from "../../core/duration.ts";
import { ConfigError, type ConfigProblem } from "../../core/errors.ts";
import { quoteValue } from "../../core/quote-value.ts";
import type { DriverResult, FetchMode, QueryOptions, StatementResult } from "./types.ts";

const FETCH_MODES: ReadonlySet<string> = new Set<FetchMode>(["all", "one", "many", "none", "result"]);

/** Every key of {@link QueryOptions}: an object, so that `satisfies` fails the build when the type gains one not listed here. */
const QUERY_KEYS = { fetch: true, limit: true, timeoutMs: true, route: true, signal: true } as const satisfies Record<keyof QueryOptions, true>;
const QUERY_OPTION_KEYS: ReadonlySet<string> = new Set(Object.keys(QUERY_KEYS));
/** What `batch` takes. */
const BATCH_OPTION_KEYS: ReadonlySet<string> = new Set(["timeoutMs", "signal"]);

/**
 * Refuses what a statement call cannot honour, before anything runs: options that are not an
 * object, unknown keys (a misspelt `fetchMode` would silently fetch every row), a timeout that is
 * not a usable duration (0, negative, NaN, a string, past 2^31-1 ms) and a signal that is not one.
 */
export function checkCallOptions(what: string, options: unknown, known: ReadonlySet<string> = QUERY_OPTION_KEYS): void {
	if (options === undefined) return;
	const problems: ConfigProblem[] = [];
	if (options === null || typeof options !== "object") {
		problems.push({ path: "options", message: `must be an object (${[...known].join(", ")}) or undefined` });
	} else {
		const o = options as Record<string, unknown>;
		for (const key in o) {
			if (!known.has(key)) problems.push({ path: key, message: `unknown option; known: ${[...known].join(", ")}` });
		}
		if (o.timeoutMs !== undefined) {
			const problem = durationProblem(o.timeoutMs);
			if (problem !== undefined) problems.push({ path: "timeoutMs", message: problem });
		}
		if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) problems.push({ path: "signal", message: "must be an AbortSignal" });
	}
	if (problems.length > 0) throw new ConfigError(what, problems);
}

/** Checks one statement call: its text, its parameters (an array), its options (see {@link checkCallOptions}). */
export function checkCall(what: string, sql: unknown, params: unknown, options: unknown, known: ReadonlySet<string> = QUERY_OPTION_KEYS): void {
	if (typeof sql !== "string") checkStatementText(sql);
	if (params !== undefined && !Array.isArray(params)) {
		throw new ConfigError(what, [
			{ path: "params", message: `must be an array of parameter values (or undefined), got ${params === null ? "null" : typeof params}` },
		]);
	}
	if (options !== undefined) checkCallOptions(what, options, known);
}

/** The most malformed parameter sets one error lists: a batch of 100,000 flat values must not build a 100,000-line message. */
const MAX_SET_PROBLEMS = 5;

/**
 * Checks a batch call: as {@link checkCall}, and `paramSets` must be an array of arrays. A flat
 * list (`[1, 2]` for `[[1], [2]]`) would otherwise reach the driver, which either fails with an
 * internal TypeError as if the statement had failed, or (mysql2) runs the statement once per
 * value with the value spread as its parameters.
 */
export function checkBatchCall(sql: unknown, paramSets: unknown, options: unknown): void {
	checkCall("batch", sql, undefined, options, BATCH_OPTION_KEYS);
	if (!Array.isArray(paramSets)) {
		throw new ConfigError("batch", [
			{ path: "paramSets", message: `must be an array of parameter arrays, got ${paramSets === null ? "null" : typeof paramSets}` },
		]);
	}
	const problems: ConfigProblem[] = [];
	for (let i = 0; i < paramSets.length && problems.length < MAX_SET_PROBLEMS; i++) {
		const set: unknown = paramSets[i];
		if (Array.isArray(set)) continue;
		// The value itself is not quoted: parameters carry user data (a password hash, a token) that has no place in an error.
		problems.push({ path: `paramSets[${i}]`, message: `must be an array of parameter values, got ${set === null ? "null" : typeof set}` });
	}
	if (problems.length > 0) throw new ConfigError("batch", problems);
}

/** Refuses pg-style `query({ text, values })` and any other non-string statement with a message saying what to call instead. */
function checkStatementText(sql: unknown): void {
	const pgStyle = sql !== null && typeof sql === "object" && "text" in sql;
	throw new ConfigError("query", [
		{
			path: "sql",
			message: pgStyle
				? "takes the statement text as a string: call query(text, values, options) instead of pg's query({ text, values })"
				: `must be the statement text (a string), got ${sql === null ? "null" : typeof sql}`,
		},
	]);
}

export function fetchModeOf(options: QueryOptions | undefined): FetchMode {
	const fetch = options?.fetch;
	if (fetch === undefined) return "all";
	if (!FETCH_MODES.has(fetch)) {
		throw new ConfigError("query", [
			{ path: "fetch", message: `must be one of ${[...FETCH_MODES].map((m) => JSON.stringify(m)).join(", ")}; got ${quoteValue(fetch)}` },
		]);
	}
	return fetch;
}

/** Rows the driver may read: `limit` for `many` (required), 1 for `one`, 0 (no limit) otherwise. A `limit` with any other mode is refused: it would be ignored, and every row read. */
export function rowLimitOf(mode: FetchMode, options: QueryOptions | undefined): number {
	const limit = options?.limit;
	if (mode !== "many" && limit !== undefined) {
		throw new ConfigError("query", [
			{
				path: "limit",
				message: `applies to fetch "many" only (the fetch here is ${JSON.stringify(mode)}, which would ignore it): add fetch: "many", or drop limit`,
			},
		]);
	}
	if (mode === "one") return 1;
	if (mode !== "many") return 0;
	if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1) {
		throw new ConfigError("query", [
			{ path: "limit", message: `fetch "many" needs limit, a whole number >= 1 (the most rows read), got ${quoteValue(limit)}` },
		]);
	}
	return limit;
}

export function shapeResult(result: DriverResult, mode: FetchMode): unknown {
	if (mode === "none") return result.affectedRows;
	if (mode === "one") return result.rows[0];
	if (mode === "result") return { rows: result.rows, affectedRows: result.affectedRows, insertId: result.insertId } satisfies StatementResult;
	return result.rows;
}
