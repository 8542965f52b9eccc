/** Which mysql2 and server errors mean the connection is dead, and which are only the statement's. */
import { ErrorCode, LifeguardError } from "../../core/errors.ts";
import { SOCKET_FAULT_CODES } from "../kit/socket-faults.ts";
import { QueryTimeoutError } from "../sql/errors.ts";
import { MysqlErrno } from "./errno.ts";

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

/** The parts of a mysql2 error the classifier reads. */
interface DriverErrorShape {
	code?: unknown;
	errno?: unknown;
	fatal?: unknown;
}

/** True when `error` means the connection it happened on is dead and must not be reused. */
export function isConnectionFault(error: unknown): boolean {
	if (error instanceof QueryTimeoutError) return error.connectionClosed;
	if (error instanceof LifeguardError) return error.code === ErrorCode.CONNECTION_LOST;
	if (error === null || typeof error !== "object") return false;
	const shape = error as DriverErrorShape;
	if (shape.fatal === true) return true;
	if (typeof shape.errno === "number" && FAULT_ERRNOS.has(shape.errno)) return true;
	return typeof shape.code === "string" && FAULT_CODES.has(shape.code);
}

/** The name this adapter exported before every adapter's classifier became `isConnectionFault`. */
export const isMysqlConnectionFault = isConnectionFault;
