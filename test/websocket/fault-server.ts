/**
 * A real `ws` server on 127.0.0.1 that the WebSocket tests break on purpose: it echoes, records
 * what each client sent, can stop answering pings, refuse handshakes with an HTTP status, close
 * with a code, and restart on the same port (every client cut, then back after a pause).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { type WebSocket, WebSocketServer } from "ws";

export interface FaultServerOptions {
	/** Answer pings (ws does it by itself). Default true. */
	autoPong?: boolean;
	/** Refuse every handshake with this HTTP status. */
	refuseWith?: number;
	/** What the server does with a text message; default: echo it. */
	onMessage?: (socket: WebSocket, text: string) => void;
}

export class FaultServer {
	readonly options: FaultServerOptions;
	#http: http.Server;
	#wss: WebSocketServer;
	port = 0;
	/** Handshakes received (refused ones included). */
	handshakes = 0;
	/** Time (performance.now()) of each successful handshake. */
	readonly openTimes: number[] = [];
	/** Every text message received, in order. */
	readonly received: string[] = [];
	readonly sockets = new Set<WebSocket>();

	constructor(options: FaultServerOptions = {}) {
		this.options = options;
		this.#http = http.createServer();
		this.#wss = this.#makeWss();
		this.#attach();
	}

	static async start(options: FaultServerOptions = {}): Promise<FaultServer> {
		const server = new FaultServer(options);
		await server.#listen(0);
		return server;
	}

	get url(): string {
		return `ws://127.0.0.1:${this.port}/feed`;
	}

	/** Sends `text` to every open client. */
	broadcast(text: string): void {
		for (const socket of this.sockets) socket.send(text);
	}

	/** Stops answering pings from now on (sockets opened later too). */
	stopPongs(): void {
		this.options.autoPong = false;
		for (const socket of this.sockets) (socket as unknown as { _autoPong: boolean })._autoPong = false;
	}

	/** Cuts every client's socket (no close frame) and keeps listening. */
	dropAll(): void {
		for (const socket of this.sockets) socket.terminate();
	}

	/** Cuts every client (no close frame: a crash) and stops listening; `start()` listens on the same port again. */
	async stop(): Promise<void> {
		for (const socket of this.sockets) socket.terminate();
		this.sockets.clear();
		this.#http.closeAllConnections();
		await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
		await new Promise<void>((resolve) => this.#http.close(() => resolve()));
	}

	/** Listens again on the same port (a restart). */
	async restart(): Promise<void> {
		this.#http = http.createServer();
		this.#wss = this.#makeWss();
		this.#attach();
		await this.#listen(this.port);
	}

	async close(): Promise<void> {
		if (this.#http.listening) await this.stop();
	}

	[Symbol.asyncDispose](): Promise<void> {
		return this.close();
	}

	#makeWss(): WebSocketServer {
		return new WebSocketServer({ noServer: true, autoPong: this.options.autoPong ?? true });
	}

	#attach(): void {
		this.#http.on("upgrade", (req, socket, head) => {
			this.handshakes++;
			socket.on("error", () => {});
			if (this.options.refuseWith !== undefined) {
				socket.end(`HTTP/1.1 ${this.options.refuseWith} Refused\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
				return;
			}
			this.#wss.handleUpgrade(req, socket, head, (ws) => {
				this.openTimes.push(performance.now());
				this.sockets.add(ws);
				if (this.options.autoPong === false) (ws as unknown as { _autoPong: boolean })._autoPong = false;
				ws.on("close", () => this.sockets.delete(ws));
				ws.on("error", () => {});
				ws.on("message", (data, isBinary) => {
					if (isBinary) return void ws.send(data, { binary: true });
					const text = data.toString();
					this.received.push(text);
					if (this.options.onMessage !== undefined) this.options.onMessage(ws, text);
					else ws.send(text);
				});
			});
		});
	}

	#listen(port: number): Promise<void> {
		return new Promise<void>((resolve, reject) => {
			this.#http.once("error", reject);
			this.#http.listen({ port, host: "127.0.0.1", backlog: 2048 }, () => {
				this.port = (this.#http.address() as AddressInfo).port;
				resolve();
			});
		});
	}
}
