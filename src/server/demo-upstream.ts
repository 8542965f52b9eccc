/**
 * The embedded default's demo upstream: a line-echo TCP server in this process and a pool of
 * real connections to it, so that a fresh `npm start` has a second live pool (with connections
 * being created, reused and closed) next to the SQLite one.
 */
import net from "node:net";
import { createPool, type Pool } from "../core/pool.ts";
import type { ManagedClient } from "../manager/client.ts";

/** One TCP connection that sends a line and reads the echoed line back. */
class LineConnection {
	readonly socket: net.Socket;
	#buffer = "";
	#pending: { resolve: (line: string) => void; reject: (error: Error) => void } | undefined;

	constructor(socket: net.Socket) {
		this.socket = socket;
		socket.setEncoding("utf8");
		socket.on("error", () => {});
		socket.on("close", () => {
			const pending = this.#pending;
			this.#pending = undefined;
			pending?.reject(new Error("socket closed"));
		});
		socket.on("data", (chunk: string) => {
			this.#buffer += chunk;
			const end = this.#buffer.indexOf("\n");
			if (end < 0 || this.#pending === undefined) return;
			const line = this.#buffer.slice(0, end);
			this.#buffer = this.#buffer.slice(end + 1);
			const { resolve } = this.#pending;
			this.#pending = undefined;
			resolve(line);
		});
	}

	request(line: string): Promise<string> {
		return new Promise((resolve, reject) => {
			if (this.socket.destroyed) return reject(new Error("socket closed"));
			this.#pending = { resolve, reject };
			this.socket.write(`${line}\n`);
		});
	}
}

export interface DemoUpstream {
	readonly client: ManagedClient;
	/** One round trip through the pool. */
	ping(text: string): Promise<string>;
	close(): Promise<void>;
}

export async function startDemoUpstream(name: string): Promise<DemoUpstream> {
	const sockets = new Set<net.Socket>();
	const server = net.createServer((socket) => {
		sockets.add(socket);
		socket.on("close", () => sockets.delete(socket));
		socket.on("error", () => {});
		socket.pipe(socket);
	});
	await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
	server.unref();
	const { port } = server.address() as net.AddressInfo;
	const pool: Pool<LineConnection> = createPool<LineConnection>({
		name,
		min: 1,
		max: 4,
		idleTimeoutMs: 15_000,
		create: (signal) =>
			new Promise((resolve, reject) => {
				const socket = net.connect({ port, host: "127.0.0.1", signal });
				socket.once("connect", () => resolve(new LineConnection(socket)));
				socket.once("error", reject);
			}),
		destroy: (conn) => void conn.socket.destroy(),
		afterCreate: (conn) => void conn.socket.once("close", () => pool.invalidate(conn)),
		validate: (conn) => !conn.socket.destroyed,
		classifyError: (error) => ((error as Error).message === "socket closed" ? "connection" : "caller"),
	});
	const close = async (options?: { timeoutMs?: number }) => {
		await pool.close(options);
		for (const socket of sockets) socket.destroy();
		await new Promise<void>((resolve) => server.close(() => resolve()));
	};
	const client: ManagedClient = {
		name,
		kind: "pool",
		pools: () => [{ label: name, pool }],
		details: () => ({ upstream: `tcp://127.0.0.1:${port}`, what: "a line-echo server inside this process" }),
		start: () => pool.start(),
		close,
		[Symbol.asyncDispose]: () => close(),
	};
	return { client, ping: (text) => pool.use((conn) => conn.request(text)), close };
}
