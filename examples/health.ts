/**
 * The health, readiness, metrics and admin endpoints on a plain node:http server, over a
 * manager whose second pool's backend is down: what a load balancer and a scraper see.
 * Run: npx node examples/health.ts
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { PoolManager } from "../src/manager/manager.ts";
import { createHealthHandler } from "../src/observe/health/index.ts";

let next = 0;
const manager = new PoolManager();
manager.create("orders", { create: () => ({ id: ++next }), min: 1 });
manager.create("search", {
	create: () => {
		throw new Error("connect ECONNREFUSED 127.0.0.1:9200");
	},
	acquireTimeoutMs: 50,
});

const handler = createHealthHandler(manager, {
	serviceId: "checkout",
	// The admin and metrics routes want a token; liveness and readiness stay open.
	authorize: (req) => req.headers.authorization === "Bearer example-token",
});
const server = http.createServer((req, res) => void handler(req, res));
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const auth = { headers: { authorization: "Bearer example-token" } };

console.log("before start:", (await fetch(`${base}/health/ready`)).status, await (await fetch(`${base}/health/ready`)).text());
await manager.start();
console.log("after start:", (await fetch(`${base}/health/ready`)).status);
await manager
	.get("search")
	.acquire()
	.catch((error) => console.log(`search acquire: ${error.code}`));

const connections = await fetch(`${base}/health/connections`);
const body = (await connections.json()) as { status: string; output: string };
console.log(`/health/connections ${connections.status} ${body.status}: ${body.output}`);
console.log("/metrics without a token:", (await fetch(`${base}/metrics`)).status);
const metrics = await (await fetch(`${base}/metrics`, auth)).text();
console.log(
	metrics
		.split("\n")
		.filter((line) => line.startsWith("connection_pool_size{"))
		.join("\n"),
);
const admin = (await (await fetch(`${base}/api/v1/admin/connection-pools`, auth)).json()) as { clients: { name: string; status: string }[] };
console.log("admin:", admin.clients.map((c: { name: string; status: string }) => `${c.name}=${c.status}`).join(", "));

manager.beginShutdown();
console.log("shutting down, ready:", (await fetch(`${base}/health/ready`)).status);
handler.close();
server.close();
await manager.close();
