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

/** The connection died during a statement (server terminated it, socket closed, protocol error). The statement may or may not have run. */
export class ConnectionLostError extends LifeguardError {
	constructor(cause: unknown) {
		super(
			ErrorCode.CONNECTION_LOST,
			`connection lost during the statement: ${messageOf(cause)}; the connection was discarded, and the statement may or may not have been applied (retry only if it is idempotent)`,
			{ cause },
		);
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

/** The adapter's driver is missing: a package that is not installed, or a built-in module this Node.js lacks. */
export class DriverMissingError extends LifeguardError {
	/**
	 * `hint` is the fix when it is not `npm install <driver>` (node:sqlite: a newer Node.js); without
	 * it the message says to install the package.
	 */
	constructor(driver: string, adapter: string, cause: unknown, hint?: string) {
		const what = hint === undefined ? `the "${driver}" package, which is not installed; run: npm install ${driver}` : `"${driver}", which is missing: ${hint}`;
		super(ErrorCode.DRIVER_MISSING, `the ${adapter} adapter needs ${what}`, { cause });
	}
}

/** Imports an optional driver, turning "module not found" into DRIVER_MISSING. */
export async function importDriver<M>(load: () => Promise<M>, driver: string, adapter: string): Promise<M> {
	try {
		return await load();
	} catch (error) {
		const code = (error as { code?: unknown } | null)?.code;
		if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") throw new DriverMissingError(driver, adapter, error);
		throw error;
	}
}

/** Ids are echoed in errors only in part: enough to match a log line, too little to reuse. */
function shorten(id: string): string {
	return typeof id === "string" && id.length > 12 ? `${id.slice(0, 8)}…` : String(id);
}
