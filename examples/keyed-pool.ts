/**
 * A keyed pool: one pool per origin (here three local HTTP servers), at most 2 connections per
 * origin and 3 in all. When the budget is spent, an idle connection of another origin is closed
 * to make room, and a waiting origin is served first come, first served.
 * Run: npx node examples/keyed-pool.ts
 */
import http from "node:http";
import type net from "node:net";
import { createKeyedPool } from "../src/index.ts";

const servers = await Promise.all(
	["a", "b", "c"].map(
		(name) =>
			new Promise<{ name: string; origin: string; server: http.Server }>((resolve) => {
				const server = http.createServer((_req, res) => res.end(`hello from ${name}`));
				server.listen(0, "127.0.0.1", () => resolve({ name, origin: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, server }));
			}),
	),
);

// Each pooled resource is a keep-alive agent limited to one socket: one connection to one origin.
const origins = createKeyedPool<string, http.Agent>({
	name: "origins",
	create: () => new http.Agent({ keepAlive: true, maxSockets: 1 }),
	destroy: (agent) => agent.destroy(),
	maxPerKey: 2,
	maxTotal: 3,
});
origins.on("connectionClosed", ({ key, connectionId, reason }) => console.log(`  ${key} connection ${connectionId} closed (${reason})`));

function get(origin: string): Promise<string> {
	return origins.use(
		origin,
		(agent) =>
			new Promise((resolve, reject) => {
				http
					.get(origin, { agent }, (res) => {
						let body = "";
						res.on("data", (chunk) => (body += chunk));
						res.on("end", () => resolve(body));
					})
					.on("error", reject);
			}),
	);
}

const [a, b, c] = servers;
console.log(await Promise.all([get(a.origin), get(a.origin), get(b.origin)]));
console.log(`budget in use: ${origins.size}/3`);
console.log("origin c needs a connection; the budget is spent, so an idle one goes:");
console.log(await get(c.origin));
const stats = origins.stats();
console.log(
	`per origin: ${Object.entries(stats.keys)
		.map(([key, s]) => `${key.slice(-5)} ${s.total} open/${s.acquires.ok} acquires`)
		.join(", ")}`,
);
await origins.close();
for (const s of servers) s.server.close();
