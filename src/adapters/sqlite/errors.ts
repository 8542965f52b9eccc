/**
 * How an error from a connection's host comes back to the main thread, and which SQLite errors
 * mean the connection (not the statement) is broken. Statement errors come back as SQLite's own
 * error (message, `errcode`, `errstr`), which the SQL client wraps as QUERY_FAILED, keeping it as `cause`.
 */

import { ConnectionLostError, DriverMissingError } from "../sql/errors.ts";
import type { HostError } from "./protocol.ts";

/** SQLite's error as thrown in the host: `errcode` is the extended result code (1555 SQLITE_CONSTRAINT_PRIMARYKEY), `errstr` its name. */
export interface SqliteError extends Error {
	code?: string;
	errcode?: number;
	errstr?: string;
}

/** Rebuilds, on the main thread, the error a host reported. */
export function errorFromHost(reported: HostError): Error {
	const error: SqliteError = Object.assign(new Error(reported.message), reported);
	if (reported.code === "ERR_UNKNOWN_BUILTIN_MODULE") {
		return new DriverMissingError("node:sqlite", "sqlite", error, `it is built into Node.js; use Node.js 22.13 or later (this is ${process.version})`);
	}
	// "database is not open": only a closed connection says this.
	if (reported.code === "ERR_INVALID_STATE") return new ConnectionLostError(error);
	return error;
}
