/**
 * A real line-protocol server on 127.0.0.1 and a client class that implements CustomConnection,
 * for the custom-connection tests. The server greets with "HELLO", then answers one line per
 * request: "PING" → "PONG", "ECHO x" → "x", "SLOW ms x" → "x" after ms, "FAIL" → "ERR failed",
 * "DROP" → closes the socket without answering.
 */
import net from "node:net";
import type { CustomConnection } from "../../src/core/custom.ts";

export class LineServer {
	readonly #server: net.Server;
	readonly sockets = new Set<net.Socket>();
	port = 0;
	accepted = 0;
	peakOpen = 0;
	/** Accept connections but never greet them (a server that hangs during the handshake). */
	silent = false;

	private constructor() {
		this.#server = net.createServer((socket) => this.#accept(socket));
	}

	static async start(): Promise<LineServer> {
		const server = new LineServer();
		await new Promise<void>((resolve) => server.#server.listen(0, "127.0.0.1", resolve));
		server.port = (server.#server.address() as net.AddressInfo).port;
		return server;
	}

	/** Closes every client connection from the server side (as a server restart would). */
	dropAll(): void {
		for (const socket of this.sockets) socket.destroy();
	}

	/** Resolves once the server holds no client connection. */
	async drained(timeoutMs = 2_000): Promise<void> {
		const until = performance.now() + timeoutMs;
		while (this.sockets.size > 0) {
			if (performance.now() > until) throw new Error(`${this.sockets.size} client connections still open after ${timeoutMs} ms`);
			await new Promise((resolve) => setTimeout(resolve, 5));
		}
	}

	async stop(): Promise<void> {
		this.dropAll();
		await new Promise<void>((resolve) => this.#server.close(() => resolve()));
	}

	#accept(socket: net.Socket): void {
		this.accepted++;
		this.sockets.add(socket);
		this.peakOpen = Math.max(this.peakOpen, this.sockets.size);
		socket.on("close", () => this.sockets.delete(socket));
		socket.on("error", () => {});
		if (this.silent) return;
		socket.write("HELLO\n");
		let buffered = "";
		socket.setEncoding("utf8");
		socket.on("data", (chunk: string) => {
			buffered += chunk;
			let end = buffered.indexOf("\n");
			while (end !== -1) {
				this.#answer(socket, buffered.slice(0, end));
				buffered = buffered.slice(end + 1);
				end = buffered.indexOf("\n");
			}
		});
	}

	#answer(socket: net.Socket, line: string): void {
		const [command, ...rest] = line.split(" ");
		if (command === "PING") socket.write("PONG\n");
		else if (command === "ECHO") socket.write(`${rest.join(" ")}\n`);
		else if (command === "SLOW") setTimeout(() => socket.writable && socket.write(`${rest.slice(1).join(" ")}\n`), Number(rest[0]));
		else if (command === "FAIL") socket.write("ERR failed\n");
		else if (command === "DROP") socket.destroy();
		else socket.write(`ERR unknown command ${command}\n`);
	}
}

/** The server answered "ERR ...": the request failed, the connection is fine. */
export class CommandError extends Error {}

/** One TCP connection to a LineServer; one request at a time (the pool lends it to one borrower). */
export class LineClient implements CustomConnection {
	readonly #port: number;
	#socket: net.Socket | undefined;
	#buffered = "";
	#waiting: { resolve: (line: string) => void; reject: (error: Error) => void } | undefined;
	#closed = false;
	disconnects = 0;

	constructor(port: number) {
		this.#port = port;
	}

	connect(signal: AbortSignal): Promise<void> {
		return new Promise<void>((resolve, reject) => {
			const socket = net.connect(this.#port, "127.0.0.1");
			this.#socket = socket;
			socket.setEncoding("utf8");
			const onAbort = () => {
				socket.destroy();
				reject(signal.reason);
			};
			signal.addEventListener("abort", onAbort, { once: true });
			this.#waiting = {
				resolve: (greeting) => {
					signal.removeEventListener("abort", onAbort);
					if (greeting === "HELLO") resolve();
					else reject(new Error(`unexpected greeting ${greeting}`));
				},
				reject: (error) => {
					signal.removeEventListener("abort", onAbort);
					reject(error);
				},
			};
			socket.on("data", (chunk: string) => this.#receive(chunk));
			socket.on("error", (error) => this.#fail(error));
			socket.on("close", () => this.#fail(new Error("connection closed by the server")));
		});
	}

	execute(line: string): Promise<string> {
		const socket = this.#socket;
		if (this.#closed || socket === undefined) return Promise.reject(new Error("connection is closed"));
		return new Promise<string>((resolve, reject) => {
			this.#waiting = {
				resolve: (reply) => (reply.startsWith("ERR ") ? reject(new CommandError(reply.slice(4))) : resolve(reply)),
				reject,
			};
			socket.write(`${line}\n`);
		});
	}

	isHealthy(): boolean {
		return !this.#closed && this.#socket !== undefined && !this.#socket.destroyed;
	}

	async disconnect(): Promise<void> {
		this.disconnects++;
		const socket = this.#socket;
		if (socket === undefined || socket.destroyed) return;
		await new Promise<void>((resolve) => {
			socket.once("close", () => resolve());
			socket.end();
		});
	}

	#receive(chunk: string): void {
		this.#buffered += chunk;
		let end = this.#buffered.indexOf("\n");
		while (end !== -1) {
			const line = this.#buffered.slice(0, end);
			this.#buffered = this.#buffered.slice(end + 1);
			const waiting = this.#waiting;
			this.#waiting = undefined;
			waiting?.resolve(line);
			end = this.#buffered.indexOf("\n");
		}
	}

	#fail(error: Error): void {
		this.#closed = true;
		const waiting = this.#waiting;
		this.#waiting = undefined;
		waiting?.reject(error);
	}
}
