import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { MongoClient } from "mongodb";
import { createMongoClient, getMongoClient, type ManagedMongoClient, MongoErrorCode } from "../../src/adapters/mongodb/index.ts";
import { ErrorCode } from "../../src/core/errors.ts";
import { PoolManager } from "../../src/manager/index.ts";
import { COMMAND_NOT_FOUND, MongoWireServer } from "./server.ts";

const DB = "mongodb_lg";

async function until(check: () => boolean, timeoutMs = 3_000): Promise<void> {
	const end = Date.now() + timeoutMs;
	while (!check()) {
		if (Date.now() > end) throw new Error("condition not met in time");
		await new Promise((resolve) => setTimeout(resolve, 20));
	}
}

const quick = { serverSelectionTimeoutMS: 2_000, heartbeatFrequencyMS: 500 };

describe("lifeguard/mongodb against the wire-protocol test server", () => {
	const server = new MongoWireServer();
	let url = "";
	before(async () => {
		url = await server.start();
	});
	after(() => server.stop());

	describe("the test server", () => {
		it("answers a command it does not implement with CommandNotFound naming it", async () => {
			await using client = await createMongoClient({ url, healthCheckIntervalMs: 0, driverOptions: quick });
			await assert.rejects(client.db(DB).command({ renameCollection: "a" }), (error: Error & { code?: number }) => {
				assert.equal(error.code, COMMAND_NOT_FOUND.code);
				assert.match(error.message, /renameCollection/);
				return true;
			});
		});
	});

	describe("pool options", () => {
		it("maps lifeguard's names onto the driver's pool options", async () => {
			await using client = await createMongoClient({
				url,
				max: 7,
				min: 1,
				idleTimeoutMs: 1_234,
				acquireTimeoutMs: 567,
				maxConnecting: 3,
				healthCheckIntervalMs: 0,
			});
			const o = client.driver.options;
			assert.deepEqual([o.maxPoolSize, o.minPoolSize, o.maxIdleTimeMS, o.waitQueueTimeoutMS, o.maxConnecting], [7, 1, 1_234, 567, 3]);
		});

		it("lists every bad option at once, without quoting the URL", async () => {
			await assert.rejects(
				createMongoClient({ url: "postgres://app:s3cret@db/x", max: 0, min: -1, idleTimeoutMs: Number.NaN, driverOptions: { maxPoolSize: 5 } }),
				(error: Error & { code?: string; problems?: { path: string }[] }) => {
					assert.equal(error.code, ErrorCode.CONFIG_INVALID);
					assert.deepEqual(error.problems?.map((p) => p.path).sort(), ["driverOptions.maxPoolSize", "idleTimeoutMs", "max", "min", "url"]);
					assert.doesNotMatch(error.message, /s3cret/);
					return true;
				},
			);
		});
	});

	describe("CMAP events as pool statistics", () => {
		it("counts check-outs, connections and waits, never more connections than max", async () => {
			await using client = await createMongoClient({ url, max: 3, healthCheckIntervalMs: 0, driverOptions: quick });
			await client.start();
			const docs = client.collection("stats", DB);
			await docs.insertMany(Array.from({ length: 10 }, (_, i) => ({ i })));
			server.delay("find", 5);
			await Promise.all(Array.from({ length: 30 }, () => docs.find({ i: { $lt: 5 } }).toArray()));
			server.delay("find", 0);
			const [pool] = client.pools();
			assert.equal(pool.label, `127.0.0.1:${server.port}`);
			const s = pool.pool.stats();
			assert.ok(s.created >= 1 && s.created <= 3, `created ${s.created}`);
			assert.ok(s.peak.active <= 3 && s.peak.active >= 2, `peak active ${s.peak.active}`);
			assert.ok(s.peak.pending >= 1, "30 finds on 3 connections queue");
			assert.ok(s.acquires.ok >= 31, `check-outs ${s.acquires.ok}`);
			assert.equal(s.active, 0);
			assert.equal(s.total, s.idle);
			assert.ok(s.reuseRatio > 0.8, `reuse ${s.reuseRatio}`);
			assert.ok(s.waitMs.count >= 31 && s.createMs.count === s.created && s.useMs.count >= 31);
			assert.equal(s.max, 3);
		});

		it("keeps min connections open and closes idle ones above it after idleTimeoutMs (reason idle)", async () => {
			await using client = await createMongoClient({ url, min: 1, max: 4, idleTimeoutMs: 150, healthCheckIntervalMs: 0, driverOptions: quick });
			await client.start();
			const docs = client.collection("idle", DB);
			server.delay("find", 20);
			await Promise.all(Array.from({ length: 4 }, () => docs.findOne({})));
			server.delay("find", 0);
			const pool = client.pools()[0].pool;
			assert.ok(pool.stats().total >= 2);
			await until(() => pool.stats().destroyedByReason.idle >= 1 && pool.stats().total === 1);
			assert.equal(pool.stats().min, 1);
		});

		it("sees connections die when the server drops them: closes by reason error, a new generation, and the next operation works", async () => {
			await using client = await createMongoClient({ url, max: 2, healthCheckIntervalMs: 0, driverOptions: quick });
			await client.start();
			const docs = client.collection("drop", DB);
			await docs.insertOne({ k: "before" });
			const pool = client.pools()[0].pool;
			const generation = pool.stats().generation;
			server.dropConnections();
			const after = await docs.findOne({ k: "before" });
			assert.equal(after?.k, "before");
			await until(() => pool.stats().destroyedByReason.error + pool.stats().destroyedByReason.stale >= 1);
			assert.ok(pool.stats().generation > generation, "the driver cleared the pool");
		});

		it("clear() asks the driver for a new generation: connections checked in after it are closed as stale", async () => {
			await using client = await createMongoClient({ url, min: 2, max: 2, healthCheckIntervalMs: 0, driverOptions: quick });
			await client.start();
			const pool = client.pools()[0].pool;
			await until(() => pool.stats().total === 2);
			pool.clear();
			await client.collection("clear", DB).findOne({});
			await until(() => pool.stats().generation === 1 && pool.stats().destroyedByReason.stale >= 1);
		});

		it("reports a check-out that waited past acquireTimeoutMs as an acquire timeout", async () => {
			await using client = await createMongoClient({ url, max: 1, acquireTimeoutMs: 50, healthCheckIntervalMs: 0, driverOptions: quick });
			await client.start();
			const docs = client.collection("wait", DB);
			server.delay("find", 400);
			const results = await Promise.allSettled([docs.findOne({}), docs.findOne({})]);
			server.delay("find", 0);
			assert.equal(results.filter((r) => r.status === "rejected").length, 1);
			assert.equal(client.pools()[0].pool.stats().acquires.timeouts, 1);
		});
	});

	describe("health", () => {
		it("pings and reports the round trip", async () => {
			await using client = await createMongoClient({ url, healthCheckIntervalMs: 0, driverOptions: quick });
			const health = await client.health();
			assert.equal(health.ok, true);
			assert.ok(health.latencyMs >= 0);
			assert.equal(client.stats().healthChecks.ok, 1);
		});

		it("fails a ping that misses its deadline with MONGO_HEALTH_TIMEOUT, by the deadline, and lowers the health score", async () => {
			await using client = await createMongoClient({ url, healthTimeoutMs: 100, healthCheckIntervalMs: 0, driverOptions: quick });
			await client.start();
			server.delay("ping", 1_000);
			try {
				for (let i = 0; i < 3; i++) {
					const started = performance.now();
					await assert.rejects(client.health(), (error: Error & { code?: string }) => error.code === MongoErrorCode.MONGO_HEALTH_TIMEOUT);
					assert.ok(performance.now() - started < 600, "settled near its deadline");
				}
			} finally {
				server.delay("ping", 0);
			}
			assert.ok(client.pools()[0].pool.stats().healthScore < 50);
			assert.equal(client.stats().healthChecks.failed, 3);
		});
	});

	describe("a server that is down", () => {
		it("fails health by its deadline and names the client without the URL's password", async () => {
			await using client = await createMongoClient({
				url: "mongodb://app:hunter2-s3cret@127.0.0.1:1/db",
				healthTimeoutMs: 400,
				healthCheckIntervalMs: 0,
				driverOptions: { serverSelectionTimeoutMS: 200 },
			});
			assert.equal(client.name, "mongodb 127.0.0.1:1");
			const started = performance.now();
			await assert.rejects(client.health(), (error: Error & { code?: string }) => {
				assert.ok([MongoErrorCode.MONGO_HEALTH_FAILED, MongoErrorCode.MONGO_HEALTH_TIMEOUT].includes(error.code as never), error.code);
				assert.doesNotMatch(error.message, /hunter2/);
				return true;
			});
			assert.ok(performance.now() - started < 1_000, "settled by its deadline");
			assert.equal(client.stats().healthChecks.failed, 1);
			assert.doesNotMatch(JSON.stringify(client.details()), /hunter2/);
		});
	});

	describe("through lifeguard and alone", () => {
		it("the driver reads and writes the same through lifeguard as on its own", async () => {
			await using managed = await createMongoClient({ url, healthCheckIntervalMs: 0, driverOptions: quick });
			const alone = new MongoClient(url, quick);
			try {
				const docs = [
					{ n: 3, t: "c" },
					{ n: 1, t: "a" },
					{ n: 2, t: "b" },
				];
				await managed.collection("same", DB).insertMany(docs.map((d) => ({ ...d, via: "lifeguard" })));
				await alone
					.db(DB)
					.collection("same")
					.insertMany(docs.map((d) => ({ ...d, via: "alone" })));
				const read = async (c: MongoClient, via: string) =>
					(
						await c
							.db(DB)
							.collection("same")
							.find({ via, n: { $gte: 2 } })
							.sort({ n: 1 })
							.project({ _id: 0, via: 0 })
							.toArray()
					).map((d) => ({ ...d }));
				assert.deepEqual(await read(managed.driver, "lifeguard"), await read(alone, "alone"));
				assert.deepEqual(await read(managed.driver, "lifeguard"), [
					{ n: 2, t: "b" },
					{ n: 3, t: "c" },
				]);
			} finally {
				await alone.close();
			}
		});
	});

	describe("getMongoClient(url)", () => {
		it("returns one client per URL, managed and started, and a fresh one once it is closed", async () => {
			await using manager = new PoolManager();
			const first = await getMongoClient(url, { manager, healthCheckIntervalMs: 0, driverOptions: quick });
			const again = await getMongoClient(url, { manager });
			assert.equal(first, again);
			assert.equal(manager.client<ManagedMongoClient>(first.name), first);
			assert.ok(first.pools()[0].pool.stats().total >= 1, "started");
			await first.close();
			const fresh = await getMongoClient(url, { manager, healthCheckIntervalMs: 0, driverOptions: quick });
			assert.notEqual(fresh, first);
			assert.equal(manager.client(fresh.name), fresh);
		});
	});

	describe("under the manager", () => {
		it("lists the client's server pool in the health report under its kind", async () => {
			await using manager = new PoolManager();
			const client = manager.add(await createMongoClient({ url, name: "orders-mongo", healthCheckIntervalMs: 0, driverOptions: quick }));
			await manager.start();
			await client.collection("m", DB).insertOne({ a: 1 });
			const report = manager.health();
			const id = `orders-mongo/127.0.0.1:${server.port}`;
			assert.equal(report.clients["orders-mongo"].kind, "mongodb");
			assert.equal(report.pools[id].status, "healthy");
			assert.ok(report.pools[id].stats.acquires.ok >= 1);
		});
	});
});
