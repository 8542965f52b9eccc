/**
 * Which PostgreSQL errors mean the connection is dead, and which are only the statement's. The
 * answer is what the server did to the session, not the SQLSTATE's class: a protocol violation
 * (08P01) sent with severity ERROR (a wrong number of parameters, more than 65,535 of them) fails
 * the statement and leaves the session usable, while any FATAL or PANIC ends it.
 */
import { isSocketFaultCode } from "../kit/socket-faults.ts";

/** SQLSTATEs after which the server has ended the session, whatever the severity it reported (class 08 is matched by prefix, unless the severity is ERROR). */
const FATAL_SQLSTATES = new Set([
	"57P01", // admin_shutdown: pg_terminate_backend, server stop
	"57P02", // crash_shutdown
	"57P03", // cannot_connect_now
	"57P05", // idle_session_timeout
	"25P03", // idle_in_transaction_session_timeout
]);

/** pg reports a closed socket with plain Errors; these are its messages (stable across pg 8). */
const PG_DEAD_MESSAGES = [
	"Connection terminated",
	"Client has encountered a connection error",
	"Client was closed and is not queryable",
	"Received unexpected",
];

/** True when the error means the connection cannot be used again. */
export function isConnectionFault(error: unknown): boolean {
	if (error === null || typeof error !== "object") return false;
	const e = error as { code?: unknown; severity?: unknown; message?: unknown };
	// The server ends the session after every FATAL or PANIC error, whatever its SQLSTATE.
	if (e.severity === "FATAL" || e.severity === "PANIC") return true;
	if (typeof e.code === "string") {
		if (isSocketFaultCode(e.code) || FATAL_SQLSTATES.has(e.code)) return true;
		// An ERROR is the statement's: the server answers it, then waits for the next one on the same session.
		if (e.code.length === 5 && e.code.startsWith("08") && e.severity !== "ERROR") return true;
	}
	if (typeof e.message === "string") {
		for (const m of PG_DEAD_MESSAGES) if (e.message.startsWith(m)) return true;
	}
	return false;
}

/** A server error's SQLSTATE (`23505`), or undefined for other errors. */
export function sqlStateOf(error: unknown): string | undefined {
	const code = (error as { code?: unknown } | null)?.code;
	return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) && "severity" in (error as object) ? code : undefined;
}

/** query_canceled: what a cancel request (our statement timeout) makes the server answer. */
export const QUERY_CANCELED = "57014";

/** in_failed_sql_transaction: a transaction a failed statement aborted, which COMMIT can only roll back. */
export const IN_FAILED_SQL_TRANSACTION = "25P02";
