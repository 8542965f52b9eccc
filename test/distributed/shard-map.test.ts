/** Seed 003's distributed_pool: shards over live processes through Redis, with affinity and failover. */
import assert from "node:assert/strict";
import { afterEach, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { type Affinity, ShardMap, shardMapFromConfig } from "../../src/distributed/index.ts";
import { type ConfigError, ErrorCode } from "../../src/index.ts";
import { requireService, services } from "../support/services.ts";
import { eventually } from "../support/wait.ts";
import { testPrefix } from "./own-redis.ts";

const REDIS_URL = `redis://${services.redis.host}:${services.redis.port}`;
const opened: { close(): Promise<void> }[] = [];

function maps(affinity: Affinity, ids: string[], keyPrefix = testPrefix("distributed"), extra: { load?: (id: string) => number } = {}) {
	return ids.map((processId) => {
		// Each "process" has its own Redis connection, so that one can be cut off as a crash would.
		const redis = new Redis(REDIS_URL);
		const map = new ShardMap({
			redis,
			name: "origins",
			keyPrefix,
			shardCount: 12,
			affinity,
			processId,
			healthCheckIntervalMs: 100,
			failoverTimeoutMs: 400,
			load: extra.load === undefined ? undefined : () => (extra.load as (id: string) => number)(processId),
		});
		opened.push(map, { close: async () => redis.disconnect() });
		return { map, redis };
	});
}

const agree = (all: { map: ShardMap }[]) => all.every(({ map }) => map.owners.length === 12 && map.owners.join() === all[0]?.map.owners.join());
const countOf = (owners: readonly string[], id: string) => owners.filter((o) => o === id).length;

describe("shard map", () => {
	before(() => requireService("redis"));
	afterEach(async () => {
		await Promise.all(opened.splice(0).map((o) => o.close()));
	});

	it("reads seed 003's config and names its paths in errors", () => {
		assert.throws(
			() =>
				shardMapFromConfig("x", {
					redis_url: REDIS_URL,
					shard_count: 0,
					connection_affinity: "random" as Affinity,
					health_check_interval: 1_000,
					failover_timeout: 500,
				}),
			(e: ConfigError) =>
				e.code === ErrorCode.CONFIG_INVALID &&
				/distributed_pool\.shard_count/.test(e.message) &&
				/distributed_pool\.connection_affinity/.test(e.message) &&
				/distributed_pool\.failover_timeout/.test(e.message),
		);
		const map = shardMapFromConfig("x", {
			redis_url: REDIS_URL,
			pool_sharding: true,
			shard_count: 8,
			connection_affinity: "least_loaded",
			failover_timeout: 3_000,
		});
		assert.deepEqual([map.shardCount, map.affinity, map.failoverTimeoutMs], [8, "least_loaded", 3_000]);
	});

	it("sticky: every process sees the same owners, spread evenly; a leaving process's shards move to the others and nothing else moves", async () => {
		const all = maps("sticky", ["a", "b", "c"]);
		await Promise.all(all.map(({ map }) => map.start()));
		assert.ok(await eventually(() => agree(all) && ["a", "b", "c"].every((id) => countOf(all[0]?.map.owners ?? [], id) === 4), 3_000), "4 shards each");
		const before = [...(all[0]?.map.owners ?? [])];
		const key = "http://origin-7.example";
		assert.equal(all.filter(({ map }) => map.owns(key)).length, 1, "one owner per key");

		const [dead, ...alive] = all as [(typeof all)[0], ...typeof all];
		await dead.map.close();
		const diedAt = performance.now();
		assert.ok(await eventually(() => agree(alive) && !alive[0]?.map.owners.includes("a"), 2_000), "a's shards moved");
		const movedMs = performance.now() - diedAt;
		const after = alive[0]?.map.owners ?? [];
		for (let s = 0; s < 12; s++) if (before[s] !== "a") assert.equal(after[s], before[s], `shard ${s} stayed with its live owner`);
		assert.deepEqual([countOf(after, "b"), countOf(after, "c")], [6, 6]);
		assert.ok(movedMs < 400 + 300, `moved after ${Math.round(movedMs)} ms`);
	});

	it("a crashed process (no goodbye) loses its shards within failover_timeout plus one heartbeat", async () => {
		const all = maps("sticky", ["a", "b"]);
		await Promise.all(all.map(({ map }) => map.start()));
		assert.ok(await eventually(() => agree(all) && countOf(all[0]?.map.owners ?? [], "a") === 6, 3_000));
		// The crash: heartbeats stop, nothing is said to Redis.
		const [crashed, survivor] = all as [(typeof all)[0], (typeof all)[0]];
		crashed.redis.disconnect();
		const at = performance.now();
		assert.ok(await eventually(() => countOf(survivor.map.owners, "b") === 12, 2_000), "the survivor owns every shard");
		const ms = performance.now() - at;
		assert.ok(ms < 400 + 100 + 250, `failover after ${Math.round(ms)} ms (timeout 400, heartbeat 100)`);
	});

	it("round_robin spreads shard i to the i-th live process; least_loaded gives orphans to the least loaded", async () => {
		const rr = maps("round_robin", ["a", "b", "c"]);
		await Promise.all(rr.map(({ map }) => map.start()));
		assert.ok(await eventually(() => agree(rr) && rr[0]?.map.owners.join() === "a,b,c,a,b,c,a,b,c,a,b,c", 3_000), rr[0]?.map.owners.join());

		// b and c are up; c is busy. When b dies, its orphaned shards go to the least loaded (a, which joined idle).
		const prefix = testPrefix("distributed");
		const loads: Record<string, number> = { a: 0, b: 0, c: 5 };
		const ll = maps("least_loaded", ["a", "b", "c"], prefix, { load: (id) => loads[id] ?? 0 });
		await Promise.all(ll.map(({ map }) => map.start()));
		assert.ok(await eventually(() => agree(ll), 3_000));
		const before = [...(ll[0]?.map.owners ?? [])];
		const bShards = before.flatMap((o, s) => (o === "b" ? [s] : []));
		assert.ok(bShards.length > 0);
		(ll[1] as (typeof ll)[0]).redis.disconnect();
		const rest = [ll[0], ll[2]] as (typeof ll)[0][];
		assert.ok(await eventually(() => agree(rest) && !rest[0]?.map.owners.includes("b"), 2_000), "b's shards moved");
		const after = rest[0]?.map.owners ?? [];
		assert.deepEqual(
			bShards.map((s) => after[s]),
			bShards.map(() => "a"),
			`every orphan went to the idle process, none to the busy one (${after.join()})`,
		);
	});
});
