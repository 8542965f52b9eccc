/**
 * `npm start`: lifeguard's main job. Until `lifeguard serve` exists, a short demonstration on
 * embedded parts only (no server to set up): a pool of real TCP connections to a line-echo
 * server started in this process, 500 requests from 50 concurrent callers through 5 connections,
 * one server-side cut mid-run that the pool recovers from, then the pool's statistics.
 */
import net from "node:net";
import { createPool, type HistogramSummary } from "./index.ts";

/** One TCP connection that sends a line and reads the echoed line back. */
class LineClient {
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
			if (end >= 0 && this.#pending) {
				const line = this.#buffer.slice(0, end);
				this.#buffer = this.#buffer.slice(end + 1);
				const { resolve } = this.#pending;
				this.#pending = undefined;
				resolve(line);
			}
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

const tracked = new Set<net.Socket>();
const server = net.createServer((socket) => {
	tracked.add(socket);
	socket.on("close", () => tracked.delete(socket));
	socket.on("error", () => {});
	socket.pipe(socket);
});
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const { port } = server.address() as net.AddressInfo;

const pool = createPool<LineClient>({
	name: "echo",
	min: 2,
	max: 5,
	create: (signal) =>
		new Promise((resolve, reject) => {
			const socket = net.connect({ port, host: "127.0.0.1", signal });
			socket.once("connect", () => resolve(new LineClient(socket)));
			socket.once("error", reject);
		}),
	destroy: (client) => void client.socket.destroy(),
	// A socket that closes while idle is reported at once instead of failing the next borrower.
	afterCreate: (client) => void client.socket.once("close", () => pool.invalidate(client)),
	validate: (client) => !client.socket.destroyed,
	classifyError: (error) => ((error as Error).message === "socket closed" ? "connection" : "caller"),
});
pool.on("connectionClosed", ({ connectionId, reason }) => {
	if (reason !== "poolClosed") console.log(`  connection ${connectionId} closed (${reason})`);
});

await pool.start();
console.log(`pool "${pool.name}" ready with ${pool.size} warm connections (min 2, max 5)`);

let failures = 0;
const t0 = performance.now();
await Promise.all(
	Array.from({ length: 50 }, async (_, caller) => {
		for (let i = 0; i < 10; i++) {
			if (caller === 0 && i === 5) {
				console.log("  cutting every server-side connection…");
				for (const socket of tracked) socket.destroy();
			}
			try {
				const reply = await pool.use((client) => client.request(`caller ${caller} request ${i}`));
				if (reply !== `caller ${caller} request ${i}`) throw new Error(`wrong reply: ${reply}`);
			} catch {
				failures++;
			}
		}
	}),
);
const elapsed = performance.now() - t0;

const s = pool.stats();
console.log(`\n500 requests in ${elapsed.toFixed(0)} ms, ${failures} failed during the cut; the pool replaced the dead connections by itself`);
console.log(
	JSON.stringify(
		{
			total: s.total,
			idle: s.idle,
			active: s.active,
			peak: s.peak,
			created: s.created,
			destroyedByReason: Object.fromEntries(Object.entries(s.destroyedByReason).filter(([, n]) => n > 0)),
			acquires: s.acquires,
			waitMs: round(s.waitMs),
			useMs: round(s.useMs),
			createMs: round(s.createMs),
			reuseRatio: Number(s.reuseRatio.toFixed(3)),
			healthScore: s.healthScore,
		},
		null,
		2,
	),
);
await pool.close();
server.close();

function round(h: HistogramSummary): Record<string, number> {
	return Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Number(v.toFixed(3))]));
}
