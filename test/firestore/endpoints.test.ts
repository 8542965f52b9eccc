/** Both document stores beside a core pool in one manager: the same metric names and health checks as every other pool. */
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { createFirestoreClient } from "../../src/adapters/firestore/index.ts";
import { createMongoClient, type ManagedMongoClient } from "../../src/adapters/mongodb/index.ts";
import { PoolManager } from "../../src/manager/index.ts";
import { createHealthHandler, type HealthJson } from "../../src/observe/health/index.ts";
import { MetricName } from "../../src/observe/metrics/index.ts";
import { MongoWireServer } from "../mongodb/server.ts";
import { parsePrometheusText, sampleOf } from "../observe/prom-text.ts";
import { Emulator, PROJECT_ID } from "./emulator.ts";

describe("document stores under the manager, /metrics and /health/connections", () => {
	const emulator = new Emulator();
	const mongo = new MongoWireServer();
	const manager = new PoolManager();
	const handler = createHealthHandler(manager);
	const server = http.createServer((req, res) => void handler(req, res));
	let base = "";
	let mongoPool = "";
	let mongoClient: ManagedMongoClient | undefined;

	before(async () => {
		await emulator.start();
		const url = await mongo.start();
		manager.create("orders", { create: () => ({}), min: 1 });
		manager.add(await createFirestoreClient({ name: "docs-firestore", settings: { projectId: PROJECT_ID }, min: 2, healthCheckIntervalMs: 0 }));
		mongoClient = manager.add(await createMongoClient({ url, name: "docs-mongo", min: 1, healthCheckIntervalMs: 0 }));
		const client = mongoClient;
		mongoPool = `docs-mongo/127.0.0.1:${mongo.port}`;
		await manager.start();
		await client.collection("ep", "mongodb_lg").insertOne({ a: 1 });
		await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
		base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
	});

	after(async () => {
		handler.close();
		server.closeAllConnections();
		await new Promise((resolve) => server.close(resolve));
		await manager.close({ timeoutMs: 1_000 });
		await mongo.stop();
		emulator.stop();
	});

	it("exports each store's pools under the metric names and labels of every other pool", async () => {
		const res = await fetch(`${base}/metrics`);
		assert.equal(res.status, 200);
		const families = parsePrometheusText(await res.text());
		const pools = { orders: "pool", "docs-firestore/channels": "firestore", [mongoPool]: "mongodb" };
		for (const [pool, kind] of Object.entries(pools)) {
			assert.ok(sampleOf(families, MetricName.size, { pool, kind, state: "total" }) >= 1, `${pool} total`);
			for (const name of [MetricName.activeConnections, MetricName.pendingRequests, MetricName.utilization, MetricName.healthScore]) {
				assert.ok(Number.isFinite(sampleOf(families, name, { pool, kind })), `${name} for ${pool}`);
			}
		}
		assert.equal(sampleOf(families, MetricName.size, { pool: "docs-firestore/channels", kind: "firestore", state: "total" }), 2);
		assert.equal(sampleOf(families, MetricName.healthScore, { pool: mongoPool, kind: "mongodb" }), 100);
	});

	it("lists a check per store pool in /health/connections, passing while they are healthy", async () => {
		const res = await fetch(`${base}/health/connections`);
		assert.equal(res.status, 200);
		const body = (await res.json()) as HealthJson;
		assert.equal(body.status, "pass");
		for (const id of ["orders", "docs-firestore/channels", mongoPool]) {
			assert.equal(body.checks[`${id}:connections`]?.[0]?.status, "pass", id);
		}
	});

	it("fails the MongoDB check once its pings keep missing their deadline, and its health score metric shows why", async () => {
		mongo.delay("ping", 1_000);
		try {
			for (let i = 0; i < 3; i++) await mongoClient?.health({ timeoutMs: 50 }).catch(() => {});
		} finally {
			mongo.delay("ping", 0);
		}
		const body = (await (await fetch(`${base}/health/connections`)).json()) as HealthJson;
		assert.equal(body.checks[`${mongoPool}:connections`]?.[0]?.status, "fail");
		assert.equal(body.checks["docs-firestore/channels:connections"]?.[0]?.status, "pass");
		const families = parsePrometheusText(await (await fetch(`${base}/metrics`)).text());
		assert.ok(sampleOf(families, MetricName.healthScore, { pool: mongoPool, kind: "mongodb" }) < 50);
	});
});
