/**
 * What a mysql2 error means for the caller and for the connection it happened on: the SQL
 * adapters' typed errors (QUERY_FAILED, QUERY_TIMEOUT, CONNECTION_LOST) with mysql2's error as
 * `cause`, and whether the connection must be thrown away.
 */
import { ErrorCode, LifeguardError } from "../../core/errors.ts";
import { SOCKET_FAULT_CODES } from "../socket-faults.ts";
import { ConnectionLostError, QueryFailedError, QueryTimeoutError } from "../sql/errors.ts";

/** Server error numbers the adapter acts on. */
export const MysqlErrno = {
	/** InnoDB chose this transaction as a deadlock's victim and rolled it back whole. */
	ER_LOCK_DEADLOCK: 1213,
	/** A row lock wait timed out; with innodb_rollback_on_timeout the whole transaction is rolled back. */
	ER_LOCK_WAIT_TIMEOUT: 1205,
	/** The lock table is full; InnoDB rolls the transaction back. */
	ER_LOCK_TABLE_FULL: 1206,
	/** `KILL QUERY` stopped the statement (our timeout or row limit, or someone else's kill). */
	ER_QUERY_INTERRUPTED: 1317,
	/** MariaDB: `max_statement_time` exceeded. */
	ER_STATEMENT_TIMEOUT: 1969,
	/** MySQL: `MAX_EXECUTION_TIME` exceeded. */
	ER_QUERY_TIMEOUT: 3024,
	ER_SERVER_SHUTDOWN: 1053,
	ER_ABORTING_CONNECTION: 1152,
	ER_NET_PACKET_TOO_LARGE: 1153,
	ER_NET_READ_ERROR_FROM_PIPE: 1154,
	ER_NET_FCNTL_ERROR: 1155,
	ER_NET_PACKETS_OUT_OF_ORDER: 1156,
	ER_NET_UNCOMPRESS_ERROR: 1157,
	ER_NET_READ_ERROR: 1158,
	ER_NET_READ_INTERRUPTED: 1159,
	ER_NET_ERROR_ON_WRITE: 1160,
	ER_NET_WRITE_INTERRUPTED: 1161,
	ER_NEW_ABORTING_CONNECTION: 1184,
	/** MariaDB: the connection was killed (`KILL`), sent just before the server closes it. */
	ER_CONNECTION_KILLED: 1927,
	/** MySQL 8.0.24+: closed for inactivity (wait_timeout). */
	ER_CLIENT_INTERACTION_TIMEOUT: 4031,
} as const;

const FAULT_ERRNOS = new Set<number>([
	MysqlErrno.ER_SERVER_SHUTDOWN,
	MysqlErrno.ER_ABORTING_CONNECTION,
	MysqlErrno.ER_NET_PACKET_TOO_LARGE,
	MysqlErrno.ER_NET_READ_ERROR_FROM_PIPE,
	MysqlErrno.ER_NET_FCNTL_ERROR,
	MysqlErrno.ER_NET_PACKETS_OUT_OF_ORDER,
	MysqlErrno.ER_NET_UNCOMPRESS_ERROR,
	MysqlErrno.ER_NET_READ_ERROR,
	MysqlErrno.ER_NET_READ_INTERRUPTED,
	MysqlErrno.ER_NET_ERROR_ON_WRITE,
	MysqlErrno.ER_NET_WRITE_INTERRUPTED,
	MysqlErrno.ER_NEW_ABORTING_CONNECTION,
	MysqlErrno.ER_CONNECTION_KILLED,
	MysqlErrno.ER_CLIENT_INTERACTION_TIMEOUT,
]);

/** mysql2's protocol codes and the socket codes that mean the connection is gone. */
const FAULT_CODES = new Set([
	"PROTOCOL_CONNECTION_LOST",
	"PROTOCOL_SEQUENCE_TIMEOUT",
	"PROTOCOL_PACKETS_OUT_OF_ORDER",
	"PROTOCOL_UNEXPECTED_PACKET",
	"PROTOCOL_ERROR",
	...SOCKET_FAULT_CODES,
]);

/** The parts of a mysql2 error this adapter reads. */
interface DriverErrorShape {
	code?: unknown;
	errno?: unknown;
	sqlState?: unknown;
	fatal?: unknown;
}

/** True when `error` means the connection it happened on is dead and must not be reused. */
export function isMysqlConnectionFault(error: unknown): boolean {
	if (error instanceof QueryTimeoutError) return error.connectionClosed;
	if (error instanceof LifeguardError) return error.code === ErrorCode.CONNECTION_LOST;
	if (error === null || typeof error !== "object") return false;
	const shape = error as DriverErrorShape;
	if (shape.fatal === true) return true;
	if (typeof shape.errno === "number" && FAULT_ERRNOS.has(shape.errno)) return true;
	return typeof shape.code === "string" && FAULT_CODES.has(shape.code);
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
	if (isMysqlConnectionFault(error)) return new ConnectionLostError(error);
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
