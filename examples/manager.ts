/**
 * Several named pools in one PoolManager: look them up by name, watch their events in one
 * place, read one health report, and close them all on shutdown (SIGTERM / SIGINT too).
 * The backends are two TCP servers started here; one of them goes down halfway.
 * Run: npx node examples/manager.ts
 */
import net from "node:net";
import { PoolManager } from "../src/manager/manager.ts";

/** A TCP server standing in for a database; `stop()` takes it down. */
async function startBackend(): Promise<{ port: number; stop: () => void }> {
	const sockets = new Set<net.Socket>();
	const server = net.createServer((socket) => {
		sockets.add(socket);
		socket.on("close", () => sockets.delete(socket));
	});
	await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
	const stop = () => {
		server.close();
		for (const socket of sockets) socket.destroy();
	};
	return { port: (server.address() as net.AddressInfo).port, stop };
}

/** Pool options for plain TCP connections to `port`. */
function tcpConnections(port: number) {
	return {
		create: (signal: AbortSignal) =>
			new Promise<net.Socket>((resolve, reject) => {
				const socket = net.connect({ port, host: "127.0.0.1", signal });
				socket.once("connect", () => {
					// An idle connection's error must never crash the process: drop the socket, validate() sees it.
					socket.off("error", reject).on("error", () => socket.destroy());
					resolve(socket);
				});
				socket.once("error", reject);
			}),
		destroy: (socket: net.Socket) => {
			socket.destroy();
		},
		validate: (socket: net.Socket) => !socket.destroyed,
	};
}

const ordersDb = await startBackend();
const reportsDb = await startBackend();

// closeOnSignals: on SIGTERM or SIGINT, close every pool (leases get 5 s), then exit as the signal would.
const manager = new PoolManager({ closeOnSignals: { timeoutMs: 5_000 } });
manager.on("poolAdded", ({ pool }) => console.log(`+ pool ${pool}`));
// Pool events arrive on the manager with the pool's name; pools build them only while someone listens.
manager.on("connectionReady", ({ pool, connectionId, durationMs }) => console.log(`  ${pool}: connection ${connectionId} open in ${durationMs.toFixed(1)} ms`));

manager.create("orders", { ...tcpConnections(ordersDb.port), min: 2, max: 5 });
manager.create("reports", { ...tcpConnections(reportsDb.port), max: 2, acquireTimeoutMs: 300 });
await manager.start();

const orders = manager.get<net.Socket>("orders");
await orders.use((socket) => console.log(`orders: borrowed a connection to port ${socket.remotePort}`));

try {
	manager.get("users");
} catch (err) {
	console.log(`${(err as { code: string }).code}: ${(err as Error).message}`);
}

// The reports backend goes down: its pool turns unhealthy, and the report says why.
reportsDb.stop();
await manager
	.get("reports")
	.acquire()
	.catch((err: Error) => console.log(`reports: ${err.message}`));
const health = manager.health();
console.log(`overall: ${health.status}`);
for (const [name, pool] of Object.entries(health.pools)) {
	console.log(`  ${name}: ${pool.status} (score ${pool.score})${pool.reasons.length > 0 ? `: ${pool.reasons.join("; ")}` : ""}`);
}

const stats = manager.stats();
console.log(`orders: ${stats.orders.total} open, ${stats.orders.acquires.ok} acquires; reports: ${stats.reports.createFailures} failed creates`);

await manager.close({ timeoutMs: 1_000 });
console.log(`closed: ${manager.list().join(", ")}`);
ordersDb.stop();
