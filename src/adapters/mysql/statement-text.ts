/**
 * The SQL text the driver sends for a statement with a per-call timeout or row limit: the
 * server enforces both when it can (MariaDB `SET STATEMENT … FOR`, MySQL optimizer hints on
 * SELECT), so the statement stops on the server, not just in the client.
 */
import type { ServerFlavor } from "./connection.ts";

export interface StatementLimits {
	/** Server-side time limit, ms. */
	timeoutMs?: number;
	/** Most rows a SELECT returns (`sql_select_limit`; a LIMIT in the statement takes precedence). */
	maxRows?: number;
}

/** The text to send, and whether the server enforces the timeout itself (otherwise the driver uses KILL QUERY). */
export interface PlannedText {
	sql: string;
	serverTimeout: boolean;
}

const SET_STATEMENT = /^\s*SET\s+STATEMENT\s/i;
const LEADING_SELECT = /^(\s*SELECT)(\s)/i;
const HINT_AFTER_SELECT = /^\s*SELECT\s*\/\*\+/i;

/** Rewrites `sql` so that the server enforces `limits`; unchanged (and serverTimeout false) when it cannot. */
export function planStatementText(sql: string, limits: StatementLimits, flavor: ServerFlavor, useServerTimeout: boolean): PlannedText {
	const timeoutMs = useServerTimeout ? limits.timeoutMs : undefined;
	if (timeoutMs === undefined && limits.maxRows === undefined) return { sql, serverTimeout: false };
	return flavor === "mariadb" ? withSetStatement(sql, timeoutMs, limits.maxRows) : withSelectHints(sql, timeoutMs, limits.maxRows);
}

/** MariaDB: `SET STATEMENT max_statement_time=…, sql_select_limit=… FOR <sql>` works for every statement. */
function withSetStatement(sql: string, timeoutMs: number | undefined, maxRows: number | undefined): PlannedText {
	const settings: string[] = [];
	// max_statement_time is in seconds with microsecond precision; 0 would mean "no limit".
	if (timeoutMs !== undefined) settings.push(`max_statement_time=${Math.max(timeoutMs, 1) / 1000}`);
	if (maxRows !== undefined) settings.push(`sql_select_limit=${maxRows}`);
	// A statement that already has SET STATEMENT gets ours prepended to its list: they cannot nest.
	const text = SET_STATEMENT.test(sql)
		? sql.replace(SET_STATEMENT, (prefix) => `${prefix}${settings.join(", ")}, `)
		: `SET STATEMENT ${settings.join(", ")} FOR ${sql}`;
	return { sql: text, serverTimeout: timeoutMs !== undefined };
}

/** MySQL: optimizer hints right after a leading SELECT; other statements are left as they are. */
function withSelectHints(sql: string, timeoutMs: number | undefined, maxRows: number | undefined): PlannedText {
	// Only the first hint comment after SELECT counts, so a statement with its own hints is left alone.
	if (!LEADING_SELECT.test(sql) || HINT_AFTER_SELECT.test(sql)) return { sql, serverTimeout: false };
	const hints: string[] = [];
	if (timeoutMs !== undefined) hints.push(`MAX_EXECUTION_TIME(${Math.max(Math.ceil(timeoutMs), 1)})`);
	if (maxRows !== undefined) hints.push(`SET_VAR(sql_select_limit=${maxRows})`);
	return { sql: sql.replace(LEADING_SELECT, `$1 /*+ ${hints.join(" ")} */$2`), serverTimeout: timeoutMs !== undefined };
}
