/** What a query returns, by fetch mode: the options are read and the driver's result shaped here, once for every dialect. */
import { ConfigError } from "../../core/errors.ts";
import type { DriverResult, FetchMode, QueryOptions, StatementResult } from "./types.ts";

const FETCH_MODES: ReadonlySet<string> = new Set<FetchMode>(["all", "one", "many", "none", "result"]);

export function fetchModeOf(options: QueryOptions | undefined): FetchMode {
	const fetch = options?.fetch;
	if (fetch === undefined) return "all";
	if (!FETCH_MODES.has(fetch)) {
		throw new ConfigError("query", [
			{ path: "fetch", message: `must be one of ${[...FETCH_MODES].map((m) => JSON.stringify(m)).join(", ")}; got ${JSON.stringify(fetch)}` },
		]);
	}
	return fetch;
}

/** Rows the driver may read: `limit` for `many` (required), 1 for `one`, 0 (no limit) otherwise. */
export function rowLimitOf(mode: FetchMode, options: QueryOptions | undefined): number {
	if (mode === "one") return 1;
	if (mode !== "many") return 0;
	const limit = options?.limit;
	if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1) {
		throw new ConfigError("query", [
			{ path: "limit", message: `fetch "many" needs limit, a whole number >= 1 (the most rows read), got ${JSON.stringify(limit)}` },
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
