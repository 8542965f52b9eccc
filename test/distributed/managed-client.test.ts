/** The distributed parts as a ManagedClient: a budget reads as a pool to the manager, metrics and admin API. */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { distributedClient, SharedBudget } from "../../src/distributed/index.ts";
import { createPool, ErrorCode } from "../../src/index.ts";
import { PoolManager } from "../../src/manager/index.ts";
import { isManagedClient } from "../../src/manager/views.ts";
import { requireService, services } from "../support/services.ts";
import { eventually } from "../support/wait.ts";
import { testPrefix } from "./own-redis.ts";

describe("distributed client", () => {
	before(() => requireService("redis"));

	it("lists each budget as a pool whose gauges are the budget's figures, and every statistic in details()", async () => {
		const budget = new SharedBudget({
			redis: `redis://${services.redis.host}:${services.redis.port}`,
			keyPrefix: testPrefix("distributed"),
			resource: "db",
			limit: 5,
		});
		const client = distributedClient({ budgets: [budget] });
		let next = 0;
		const pool = createPool({ max: 10, budget, create: () => ({ id: ++next }) });
		try {
			assert.ok(isManagedClient(client));
			await client.start();
			const leases = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
			const view = client.pools()[0];
			assert.equal(view?.label, "budget:db");
			assert.ok(await eventually(() => view?.pool.stats().active === 3, 2_000));
			const stats = view?.pool.stats();
			assert.equal(stats?.max, 5);
			assert.equal(stats?.healthScore, 100);
			assert.ok((stats?.total ?? 0) >= 3);
			const details = JSON.parse(JSON.stringify(client.details?.())) as { budgets: { used: number; processes: number; fallback: boolean }[] };
			assert.deepEqual([details.budgets[0]?.used, details.budgets[0]?.processes, details.budgets[0]?.fallback], [3, 1, false]);
			for (const l of leases) l.release();
		} finally {
			await pool.close();
			await client.close();
		}
	});

	it("a manager closes the budget only after its pools drained: the slots stay taken while a lease is out", async () => {
		const keyPrefix = testPrefix("close-order");
		const budget = new SharedBudget({ redis: `redis://${services.redis.host}:${services.redis.port}`, keyPrefix, resource: "db", limit: 5 });
		const client = distributedClient({ budgets: [budget] });
		const pool = createPool({ name: "db", max: 3, budget, create: () => ({}) });
		const manager = new PoolManager();
		manager.add(pool);
		manager.add(client);
		const redis = new Redis({ host: services.redis.host, port: services.redis.port, lazyConnect: true });
		const held = async () => Number((await redis.hget(`${keyPrefix}:budget:{db}:held`, budget.processId)) ?? 0);
		try {
			await client.start();
			const lease = await pool.acquire();
			assert.ok(await eventually(async () => (await held()) >= 1, 2_000), "the budget holds the lease's slot in Redis");
			const closing = manager.close({ timeoutMs: 10_000 });
			await new Promise((resolve) => setTimeout(resolve, 300));
			assert.ok((await held()) >= 1, "the connection is still open, so its slot must still be taken");
			lease.release();
			await closing;
			assert.equal(await held(), 0, "after the drain the process left the budget");
		} finally {
			redis.disconnect();
			await manager.close().catch(() => {});
		}
	});

	it("its close() refuses an option it does not know, like every client's", async () => {
		const client = distributedClient({});
		await assert.rejects(client.close({ timoutMs: 1 } as never), { code: ErrorCode.CONFIG_INVALID });
		await client.close();
	});
});
