/** createPools() with distributed_pool, sharedBudget and adaptiveSizing: a real PostgreSQL pool sized by load under a budget in the real Redis, and the shard map in the manager. */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { before, describe, it } from "node:test";
import type { SqlClient } from "../../src/adapters/sql/types.ts";
import { createPools, loadConfig } from "../../src/config/index.ts";
import type { Pool } from "../../src/core/pool.ts";
import type { DistributedDetails } from "../../src/distributed/index.ts";
import { requireService, services } from "../support/services.ts";
import { eventually, sleep } from "../support/wait.ts";

describe("distributed settings reach the pools (createPools)", () => {
	before(async () => {
		await requireService("postgres");
		await requireService("redis");
	});

	it("adaptive sizing moves the pool's max with the load, never above the shared budget, each change an event with its reason", async () => {
		// A name of its own: the budget's resource is the pool's name in the shared Redis.
		const name = `orders_${randomBytes(3).toString("hex")}`;
		const { host, port, user, database } = services.postgres;
		const config = loadConfig({
			config: {
				distributed_pool: {
					redis_url: `redis://${services.redis.host}:${services.redis.port}`,
					pool_sharding: true,
					shard_count: 4,
					connection_affinity: "sticky",
					health_check_interval: 100,
					failover_enabled: true,
					failover_timeout: 1_000,
				},
				pools: { [name]: { kind: "postgres", host, port, user, database, min: 1, max: 10, sharedBudget: 3, adaptiveSizing: true, adaptationIntervalMs: 50 } },
			},
			env: { CONNECTION_POOL_ADAPTIVE_SIZING: "false" },
		});
		const manager = await createPools(config, { start: true });
		try {
			const db = manager.client<SqlClient>(name);
			const pool = db.pools()[0]?.pool as Pool<unknown>;
			const resized: { max: number; reason: string }[] = [];
			pool.on("poolResized", (e) => resized.push({ max: e.to.max, reason: e.reason }));
			let peakOpen = 0;
			let peakMax = pool.options.max;
			let stop = false;
			const watch = (async () => {
				while (!stop) {
					peakOpen = Math.max(peakOpen, pool.stats().total);
					peakMax = Math.max(peakMax, pool.options.max);
					await sleep(5);
				}
			})();
			// High load: 12 callers holding a connection 20 ms each, for about a second.
			const until = performance.now() + 1_000;
			await Promise.all(
				Array.from({ length: 12 }, async () => {
					while (performance.now() < until) await db.query("select pg_sleep(0.02)");
				}),
			);
			stop = true;
			await watch;
			assert.ok(peakMax <= 3, `the effective max stayed within the budget of 3 (peak ${peakMax})`);
			assert.ok(peakOpen <= 3, `no more than 3 connections open (peak ${peakOpen})`);
			assert.ok(
				resized.every((r) => r.reason.startsWith("adaptive: ")),
				resized.map((r) => r.reason).join("\n"),
			);

			// Low load: the sizer shrinks in steps toward the floor, each step a reason with the figures.
			assert.ok(
				await eventually(() => pool.options.max < 3, 10_000, 50),
				`shrinks when idle (max ${pool.options.max}; ${resized.map((r) => r.reason).join(" | ")})`,
			);
			assert.ok(resized.some((r) => /^adaptive: shrink \(λ .*busy, max wait/.test(r.reason)));

			// distributed_pool's shard map and the budget are one "distributed" client in the manager.
			const detailsNow = () => (manager.client("distributed").details?.() ?? {}) as unknown as DistributedDetails;
			const details = detailsNow();
			assert.equal(details.budgets[0]?.resource, name);
			assert.equal(details.budgets[0]?.limit, 3);
			assert.ok(await eventually(() => detailsNow().shards[0]?.owners.length === 4, 3_000));
			const shards = detailsNow().shards[0];
			assert.equal(shards?.affinity, "sticky");
			assert.ok(shards?.owners.includes(shards.processId), "this process owns shards");
		} finally {
			await manager.close({ timeoutMs: 2_000 });
		}
	});
});
