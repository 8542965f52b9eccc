/** Seed 002's adaptive sizing and seed 003's distributed_pool in the config: accepted from YAML, env and code, every problem with its path. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { explain, loadConfig } from "../../src/config/index.ts";
import type { ConfigError } from "../../src/index.ts";

const problemsOf = (load: () => unknown): Map<string, string> => {
	try {
		load();
	} catch (error) {
		return new Map((error as ConfigError).problems.map((p) => [p.path, p.message]));
	}
	assert.fail("expected a ConfigError");
};

const YAML = `
distributed_pool:
  redis_url: redis://127.0.0.1:6379
  pool_sharding: true
  shard_count: 16
  connection_affinity: least_loaded
  health_check_interval: 500
  failover_enabled: true
  failover_timeout: 3000
pools:
  orders:
    kind: postgres
    host: 127.0.0.1
    max: 20
    adaptiveSizing: true
    adaptationIntervalMs: 250
    sharedBudget: 40
  cache:
    kind: redis
    url: redis://127.0.0.1:6379
  api:
    kind: http
production:
  distributed_pool:
    connection_affinity: sticky
`;

describe("distributed settings in the config", () => {
	it("reads seed 003's distributed_pool with every key, the environment section over the base, and the pools' adaptive keys", () => {
		const config = loadConfig({ yaml: YAML, env: {}, environment: "production" });
		assert.deepEqual(config.distributedPool, {
			redis_url: "redis://127.0.0.1:6379",
			pool_sharding: true,
			shard_count: 16,
			connection_affinity: "sticky",
			health_check_interval: 500,
			failover_enabled: true,
			failover_timeout: 3_000,
		});
		assert.match(config.sources["distributed_pool.connection_affinity"] ?? "", /^inline:\d+:\d+$/);
		const orders = config.pools.orders as { adaptiveSizing?: boolean; adaptationIntervalMs?: number; sharedBudget?: number };
		assert.deepEqual([orders.adaptiveSizing, orders.adaptationIntervalMs, orders.sharedBudget], [true, 250, 40]);
	});

	it("explain() lists distributed_pool with its sources and no credentials of the Redis URL", () => {
		const config = loadConfig({
			yaml: YAML.replace("redis://127.0.0.1:6379\n  pool_sharding", "redis://app:hunter2secret@10.0.0.5:6379\n  pool_sharding"),
			env: {},
		});
		const settings = explain(config);
		const url = settings.find((s) => s.path === "distributed_pool.redis_url");
		assert.ok(url, settings.map((s) => s.path).join(", "));
		assert.ok(!url.value.includes("hunter2secret"), url.value);
		assert.match(url.value, /10\.0\.0\.5:6379/);
		assert.equal(settings.find((s) => s.path === "distributed_pool.shard_count")?.value, "16");
		assert.equal(settings.find((s) => s.path === "pools.orders.adaptiveSizing")?.value, "true");
	});

	it("CONNECTION_POOL_ADAPTIVE_SIZING and _ADAPTATION_INTERVAL (seconds) set every pool with core options; the pool's own key wins", () => {
		const config = loadConfig({ yaml: YAML, env: { CONNECTION_POOL_ADAPTIVE_SIZING: "true", CONNECTION_POOL_ADAPTATION_INTERVAL: "0.5" } });
		const cache = config.pools.cache as { adaptiveSizing?: boolean; adaptationIntervalMs?: number };
		assert.deepEqual([cache.adaptiveSizing, cache.adaptationIntervalMs], [true, 500]);
		assert.equal(config.sources["pools.cache.adaptiveSizing"], "env CONNECTION_POOL_ADAPTIVE_SIZING");
		assert.equal((config.pools.orders as { adaptationIntervalMs?: number }).adaptationIntervalMs, 250, "the file's pool key over the variable");
		assert.equal("adaptiveSizing" in config.pools.api, false, "an HTTP pool has no core pool to size");
		const off = problemsOf(() => loadConfig({ yaml: YAML, env: { CONNECTION_POOL_ADAPTIVE_SIZING: "maybe" } }));
		assert.match(off.get("CONNECTION_POOL_ADAPTIVE_SIZING") ?? "", /true, false, 1 or 0/);
	});

	it("takes the same from code, and LIFEGUARD_POOLS__<NAME>__ADAPTIVE_SIZING", () => {
		const config = loadConfig({
			config: { distributed_pool: { redis_url: "redis://10.0.0.5:6379" }, pools: { db: { kind: "sqlite", filename: ":memory:", sharedBudget: 4 } } },
			env: { LIFEGUARD_POOLS__DB__ADAPTIVE_SIZING: "true", LIFEGUARD_POOLS__DB__ADAPTATION_INTERVAL_MS: "100" },
		});
		assert.equal(config.distributedPool?.redis_url, "redis://10.0.0.5:6379");
		assert.deepEqual(
			[(config.pools.db as { adaptiveSizing?: boolean }).adaptiveSizing, (config.pools.db as { adaptationIntervalMs?: number }).adaptationIntervalMs],
			[true, 100],
		);
		assert.equal(config.sources["distributed_pool.redis_url"], "code");
	});

	it("lists every problem with its path, and never quotes the Redis URL", () => {
		const problems = problemsOf(() =>
			loadConfig({
				config: {
					distributed_pool: {
						redis_url: "http://user:hunter2secret@example.com",
						shard_count: 0,
						connection_affinity: "random",
						health_check_interval: 5,
						failover_timeout: 100,
						shards: 3,
					},
					pools: { orders: { kind: "postgres", host: "db", adaptationIntervalMs: 5, adaptiveSizing: "often", sharedBudget: 0 } },
				},
				env: {},
			}),
		);
		for (const path of [
			"distributed_pool.redis_url",
			"distributed_pool.shard_count",
			"distributed_pool.connection_affinity",
			"distributed_pool.health_check_interval",
			"distributed_pool.shards",
			"pools.orders.adaptationIntervalMs",
			"pools.orders.adaptiveSizing",
			"pools.orders.sharedBudget",
		]) {
			assert.ok(problems.has(path), `${path} is reported (got ${[...problems.keys()].join(", ")})`);
		}
		assert.ok(![...problems.values()].some((m) => m.includes("hunter2secret")), "no secret in a message");
		const order = problemsOf(() =>
			loadConfig({ config: { distributed_pool: { redis_url: "redis://r:6379", health_check_interval: 500, failover_timeout: 400 } }, env: {} }),
		);
		assert.match(order.get("distributed_pool.failover_timeout") ?? "", /exceed health_check_interval/);
	});

	it("a shared budget without distributed_pool is a problem at the pool's key", () => {
		const problems = problemsOf(() => loadConfig({ config: { pools: { orders: { kind: "postgres", host: "db", sharedBudget: 40 } } }, env: {} }));
		assert.match(problems.get("pools.orders.sharedBudget") ?? "", /distributed_pool\.redis_url/);
	});
});
