/** Which SQLite errors mean the connection (its host, its file) is broken, and which are only the statement's. */
import { isSocketFaultCode } from "../kit/socket-faults.ts";
import { ConnectionLostError, QueryTimeoutError } from "../sql/errors.ts";
import type { SqliteError } from "./errors.ts";

/** SQLite primary result codes that mean the connection, not the statement, is broken. */
const CONNECTION_FAULT_CODES = new Set([
	10, // SQLITE_IOERR: the file went away or the disk failed under this connection
	11, // SQLITE_CORRUPT
	14, // SQLITE_CANTOPEN
	26, // SQLITE_NOTADB
]);

/** True when the error means the connection must be replaced; false for the caller's errors (syntax, constraint, busy, a bad parameter). */
export function isConnectionFault(error: unknown): boolean {
	if (error instanceof ConnectionLostError) return true;
	if (error instanceof QueryTimeoutError) return error.connectionClosed;
	// A host whose pipe broke is gone, whatever reported it.
	if (isSocketFaultCode((error as { code?: unknown } | null)?.code)) return true;
	const errcode = (error as SqliteError | null)?.errcode;
	return typeof errcode === "number" && CONNECTION_FAULT_CODES.has(errcode & 0xff);
}
