/**
 * The HTTP client's typed errors. undici's own errors (headers and body timeouts, a closed
 * socket) pass through unchanged, so code written for undici and fetch keeps working; these are
 * what only lifeguard knows: the queue is full, a connection was retired, the driver is missing.
 */
import { ErrorCode, LifeguardError } from "../../core/errors.ts";

/** The client's state when a request was refused, so "queue full" says why. */
export interface HttpClientState {
	/** Connections open or opening over all origins, and the global cap. */
	connections: number;
	maxConnections: number;
	/** Callers waiting for a connection over all origins, and the cap. */
	waiters: number;
	maxWaiters: number;
	/** The origin the refused request was for, with its own counts. */
	origin: string;
	originConnections: number;
	originBusy: number;
	maxConnectionsPerOrigin: number;
}

/** Every connection is busy and `maxWaiters` callers already wait: refused at once. */
export class HttpQueueFullError extends LifeguardError {
	readonly state: HttpClientState;
	constructor(client: string, state: HttpClientState) {
		super(
			ErrorCode.POOL_QUEUE_FULL,
			`http client "${client}": the wait queue is full (maxWaiters ${state.maxWaiters}, ${state.waiters} requests waiting), refused at once; connections ${state.connections}/${state.maxConnections}, ${state.origin}: ${state.originConnections}/${state.maxConnectionsPerOrigin} open, ${state.originBusy} busy. Shed load or raise maxWaiters / maxConnections`,
		);
		this.state = state;
	}
}

/**
 * The connection a request was queued on closed before the request was written (the server sent
 * GOAWAY, or closed an idle keep-alive connection). The request never reached the server.
 */
export class ConnectionRetiredError extends LifeguardError {
	constructor(origin: string) {
		super(ErrorCode.CONNECTION_LOST, `connection to ${origin} closed before the request was sent; it never reached the server`);
	}
}

/** `undici` is an optional peer dependency and is not installed. */
export class HttpDriverMissingError extends LifeguardError {
	constructor(cause: unknown) {
		super(ErrorCode.DRIVER_MISSING, 'lifeguard/http needs the "undici" package (>= 7): run `npm install undici`', { cause });
	}
}
