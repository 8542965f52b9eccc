/**
 * Pooling your own connection class: anything with connect(signal) / disconnect() / isHealthy()
 * / execute(...) becomes a pool with createConnectionPool. Here, a small TCP line-protocol client
 * talking to an echo server started in this process.
 * Run: npx node examples/custom-connection.ts
 */
import net from "node:net";
import { type CustomConnection, createConnectionPool } from "../src/core/custom.ts";

/** The server: greets with "READY", then echoes each line upper-cased. */
const accepted = new Set<net.Socket>();
const server = net.createServer((socket) => {
	accepted.add(socket);
	socket.on("close", () => accepted.delete(socket));
	socket.setEncoding("utf8");
	socket.write("READY\n");
	let buffered = "";
	socket.on("data", (chunk: string) => {
		buffered += chunk;
		for (let end = buffered.indexOf("\n"); end !== -1; end = buffered.indexOf("\n")) {
			socket.write(`${buffered.slice(0, end).toUpperCase()}\n`);
			buffered = buffered.slice(end + 1);
		}
	});
	socket.on("error", () => {});
});
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const { port } = server.address() as net.AddressInfo;

/** One connection: send a line, read one line back. */
class EchoClient implements CustomConnection {
	#socket: net.Socket | undefined;
	#buffered = "";
	#next: ((line: string) => void) | undefined;
	#failed: ((error: Error) => void) | undefined;

	/** Resolves on the server's greeting; the pool aborts `signal` at createTimeoutMs. */
	connect(signal: AbortSignal): Promise<void> {
		return new Promise((resolve, reject) => {
			const socket = net.connect(port, "127.0.0.1");
			this.#socket = socket;
			socket.setEncoding("utf8");
			signal.addEventListener("abort", () => socket.destroy(signal.reason as Error), { once: true });
			socket.on("data", (chunk: string) => this.#receive(chunk));
			// An error or close ends the pending request; isHealthy() then reports the connection dead.
			socket.on("error", (error) => this.#failed?.(error));
			socket.on("close", () => this.#failed?.(new Error("connection closed")));
			this.#next = (greeting) => (greeting === "READY" ? resolve() : reject(new Error(`unexpected greeting: ${greeting}`)));
			this.#failed = reject;
		});
	}

	execute(line: string): Promise<string> {
		return new Promise((resolve, reject) => {
			this.#next = resolve;
			this.#failed = reject;
			this.#socket?.write(`${line}\n`);
		});
	}

	isHealthy(): boolean {
		return this.#socket !== undefined && !this.#socket.destroyed;
	}

	disconnect(): void {
		this.#socket?.end();
	}

	#receive(chunk: string): void {
		this.#buffered += chunk;
		for (let end = this.#buffered.indexOf("\n"); end !== -1; end = this.#buffered.indexOf("\n")) {
			const line = this.#buffered.slice(0, end);
			this.#buffered = this.#buffered.slice(end + 1);
			const next = this.#next;
			this.#next = undefined;
			next?.(line);
		}
	}
}

const pool = createConnectionPool({
	name: "echo",
	connect: () => new EchoClient(),
	max: 3,
	createTimeoutMs: 2_000,
	// isHealthy() is a cheap local check here, so it runs on every borrow rather than after 500 ms idle.
	validateAfterIdleMs: 0,
});

// Twenty requests at once through at most three connections.
const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => pool.execute(`hello ${i}`)));
console.log(replies.slice(0, 3).join(", "), `… ${replies.length} replies`);

// A server-side cut: the next borrow finds its connection dead (isHealthy) and opens a new one.
console.log(`server cuts its ${accepted.size} connections`);
for (const socket of accepted) socket.destroy();
await new Promise((resolve) => setTimeout(resolve, 20));
console.log(await pool.execute("still working"));

const stats = pool.stats();
console.log(`created ${stats.created} connections for ${stats.acquires.ok} requests, ${stats.validationFailures} found dead on borrow`);

await pool.close();
server.close();
