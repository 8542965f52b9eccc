/** The manager, metrics, health and config over the real SQL and Redis clients, against the real servers. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createPostgresClient } from "../../src/adapters/postgres/index.ts";
import { createRedisClient, type RedisClient } from "../../src/adapters/redis/index.ts";
import type { SqlClient } from "../../src/adapters/sql/types.ts";
import { createPools, loadConfig } from "../../src/config/index.ts";
import { HealthStatus } from "../../src/manager/health.ts";
import { PoolManager } from "../../src/manager/manager.ts";
import { createHealthHandler } from "../../src/observe/health/index.ts";
import { createPrometheusMetrics, MetricName } from "../../src/observe/metrics/index.ts";
import { parsePrometheusText, sampleOf } from "../observe/prom-text.ts";
import { requireService, services } from "../support/services.ts";

const pgUrl = `postgres://${services.postgres.user}@${services.postgres.host}:${services.postgres.port}/${services.postgres.database}`;
const redisUrl = `redis://${services.redis.host}:${services.redis.port}`;
const mysqlUrl = `mysql://${services.mysql.user}@${services.mysql.host}:${services.mysql.port}/${services.mysql.database}`;
const dir = mkdtempSync(join(tmpdir(), "lifeguard-ops-"));

before(async () => {
	await Promise.all([requireService("postgres"), requireService("redis"), requireService("mysql")]);
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe("real SQL and Redis clients in one manager", () => {
	it("shows the PostgreSQL primary and its replica, and Redis, in stats, health, metrics and the admin API, and closes them", async () => {
		const manager = new PoolManager();
		// The same server stands in for the replica: what matters here is that each pool is shown.
		const db: SqlClient = createPostgresClient({ primary: pgUrl, replicas: [pgUrl], pool: { name: "ops-orders", min: 1 } });
		const cache: RedisClient = createRedisClient({ url: redisUrl, name: "ops-cache", min: 1 });
		assert.equal(manager.add(db), db);
		manager.add(cache);
		const metrics = await createPrometheusMetrics(manager);
		after(() => manager.close({ timeoutMs: 500 }));
		await manager.start();
		await db.query("SELECT 1");
		await db.transaction(async (tx) => tx.query("SELECT 2"));
		await cache.command("SET", "ops:real-clients", "1");
		assert.equal(await cache.command("GET", "ops:real-clients"), "1");

		assert.deepEqual(Object.keys(manager.stats()), ["ops-orders/primary", "ops-orders/replica[0]", "ops-cache/primary"]);
		const report = manager.health();
		assert.equal(report.status, HealthStatus.healthy, report.reasons.join("; "));
		assert.equal(report.clients["ops-orders"].kind, "postgres");
		assert.deepEqual(Object.keys(report.clients["ops-orders"].pools), ["primary", "replica[0]"]);
		assert.equal(report.clients["ops-cache"].kind, "redis");
		// The SELECT goes to the replica, the transaction to the primary.
		assert.ok(report.pools["ops-orders/primary"].stats.acquires.ok >= 1);
		assert.ok(report.pools["ops-orders/replica[0]"].stats.acquires.ok >= 1);
		assert.deepEqual(manager.readiness(), { ready: true, reasons: [] });

		const f = parsePrometheusText(await metrics.text());
		assert.ok(sampleOf(f, MetricName.createdTotal, { pool: "ops-orders/primary", kind: "postgres" }) >= 1);
		assert.ok(sampleOf(f, MetricName.size, { pool: "ops-orders/replica[0]", kind: "postgres", state: "total" }) >= 1);
		assert.ok(sampleOf(f, MetricName.usageSeconds, { pool: "ops-cache/primary", kind: "redis" }, `${MetricName.usageSeconds}_count`) >= 0);

		const handler = createHealthHandler(manager);
		const admin = await new Promise<string>((resolve) => {
			const chunks: string[] = [];
			const res = {
				statusCode: 0,
				setHeader: () => {},
				end: (text?: string) => {
					chunks.push(text ?? "");
					resolve(chunks.join(""));
				},
			};
			void handler({ url: "/api/v1/admin/connection-pools", method: "GET", headers: {} } as never, res as never);
		});
		const parsed = JSON.parse(admin);
		assert.deepEqual(
			parsed.clients.map((c: { name: string; kind: string }) => `${c.name}:${c.kind}`),
			["ops-orders:postgres", "ops-cache:redis"],
		);
		handler.close();
		metrics.close();

		await cache.command("DEL", "ops:real-clients");
		await manager.close({ timeoutMs: 2_000 });
		assert.ok(Object.values(manager.stats()).every((s) => s.state === "closed"));
		await assert.rejects(db.query("SELECT 1"), { code: "POOL_CLOSED" });
	});
});

describe("createPools from a configuration, against the real servers", () => {
	it("builds PostgreSQL, MariaDB, SQLite and Redis clients that answer queries, with the config's pool sizes", async () => {
		const config = loadConfig({
			yaml: `pools:
  orders:
    kind: postgres
    url: \${OPS_PG_URL}
    max: 3
  legacy:
    kind: mysql
    url: \${OPS_MYSQL_URL}
  local:
    kind: sqlite
    filename: ${join(dir, "ops.db")}
  cache:
    kind: redis
    url: \${OPS_REDIS_URL}
`,
			env: { OPS_PG_URL: pgUrl, OPS_MYSQL_URL: mysqlUrl, OPS_REDIS_URL: redisUrl, CONNECTION_POOL_DB_MIN: "1", CONNECTION_POOL_REDIS_MAX: "4" },
		});
		const manager = await createPools(config, { start: true });
		try {
			assert.deepEqual(manager.list(), ["orders", "legacy", "local", "cache"]);
			const stats = manager.stats();
			assert.equal(stats["orders/primary"].max, 3);
			assert.equal(stats["orders/primary"].min, 1, "CONNECTION_POOL_DB_MIN");
			assert.equal(stats["legacy/primary"].min, 1);
			assert.equal(stats["cache/primary"].max, 4, "CONNECTION_POOL_REDIS_MAX");
			const one = async (name: string) => (await manager.client<SqlClient>(name).query("SELECT 1 AS one", [], { fetch: "one" })) as { one: number | bigint };
			assert.equal(Number((await one("orders")).one), 1);
			assert.equal(Number((await one("legacy")).one), 1);
			assert.equal(Number((await one("local")).one), 1);
			assert.equal(await manager.client<RedisClient>("cache").command("PING"), "PONG");
			assert.equal(manager.health().status, HealthStatus.healthy, manager.health().reasons.join("; "));
		} finally {
			await manager.close({ timeoutMs: 2_000 });
		}
	});
});
