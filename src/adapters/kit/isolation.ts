/** The SQL standard's isolation levels as PostgreSQL and MySQL spell them after `ISOLATION LEVEL`. */
import { ConfigError } from "../../core/errors.ts";
import { quoteValue } from "../../core/quote-value.ts";
import type { IsolationLevel } from "../sql/types.ts";

export const ISOLATION_SQL: Readonly<Record<IsolationLevel, string>> = Object.freeze({
	"read uncommitted": "READ UNCOMMITTED",
	"read committed": "READ COMMITTED",
	"repeatable read": "REPEATABLE READ",
	serializable: "SERIALIZABLE",
});

/** The SQL words for `level`; CONFIG_INVALID (path `isolation`) for anything else. */
export function isolationSql(level: unknown): string {
	const sql = typeof level === "string" && Object.hasOwn(ISOLATION_SQL, level) ? ISOLATION_SQL[level as IsolationLevel] : undefined;
	if (sql === undefined) {
		throw new ConfigError("transaction", [{ path: "isolation", message: `must be one of ${Object.keys(ISOLATION_SQL).join(", ")}; got ${quoteValue(level)}` }]);
	}
	return sql;
}
