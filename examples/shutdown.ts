/**
 * A graceful shutdown in one call: an HTTP server whose requests hold a pooled connection,
 * requests in flight when the shutdown starts, readiness failing first, every request answered,
 * then the pools closed. The example calls shutdown() itself (a SIGTERM does the same) and
 * asks it not to exit, so it can print the outcome.
 * Run: npx node examples/shutdown.ts
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { PoolManager } from "../src/manager/manager.ts";
import { installShutdown } from "../src/manager/shutdown.ts";
import { createHealthHandler } from "../src/observe/health/index.ts";

let next = 0;
const manager = new PoolManager();
const db = manager.create("db", { create: () => ({ id: ++next }), max: 4, min: 1 });
await manager.start();
const health = createHealthHandler(manager);
const server = http.createServer(async (req, res) => {
	if (req.url?.startsWith("/health")) return health(req, res);
	// Each request holds a connection for 200 ms, like a transaction.
	await db.use(() => sleep(200));
	res.end("done");
});
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

const handle = installShutdown(manager, {
	servers: [server],
	drainDelayMs: 100,
	timeoutMs: 5_000,
	exit: false,
	onStep: (step, { elapsedMs }) => console.log(`shutdown step ${step} after ${elapsedMs} ms`),
});

const inFlight = Array.from({ length: 6 }, (_, i) => fetch(`${base}/work?i=${i}`).then((r) => r.text()));
await sleep(50);
const done = handle.shutdown("SIGTERM");
console.log("ready while draining:", (await fetch(`${base}/health/ready`)).status);
await done;
console.log("answers:", (await Promise.all(inFlight)).join(", "));
console.log("pools closed:", db.closed);
