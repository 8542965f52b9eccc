/**
 * Real local servers for the HTTP tests, on port 0: node:http, node:https and node:http2 with
 * a certificate the tests make. Each tracks its sockets (how many were opened, how many are
 * open) and `close()` destroys them, so no test leaves a connection behind.
 */
import http from "node:http";
import http2 from "node:http2";
import https from "node:https";
import type { Socket } from "node:net";
import { selfSignedCert } from "./cert.ts";

export interface TestServer<S> {
	server: S;
	origin: string;
	/** Sockets accepted so far. */
	accepted(): number;
	/** Sockets open now. */
	open(): number;
	close(): Promise<void>;
}

function track<S extends http.Server | https.Server | http2.Http2SecureServer>(server: S, scheme: string, host = "127.0.0.1"): Promise<TestServer<S>> {
	const sockets = new Set<Socket>();
	let accepted = 0;
	server.on(scheme === "https" ? "secureConnection" : "connection", (socket: Socket) => {
		accepted++;
		sockets.add(socket);
		socket.once("close", () => sockets.delete(socket));
	});
	return new Promise((resolve) => {
		server.listen(0, "127.0.0.1", () => {
			const { port } = server.address() as { port: number };
			resolve({
				server,
				origin: `${scheme}://${host}:${port}`,
				accepted: () => accepted,
				open: () => sockets.size,
				close: () =>
					new Promise<void>((done) => {
						for (const s of sockets) s.destroy();
						server.close(() => done());
					}),
			});
		});
	});
}

export function startHttp(handler: http.RequestListener, options: http.ServerOptions = {}): Promise<TestServer<http.Server>> {
	return track(http.createServer(options, handler), "http");
}

export function startHttps(handler: http.RequestListener, options: https.ServerOptions = {}): Promise<TestServer<https.Server>> {
	const { key, cert } = selfSignedCert();
	return track(https.createServer({ key, cert, ...options }, handler), "https", "localhost");
}

export function startHttp2(
	onStream: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, session: http2.ServerHttp2Session) => void,
	options: Partial<http2.SecureServerOptions> = {},
): Promise<TestServer<http2.Http2SecureServer> & { sessions(): number }> {
	const { key, cert } = selfSignedCert();
	const server = http2.createSecureServer({ key, cert, ...options });
	let sessions = 0;
	const open = new Set<http2.ServerHttp2Session>();
	server.on("session", (s) => {
		sessions++;
		open.add(s);
		s.once("close", () => open.delete(s));
	});
	server.on("stream", (stream, headers) => {
		// Streams refused on GOAWAY or reset by the client error on the server side; the tests look at the client.
		stream.on("error", () => {});
		onStream(stream, headers, stream.session as http2.ServerHttp2Session);
	});
	return track(server, "https", "localhost").then((t) => ({
		...t,
		sessions: () => sessions,
		close: async () => {
			for (const s of open) s.destroy();
			await t.close();
		},
	}));
}

export const tlsOptions = () => ({ ca: selfSignedCert().cert });
