/**
 * What a mysql2 error means for the caller and for the connection it happened on: the SQL
 * adapters' typed errors (QUERY_FAILED, QUERY_TIMEOUT, CONNECTION_LOST) with mysql2's error as
 * `cause`, and whether the connection must be thrown away.
 */
import { LifeguardError } from "../../core/errors.ts";
import { ConnectionLostError, QueryFailedError, QueryTimeoutError } from "../sql/errors.ts";
import { MysqlErrno } from "./errno.ts";
import { isConnectionFault } from "./faults.ts";

/** The parts of a mysql2 error this module reads. */
interface DriverErrorShape {
	errno?: unknown;
	sqlState?: unknown;
}

/** The server's SQLSTATE of a statement error (`23000` duplicate key, `42000` syntax…). */
export function mysqlSqlStateOf(error: unknown): string | undefined {
	const state = (error as DriverErrorShape | null)?.sqlState;
	return typeof state === "string" ? state : undefined;
}

/** True for the server's own statement-timeout errors (MariaDB max_statement_time, MySQL MAX_EXECUTION_TIME). */
export function isServerTimeout(error: unknown): boolean {
	const errno = (error as DriverErrorShape | null)?.errno;
	return errno === MysqlErrno.ER_STATEMENT_TIMEOUT || errno === MysqlErrno.ER_QUERY_TIMEOUT;
}

export function isQueryInterrupted(error: unknown): boolean {
	return (error as DriverErrorShape | null)?.errno === MysqlErrno.ER_QUERY_INTERRUPTED;
}

/** The typed error for a statement's failure: CONNECTION_LOST for connection faults, QUERY_FAILED otherwise. */
export function statementError(error: unknown): LifeguardError {
	if (error instanceof ConnectionLostError || error instanceof QueryTimeoutError || error instanceof QueryFailedError) return error;
	if (isConnectionFault(error)) return new ConnectionLostError(error);
	if (error instanceof LifeguardError) return error;
	return new QueryFailedError(error, mysqlSqlStateOf(error));
}

/** CONNECTION_LOST for a connection that died of `cause`. */
export function connectionLost(cause: unknown): ConnectionLostError {
	return cause instanceof ConnectionLostError ? cause : new ConnectionLostError(cause);
}

/** CONNECTION_LOST for a statement refused because the connection had died before it: it was never sent. */
export function alreadyLost(cause: unknown): ConnectionLostError {
	return new ConnectionLostError(cause, { sent: false });
}

/** Errors after which InnoDB has rolled the whole transaction back, not just the statement. */
const TRANSACTION_ROLLBACK_ERRNOS = new Set<number>([MysqlErrno.ER_LOCK_DEADLOCK, MysqlErrno.ER_LOCK_WAIT_TIMEOUT, MysqlErrno.ER_LOCK_TABLE_FULL]);

/**
 * The QUERY_FAILED for a statement in a transaction the server already left after `failed` (whose
 * error the transaction function caught): the statement is refused rather than run in autocommit.
 * The SQLSTATE is `failed`'s (40001 for a deadlock), so retry logic sees what happened.
 */
export function transactionEnded(failed: LifeguardError, what: "statement" | "commit"): QueryFailedError {
	const errno = (failed.cause as DriverErrorShape | undefined)?.errno;
	const ended =
		typeof errno === "number" && TRANSACTION_ROLLBACK_ERRNOS.has(errno)
			? `the server rolled the transaction back when a statement in it failed (${failed.message})`
			: `the server ended the transaction when a statement in it failed (${failed.message}; a statement that commits implicitly, such as DDL, commits what came before it)`;
	const refused =
		what === "commit"
			? "COMMIT was not sent, and the transaction did not commit as a whole"
			: "this statement was not sent, as it would have run outside any transaction and committed on its own";
	const cause = new Error(
		`${ended}, and that error was caught inside the transaction; ${refused}. Let the error end the transaction (or ROLLBACK), then retry it`,
		{
			cause: failed,
		},
	);
	return new QueryFailedError(cause, failed instanceof QueryFailedError ? failed.sqlState : undefined);
}
