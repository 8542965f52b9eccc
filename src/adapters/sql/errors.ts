/**
 * Errors every SQL adapter throws. The driver's own error is always kept as `cause`, so nothing
 * the driver knew is lost; `code` is lifeguard's stable code, `sqlState` the server's.
 */
import { ErrorCode, LifeguardError, messageOf } from "../../core/errors.ts";

export interface QueryTimeoutOptions {
	/** The driver's error, when it reported the timeout (the server's "query cancelled"). */
	cause?: unknown;
	/** The connection was closed: to stop the statement, or because the stop got no answer. */
	connectionClosed?: boolean;
	/** Why the connection was closed, for the message: each backend knows (an unanswered cancel, a killed host process). */
	reason?: string;
}

/** A statement ran past its timeout; it was cancelled on the server, or its connection was closed (`connectionClosed`, with the reason in the message). */
export class QueryTimeoutError extends LifeguardError {
	readonly timeoutMs: number;
	/** True when the connection was closed: the statement could not be cancelled in place, or the cancel did not take effect in time. */
	readonly connectionClosed: boolean;
	constructor(timeoutMs: number, options?: QueryTimeoutOptions) {
		const closed = options?.connectionClosed === true;
		const what = closed
			? `statement timed out after ${timeoutMs} ms and its connection was closed${options?.reason === undefined ? "" : ` (${options.reason})`}`
			: `statement cancelled after its timeout of ${timeoutMs} ms`;
		super(
			ErrorCode.QUERY_TIMEOUT,
			`${what}; raise timeoutMs or make the statement faster`,
			options?.cause === undefined ? undefined : { cause: options.cause },
		);
		this.timeoutMs = timeoutMs;
		this.connectionClosed = closed;
	}
}

/**
 * The connection died (server terminated it, socket closed, protocol error). `sent` false: it was
 * already dead when the statement came, which therefore never reached the server (safe to retry);
 * otherwise the statement may or may not have run.
 */
export class ConnectionLostError extends LifeguardError {
	/** False when the statement was never sent: the connection had died before it. */
	readonly sent: boolean;
	constructor(cause: unknown, options?: { sent?: boolean }) {
		const sent = options?.sent !== false;
		// The error that killed the connection, not the statement's report of it.
		const root = !sent && cause instanceof ConnectionLostError ? cause.cause : cause;
		const what = sent
			? `connection lost during the statement: ${messageOf(cause)}; the connection was discarded, and the statement may or may not have been applied (retry only if it is idempotent)`
			: `the connection was already lost (${messageOf(root)}), so the statement was not sent; the connection was discarded (a retry on a new connection is safe)`;
		super(ErrorCode.CONNECTION_LOST, what, { cause: root });
		this.sent = sent;
	}
}

/** The server rejected the statement (syntax, constraint, permission…). The connection is fine and was reused. */
export class QueryFailedError extends LifeguardError {
	/** The server's SQLSTATE (`23505`, `42601`…), when the driver reports one. */
	readonly sqlState: string | undefined;
	constructor(cause: unknown, sqlState: string | undefined) {
		super(ErrorCode.QUERY_FAILED, `query failed: ${messageOf(cause)}${sqlState === undefined ? "" : ` (SQLSTATE ${sqlState})`}`, { cause });
		this.sqlState = sqlState;
	}
}

/** invalid_transaction_state: the SQLSTATE of lifeguard's own transaction refusals. */
export const INVALID_TRANSACTION_STATE = "25000";

/**
 * A statement on a transaction handle that would end or replace the transaction (refused before it
 * is sent), or one after which the server reported the session outside the transaction (an implicit
 * commit: MySQL DDL, LOCK TABLES). QUERY_FAILED: the connection is fine.
 */
export class TransactionStateError extends QueryFailedError {
	constructor(message: string) {
		super(new Error(message), INVALID_TRANSACTION_STATE);
	}
}

/** A transaction that ran past its `timeoutMs`: its running statement was cancelled and it was rolled back. */
export class TransactionTimeoutError extends LifeguardError {
	readonly timeoutMs: number;
	/** `waiting`: the deadline passed before the transaction had a connection, so nothing of it ran; `cause` is the wait's own error. */
	constructor(timeoutMs: number, options: { waiting?: boolean; cause?: unknown } = {}) {
		super(
			ErrorCode.QUERY_TIMEOUT,
			options.waiting === true
				? `transaction timed out after ${timeoutMs} ms (its timeoutMs) while waiting for a connection: nothing of it ran; raise timeoutMs, or pool.max if connections are all busy`
				: `transaction timed out after ${timeoutMs} ms (its timeoutMs): its running statement was cancelled and it was rolled back; raise timeoutMs or do less inside the transaction`,
			{ cause: options.cause },
		);
		this.timeoutMs = timeoutMs;
	}
}

/** A transaction whose connection `close()` closed (its timeout passed) while it ran: the server rolled it back. */
export class TransactionClosedError extends LifeguardError {
	constructor(client: string, cause: unknown) {
		super(
			ErrorCode.POOL_CLOSED,
			`client "${client}" was closed while the transaction ran (close()'s timeoutMs passed): its connection was closed, and the server rolled the transaction back`,
			{ cause },
		);
	}
}

/** A connection id that is not (or no longer) leased: never issued, already released, or reclaimed after `leaseTimeoutMs`. */
export class ConnectionIdUnknownError extends LifeguardError {
	readonly connectionId: string;
	constructor(connectionId: string, reason: "unknown" | "reclaimed", leaseTimeoutMs: number) {
		const why =
			reason === "reclaimed"
				? `it was reclaimed because it was not released within leaseTimeoutMs (${leaseTimeoutMs} ms); release ids promptly or raise leaseTimeoutMs`
				: "it was never issued by this client or was already released; call acquireId() for a new one";
		super(ErrorCode.CONNECTION_ID_UNKNOWN, `connection id ${JSON.stringify(shorten(connectionId))} is not leased: ${why}`);
		this.connectionId = connectionId;
	}
}

/** The optional-driver loader lives in the adapter kit; the SQL adapters' users import these from here. */
export { DriverMissingError, importDriver } from "../kit/optional-driver.ts";

/** Ids are echoed in errors only in part: enough to match a log line, too little to reuse. */
function shorten(id: string): string {
	return typeof id === "string" && id.length > 12 ? `${id.slice(0, 8)}…` : String(id);
}
