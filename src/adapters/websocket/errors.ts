/**
 * The WebSocket adapter's typed errors. Each reuses the core's stable codes, so callers that
 * match on `err.code` treat a full send queue like a full wait queue and a connection that
 * stopped reconnecting like any lost connection; the class says which case it is.
 */
import { ErrorCode, LifeguardError } from "../../core/errors.ts";

/** Why a connection stopped reconnecting by itself (`reconnect()` starts it again). */
export const StopReason = {
	/** The server answered the handshake with a status no retry fixes (401, 403, 404…). */
	refused: "refused",
	/** The server closed with a policy code (1008). */
	policy: "policy",
	/** `shouldReconnect(close)` said no. */
	declined: "declined",
	/** `maxRetries` failed attempts in a row. */
	retriesExhausted: "retriesExhausted",
} as const;
export type StopReason = (typeof StopReason)[keyof typeof StopReason];

/** Sends would pass `maxQueuedMessages` or `maxQueuedBytes` (queued while down, or unread by a slow server): refused, never buffered without bound. */
export class WebSocketQueueFullError extends LifeguardError {
	readonly queuedMessages: number;
	readonly queuedBytes: number;
	constructor(label: string, queuedMessages: number, queuedBytes: number, state: string) {
		super(
			ErrorCode.POOL_QUEUE_FULL,
			`websocket "${label}": send refused, ${queuedMessages} messages (${queuedBytes} bytes) already wait to be written while the connection is ${state} (maxQueuedMessages / maxQueuedBytes); slow down, or raise the bounds`,
		);
		this.queuedMessages = queuedMessages;
		this.queuedBytes = queuedBytes;
	}
}

/** The connection stopped reconnecting; its queued sends and waiting receivers fail with this. */
export class WebSocketStoppedError extends LifeguardError {
	readonly reason: StopReason;
	readonly closeCode: number | undefined;
	readonly handshakeStatus: number | undefined;
	constructor(label: string, reason: StopReason, closeCode: number | undefined, handshakeStatus: number | undefined, detail: string) {
		super(ErrorCode.CONNECTION_LOST, `websocket "${label}" stopped reconnecting (${reason}): ${detail}; call reconnect() to try again`);
		this.reason = reason;
		this.closeCode = closeCode;
		this.handshakeStatus = handshakeStatus;
	}
}

/** The connection (or its manager) was closed by its owner. */
export class WebSocketClosedError extends LifeguardError {
	constructor(label: string) {
		super(ErrorCode.POOL_CLOSED, `websocket "${label}" is closed: it takes no new work`);
	}
}

/** A new connection would pass the manager's `maxConnections`. */
export class WebSocketLimitError extends LifeguardError {
	readonly maxConnections: number;
	constructor(manager: string, maxConnections: number) {
		super(
			ErrorCode.POOL_QUEUE_FULL,
			`websocket manager "${manager}": already holds ${maxConnections} connections (maxConnections); disconnect one or raise maxConnections`,
		);
		this.maxConnections = maxConnections;
	}
}

/** No connection under that key. */
export class WebSocketNotFoundError extends LifeguardError {
	constructor(manager: string, label: string) {
		super(ErrorCode.POOL_NOT_FOUND, `websocket manager "${manager}": no connection "${label}"; connect() it first`);
	}
}

/** `opened()` / `connect()` waited past its deadline; the connection goes on trying in the background. */
export class WebSocketOpenTimeoutError extends LifeguardError {
	constructor(label: string, timeoutMs: number, lastError: string | undefined) {
		super(
			ErrorCode.CREATE_TIMEOUT,
			`websocket "${label}": not open after ${timeoutMs} ms${lastError === undefined ? "" : ` (last failure: ${lastError})`}; it keeps reconnecting in the background`,
		);
	}
}

/** `receive()` got no message within its `timeoutMs`. */
/**
 * receive() could not keep some messages: its buffer was full while messages() iterators read
 * on, and it dropped them rather than stop the socket under them. Thrown by the receive() that
 * reaches the gap, after the messages kept before it and before those kept after it.
 */
export class WebSocketReceiveOverflowError extends LifeguardError {
	readonly dropped: number;
	constructor(label: string, dropped: number, highWaterMark: number) {
		super(
			ErrorCode.POOL_QUEUE_FULL,
			`websocket "${label}": receive() missed ${dropped} message${dropped === 1 ? "" : "s"}: its buffer held receiveHighWaterMark (${highWaterMark}) unread while messages() iterators were reading, so these were not kept for it; the next receive() returns the message kept after them`,
		);
		this.dropped = dropped;
	}
}

export class WebSocketReceiveTimeoutError extends LifeguardError {
	constructor(label: string, timeoutMs: number) {
		super(ErrorCode.QUERY_TIMEOUT, `websocket "${label}": no message within ${timeoutMs} ms`);
	}
}

/** `ws` is an optional peer dependency and is not installed. */
export class WebSocketDriverMissingError extends LifeguardError {
	constructor(adapter: string, cause: unknown) {
		super(ErrorCode.DRIVER_MISSING, `lifeguard/${adapter} needs the "ws" package (>= 8): run \`npm install ws\``, { cause });
	}
}

/** The socket closed before a send was written; the message may not have reached the server. */
export class WebSocketSendFailedError extends LifeguardError {
	constructor(label: string, cause: unknown) {
		super(ErrorCode.CONNECTION_LOST, `websocket "${label}": the connection closed before the message was written; it may not have reached the server`, {
			cause,
		});
	}
}
