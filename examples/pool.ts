/**
 * The core pool on its own: a pool of real TCP connections to a tiny key-value server started
 * here, used with `await using`, `use()`, a timeout, an AbortSignal, and its statistics and events.
 * Run: npx node examples/pool.ts
 */
import net from "node:net";
import { createPool, ErrorCode, type LifeguardError } from "../src/index.ts";

// A line protocol server: "GET key" / "SET key value", one reply line each.
const store = new Map<string, string>();
const server = net.createServer((socket) => {
	socket.setEncoding("utf8");
	socket.on("error", () => {});
	let buffered = "";
	socket.on("data", (chunk: string) => {
		buffered += chunk;
		for (let end = buffered.indexOf("\n"); end >= 0; end = buffered.indexOf("\n")) {
			const [verb, key, value] = buffered.slice(0, end).split(" ");
			buffered = buffered.slice(end + 1);
			if (verb === "SET") store.set(key, value);
			socket.write(`${verb === "GET" ? (store.get(key) ?? "(nil)") : "OK"}\n`);
		}
	});
});
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const { port } = server.address() as net.AddressInfo;

/** One connection: sends a command, resolves with the reply line. One command at a time (that is what the pool is for). */
function connect(signal: AbortSignal): Promise<{ socket: net.Socket; send(line: string): Promise<string> }> {
	return new Promise((resolve, reject) => {
		const socket = net.connect({ port, host: "127.0.0.1", signal });
		socket.setEncoding("utf8");
		socket.once("error", reject);
		socket.once("connect", () => {
			socket.on("error", () => {});
			resolve({
				socket,
				send: (line) =>
					new Promise((done) => {
						socket.once("data", (reply: string) => done(reply.trim()));
						socket.write(`${line}\n`);
					}),
			});
		});
	});
}

const pool = createPool({
	name: "kv",
	create: connect,
	destroy: (conn) => void conn.socket.destroy(),
	validate: (conn) => !conn.socket.destroyed,
	min: 1,
	max: 3,
	acquireTimeoutMs: 2_000,
});
pool.on("connectionReady", ({ connectionId, durationMs }) => console.log(`connection ${connectionId} ready in ${durationMs.toFixed(1)} ms`));
await pool.start();

// `await using` gives the connection back when the block ends, even if it throws.
{
	await using lease = await pool.acquire();
	console.log("SET:", await lease.resource.send("SET greeting hello"));
}

// use(): acquire, run, release.
console.log("GET:", await pool.use((conn) => conn.send("GET greeting")));

// 30 callers, 3 connections: the rest wait their turn, first come first served.
const replies = await Promise.all(Array.from({ length: 30 }, (_, i) => pool.use((conn) => conn.send(`SET k${i} v${i}`))));
console.log(`30 concurrent SETs: ${replies.filter((r) => r === "OK").length} OK over ${pool.size} connections`);

// A deadline and an AbortSignal: every acquire settles, one way or the other.
const held = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
await pool.acquire({ timeoutMs: 50 }).catch((e: LifeguardError) => console.log(`timeout: ${e.code === ErrorCode.POOL_TIMEOUT} – ${e.message}`));
await pool.acquire({ signal: AbortSignal.timeout(20) }).catch((e: LifeguardError) => console.log(`aborted: ${e.code}`));
for (const lease of held) lease.release();

const s = pool.stats();
console.log(
	`acquires ${s.acquires.ok} ok / ${s.acquires.failed} failed, wait p50 ${s.waitMs.p50.toFixed(3)} ms p99 ${s.waitMs.p99.toFixed(3)} ms, reuse ${(s.reuseRatio * 100).toFixed(0)} %, health ${s.healthScore}`,
);
await pool.close();
server.close();
