/**
 * A managed MongoDB client: seed 001's `getMongoClient(url)`, pool options under lifeguard's names,
 * the driver's CMAP events as pool statistics, a health check with a deadline, and the client in
 * the manager's health report.
 * Run: npx node examples/mongodb.ts
 * It starts the small wire-protocol server the tests use; set MONGODB_URL to use a real mongod.
 */
import { getMongoClient } from "../src/adapters/mongodb/index.ts";
import { PoolManager } from "../src/manager/index.ts";
import { MongoWireServer } from "../test/mongodb/server.ts";

const server = process.env.MONGODB_URL === undefined ? new MongoWireServer() : undefined;
const url = process.env.MONGODB_URL ?? (await server?.start()) ?? "";

const manager = new PoolManager();
// One client per URL: a second call returns the same client. max → maxPoolSize, min → minPoolSize,
// idleTimeoutMs → maxIdleTimeMS, acquireTimeoutMs → waitQueueTimeoutMS, maxConnecting as it is.
const mongo = await getMongoClient(url, { manager, name: "orders-mongo", max: 5, min: 1, acquireTimeoutMs: 2_000, healthTimeoutMs: 1_000 });
console.log("same client for the same URL:", mongo === (await getMongoClient(url, { manager })));

// Operations are the driver's own: lifeguard does not stand between them and its pool.
const orders = mongo.collection("orders", "shop");
await orders.insertMany(Array.from({ length: 20 }, (_, i) => ({ order: i, total: 10 + i })));
const big = await Promise.all(
	Array.from({ length: 10 }, () =>
		orders
			.find({ total: { $gte: 25 } })
			.sort({ total: -1 })
			.limit(3)
			.toArray(),
	),
);
console.log(
	"largest orders:",
	big[0].map((o) => o.total),
);

const health = await mongo.health();
console.log(`ping: ${health.latencyMs.toFixed(1)} ms`);

for (const { label, pool } of mongo.pools()) {
	const s = pool.stats();
	console.log(
		`${label}: ${s.total} connections (max ${s.max}), ${s.acquires.ok} check-outs, reuse ${(s.reuseRatio * 100).toFixed(0)}%, health ${s.healthScore}`,
	);
}
const report = manager.health();
console.log("manager:", report.status, Object.keys(report.pools));

await manager.close();
await server?.stop();
