/**
 * One pooled HTTP connection: a socket lifeguard opens itself (so the pool times the connect,
 * enforces the connect timeout and knows the negotiated protocol before the first request) and
 * an undici `Client` that speaks HTTP/1.1 or HTTP/2 over exactly that socket. The Client is never
 * allowed to open another one: when the socket closes, the pooled connection is dead and the
 * pool replaces it, so every socket is counted, timed and capped by the pool.
 */
import type { Socket } from "node:net";
import type { buildConnector, Client } from "undici";
import { ConnectionRetiredError } from "./errors.ts";
import type { ResolvedHttpOptions } from "./options.ts";
import type { UndiciModule } from "./undici-module.ts";

export type HttpProtocol = "http/1.1" | "h2";

/** Why a socket closed on its own (not by the pool): counted per origin. */
export const SocketCloseReason = {
	/** Idle past the keep-alive timeout (the server's hint minus the margin, or the default). */
	keepAliveExpired: "keepAliveExpired",
	/** The server ended it (FIN, `Connection: close`, max requests reached). */
	serverClosed: "serverClosed",
	/** HTTP/2 GOAWAY. */
	goaway: "goaway",
	/** A socket error (ECONNRESET, timeout…). */
	error: "error",
} as const;
export type SocketCloseReason = (typeof SocketCloseReason)[keyof typeof SocketCloseReason];

export class HttpConnection {
	readonly origin: string;
	readonly client: Client;
	readonly socket: Socket;
	readonly protocol: HttpProtocol;
	/** Requests sent on it so far (a reused connection has sent at least one). */
	requests = 0;
	/** HTTP/2 streams running now. */
	streams = 0;
	closed = false;
	/** Set when the pool closes it, so its own close is not counted as the socket's. */
	closing = false;
	#adopted = false;

	constructor(origin: string, client: Client, socket: Socket, protocol: HttpProtocol) {
		this.origin = origin;
		this.client = client;
		this.socket = socket;
		this.protocol = protocol;
	}

	/** Before the first request the socket idles under lifeguard's timer; from then on undici's keep-alive logic owns it. */
	adopt(): void {
		if (this.#adopted) return;
		this.#adopted = true;
		this.socket.setTimeout(0);
	}
}

export type Connector = ReturnType<typeof buildConnector>;

/** The undici connector for a client: TLS options, connect timeout and ALPN (h2 offered when allowed). */
export function makeConnector(undici: UndiciModule, o: ResolvedHttpOptions): Connector {
	return undici.buildConnector({ ...o.tls, timeout: o.connectTimeoutMs, allowH2: o.allowH2 } as buildConnector.BuildOptions);
}

/**
 * Opens a connection to `origin`. `onClose` runs once when its socket closes on its own (the
 * pool is told the connection is dead), with the reason.
 */
export function openConnection(
	undici: UndiciModule,
	connector: Connector,
	origin: URL,
	o: ResolvedHttpOptions,
	signal: AbortSignal,
	onClose: (conn: HttpConnection, reason: SocketCloseReason, error: Error | undefined) => void,
): Promise<HttpConnection> {
	return new Promise((resolve, reject) => {
		let settled = false;
		const onAbort = () => {
			settled = true;
			reject(signal.reason);
		};
		signal.addEventListener("abort", onAbort, { once: true });
		const hostname = origin.hostname.startsWith("[") ? origin.hostname.slice(1, -1) : origin.hostname;
		connector(
			{ hostname, host: origin.host, protocol: origin.protocol, port: origin.port, servername: o.tls.servername, localAddress: null, httpSocket: undefined },
			(error, socket) => {
				signal.removeEventListener("abort", onAbort);
				if (settled) {
					// The pool gave up on this connect (timeout, close): the late socket is not wanted.
					socket?.destroy();
					return;
				}
				settled = true;
				if (error !== null || socket === null) {
					reject(error);
					return;
				}
				resolve(wrap(undici, origin.origin, socket as Socket, o, onClose));
			},
		);
	});
}

function wrap(
	undici: UndiciModule,
	origin: string,
	socket: Socket,
	o: ResolvedHttpOptions,
	onClose: (conn: HttpConnection, reason: SocketCloseReason, error: Error | undefined) => void,
): HttpConnection {
	const protocol: HttpProtocol = (socket as Socket & { alpnProtocol?: string }).alpnProtocol === "h2" ? "h2" : "http/1.1";
	let handedOver = false;
	const client = new undici.Client(origin, {
		// One socket per pooled connection: when it is gone, the requests undici would re-send go back to lifeguard.
		connect: (_options, callback) => {
			// undici's connect loop ignores a callback made before the connector returns: answer on the next microtask.
			const error = handedOver ? new ConnectionRetiredError(origin) : null;
			handedOver = true;
			queueMicrotask(() => (error === null ? callback(null, socket) : callback(error, null)));
		},
		allowH2: protocol === "h2",
		pipelining: protocol === "h2" ? o.maxConcurrentStreams : 1,
		maxConcurrentStreams: o.maxConcurrentStreams,
		keepAliveTimeout: o.keepAliveTimeoutMs,
		keepAliveMaxTimeout: o.keepAliveMaxTimeoutMs,
		keepAliveTimeoutThreshold: o.keepAliveMarginMs,
		headersTimeout: o.headersTimeoutMs,
		bodyTimeout: o.bodyTimeoutMs,
		...(o.maxRequestsPerConnection > 0 ? { maxRequestsPerClient: o.maxRequestsPerConnection } : {}),
	});
	const conn = new HttpConnection(origin, client, socket, protocol);
	let lastError: Error | undefined;
	let ended = false;
	let goaway = false;
	socket.on("error", (error) => {
		lastError = error;
	});
	socket.once("end", () => {
		ended = true;
	});
	if (protocol === "h2") {
		client.once("disconnect", (_origin, _targets, error: Error) => {
			if (/GOAWAY/.test(error?.message ?? "")) goaway = true;
		});
	}
	// A connection opened ahead of use (prewarm, a burst that went elsewhere) idles under this timer until its first request.
	socket.setTimeout(o.keepAliveTimeoutMs, () => socket.destroy());
	socket.once("close", () => {
		conn.closed = true;
		if (conn.closing) return;
		const info = (lastError as { code?: string } | undefined)?.code === "UND_ERR_INFO";
		const reason: SocketCloseReason = goaway
			? SocketCloseReason.goaway
			: info && lastError?.message === "socket idle timeout"
				? SocketCloseReason.keepAliveExpired
				: ended || info
					? SocketCloseReason.serverClosed
					: lastError === undefined
						? SocketCloseReason.keepAliveExpired
						: SocketCloseReason.error;
		// After undici's own close handling (its listener runs after this one): destroying the Client before would wait for a 'close' that has passed.
		queueMicrotask(() => onClose(conn, reason, info ? undefined : lastError));
	});
	return conn;
}
