/**
 * Every client the data adapters return is a ManagedClient: the manager, metrics and health
 * endpoints read its name, kind and labelled pools, start it, and close or dispose of it.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { createMysqlClient } from "../../src/adapters/mysql/index.ts";
import { createPostgresClient } from "../../src/adapters/postgres/index.ts";
import { createRedisClient } from "../../src/adapters/redis/index.ts";
import { createSqliteClient } from "../../src/adapters/sqlite/index.ts";
import type { ManagedClient } from "../../src/manager/client.ts";
import { serverOptions } from "../postgres/helpers.ts";
import { TEST_DB } from "../redis/fixtures.ts";
import { requireService, services } from "../support/services.ts";

function labels(client: ManagedClient): string[] {
	return client.pools().map((p) => p.label);
}

describe("data clients implement ManagedClient", () => {
	before(async () => {
		await requireService("postgres");
		await requireService("mysql");
		await requireService("redis");
	});

	it("PostgreSQL: kind postgres, the primary then each replica labelled, start() warms min, asyncDispose closes", async () => {
		const db = createPostgresClient({
			primary: serverOptions("lg-sql-managed"),
			replicas: [serverOptions("lg-sql-managed-r0"), serverOptions("lg-sql-managed-r1")],
			pool: { name: "orders", min: 1 },
		});
		assert.equal(db.name, "orders");
		assert.equal(db.kind, "postgres");
		assert.deepEqual(labels(db), ["primary", "replica[0]", "replica[1]"]);
		await db.start();
		for (const { pool } of db.pools()) assert.equal(pool.stats().total, 1);
		await db[Symbol.asyncDispose]();
		await assert.rejects(db.query("SELECT 1"), { code: "POOL_CLOSED" });
	});

	it("MySQL: kind mysql, default name the dialect, close({ timeoutMs }) closes", async () => {
		const s = services.mysql;
		const db = createMysqlClient({ primary: { host: s.host, port: s.port, user: s.user, database: s.database }, pool: { min: 1 } });
		assert.equal(db.kind, "mysql");
		assert.equal(db.name, "mysql");
		assert.deepEqual(labels(db), ["primary"]);
		await db.start();
		assert.equal(db.pools()[0].pool.stats().total, 1);
		await db.close({ timeoutMs: 1_000 });
		await assert.rejects(db.query("SELECT 1"), { code: "POOL_CLOSED" });
	});

	it("SQLite: kind sqlite, one primary pool", async () => {
		const db = createSqliteClient();
		assert.equal(db.kind, "sqlite");
		assert.deepEqual(labels(db), ["primary"]);
		await db.start();
		assert.equal(db.pools()[0].pool.stats().total, 1);
		await db[Symbol.asyncDispose]();
		await assert.rejects(db.query("SELECT 1"), { code: "POOL_CLOSED" });
	});

	it("Redis: kind redis, its pool labelled primary, asyncDispose closes", async () => {
		const redis = createRedisClient({ host: services.redis.host, port: services.redis.port, db: TEST_DB, name: "cache", min: 1 });
		assert.equal(redis.kind, "redis");
		assert.equal(redis.name, "cache");
		assert.deepEqual(labels(redis), ["primary"]);
		assert.equal(redis.pools()[0].pool, redis.pool);
		await redis.start();
		assert.equal(redis.pool.stats().total, 1);
		await redis[Symbol.asyncDispose]();
		assert.equal(redis.pool.closed, true);
	});
});
