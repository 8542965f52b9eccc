/** The distributed parts in Prometheus: a scrape of a manager holding a distributedClient, parsed strictly and checked by promtool. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { Registry } from "prom-client";
import { distributedClient, ShardMap, SharedBudget, SharedRateLimit } from "../../src/distributed/index.ts";
import { createPool, type Lease } from "../../src/index.ts";
import { PoolManager } from "../../src/manager/manager.ts";
import { createPrometheusMetrics, METRICS, MetricName } from "../../src/observe/metrics/index.ts";
import { parsePrometheusText, sampleOf } from "../observe/prom-text.ts";
import { requireService, services } from "../support/services.ts";
import { eventually } from "../support/wait.ts";
import { testPrefix } from "./own-redis.ts";

const REDIS_URL = `redis://${services.redis.host}:${services.redis.port}`;
const run = promisify(execFile);

/** promtool check metrics on a scrape: lint warnings (names, units, HELP) as well as syntax. undefined where promtool is not installed (CI installs it). */
async function promtoolCheck(text: string): Promise<string | undefined> {
	try {
		await run("promtool", ["--version"]);
	} catch {
		assert.ok(process.env.CI === undefined, "promtool is missing: .ci/run installs it (apt-get install prometheus)");
		return undefined;
	}
	return new Promise((resolve) => {
		const child = execFile("promtool", ["check", "metrics"], (error, stdout, stderr) => resolve(error === null ? "" : `${stdout}${stderr}`));
		child.stdin?.end(text);
	});
}

describe("distributed metrics", () => {
	const keyPrefix = testPrefix("distributed");
	const cleanups: (() => Promise<unknown> | unknown)[] = [];
	before(() => requireService("redis"));
	after(async () => {
		for (const c of cleanups.reverse()) await c();
	});

	it("exports slots held, borrowed, waiting, processes seen and fallback per resource, rate limits by source, shard ownership", async () => {
		// Two processes of one service share a budget of 6: "a" is busy, "b" holds nothing.
		const [a, b] = ["a", "b"].map(
			(processId) => new SharedBudget({ redis: REDIS_URL, keyPrefix, resource: "orders-db", limit: 6, ttlMs: 2_000, processId }),
		) as [SharedBudget, SharedBudget];
		let next = 0;
		const poolA = createPool({ max: 10, budget: a, create: () => ({ id: ++next }) });
		const poolB = createPool({ max: 10, budget: b, create: () => ({ id: ++next }) });
		const rate = new SharedRateLimit({ redis: REDIS_URL, keyPrefix, name: "openai", requestsPerWindow: 2, windowMs: 60_000, processId: "a" });
		const shards = new ShardMap({ redis: REDIS_URL, keyPrefix, name: "origins", shardCount: 4, processId: "a", healthCheckIntervalMs: 100 });
		const manager = new PoolManager();
		manager.add(distributedClient({ name: "cluster", budgets: [a, b], rateLimits: [rate], shards: [shards] }));
		cleanups.push(
			() => manager.close({ timeoutMs: 500 }),
			() => poolA.close(),
			() => poolB.close(),
		);
		await manager.start();
		await b.start();

		// "a" takes all 6 slots (3 its share, 3 borrowed from idle "b") and 2 more callers wait.
		const held: Lease<{ id: number }>[] = await Promise.all(Array.from({ length: 6 }, () => poolA.acquire()));
		const waiting = [poolA.acquire({ timeoutMs: 30_000 }), poolA.acquire({ timeoutMs: 30_000 })];
		await rate.take("key-1");
		await rate.take("key-1");
		await assert.rejects(rate.take("key-1", { timeoutMs: 10 }), { code: "RATE_LIMITED" });
		// Each process learns of the other on its own heartbeat: wait until both see two, so both shares are 3.
		assert.ok(
			await eventually(
				() => a.stats().processes === 2 && b.stats().processes === 2 && b.stats().share === 3 && a.stats().waiting === 2 && shards.owners.length === 4,
				5_000,
			),
		);

		const metrics = await createPrometheusMetrics(manager);
		cleanups.push(() => metrics.close());
		const text = await metrics.text();
		const f = parsePrometheusText(text);
		for (const spec of METRICS.filter((m) => m.name.startsWith("lifeguard_"))) {
			assert.equal(f.get(spec.name)?.type, spec.type, `${spec.name} has TYPE ${spec.type}`);
			assert.ok((f.get(spec.name)?.help.length ?? 0) > 0, `${spec.name} has HELP`);
			assert.ok((f.get(spec.name)?.samples.length ?? 0) > 0, `${spec.name} has samples`);
			for (const sample of f.get(spec.name)?.samples ?? [])
				assert.ok(spec.label !== undefined && spec.label in sample.labels, `${sample.name} is labelled ${spec.label}`);
		}
		const orders = { pool: "cluster", kind: "distributed", resource: "orders-db" };
		// Both budget objects live in this process and carry the same resource label: pick "a" by its held slots.
		const series = (name: string) => (f.get(name)?.samples ?? []).filter((s) => s.labels.resource === "orders-db").map((s) => s.value);
		assert.deepEqual(series(MetricName.budgetLimit), [6, 6]);
		assert.deepEqual(series(MetricName.budgetHeld), [6, 0]);
		assert.deepEqual(series(MetricName.budgetUsed), [6, 0]);
		assert.deepEqual(series(MetricName.budgetBorrowed), [3, 0]);
		assert.deepEqual(series(MetricName.budgetShare), [3, 3]);
		assert.deepEqual(series(MetricName.budgetWaiting), [2, 0]);
		assert.deepEqual(series(MetricName.budgetProcesses), [2, 2]);
		assert.deepEqual(series(MetricName.budgetFallback), [0, 0]);
		assert.ok(orders.kind === "distributed");
		const openai = { pool: "cluster", kind: "distributed", limit: "openai" };
		assert.equal(sampleOf(f, MetricName.rateLimitAdmitted, { ...openai, source: "redis" }), 2);
		assert.equal(sampleOf(f, MetricName.rateLimitAdmitted, { ...openai, source: "local" }), 0);
		assert.equal(sampleOf(f, MetricName.rateLimitRefused, openai), 1);
		assert.equal(sampleOf(f, MetricName.rateLimitFallback, openai), 0);
		const origins = { pool: "cluster", kind: "distributed", shard_map: "origins" };
		assert.equal(sampleOf(f, MetricName.shardCount, origins), 4);
		assert.equal(sampleOf(f, MetricName.shardOwned, origins), 4, "the only process owns every shard");
		assert.equal(sampleOf(f, MetricName.shardProcesses, origins), 1);
		assert.equal(sampleOf(f, MetricName.shardReachable, origins), 1);

		// The same families through prom-client's own formatter, and promtool's linter over both.
		const registry = new Registry();
		const viaRegistry = await createPrometheusMetrics(manager, { registry });
		cleanups.push(() => viaRegistry.close());
		const registryText = await registry.metrics();
		assert.equal(parsePrometheusText(registryText).get(MetricName.budgetBorrowed)?.samples.length, 2);
		for (const scrape of [text, registryText]) {
			// Only lifeguard_ names are this area's: the seed's connection_pool_failed_connections is a counter without _total, kept as the seed deployments name it.
			const problems = (await promtoolCheck(scrape))?.split("\n").filter((line) => line.startsWith("lifeguard_"));
			if (problems !== undefined) assert.deepEqual(problems, [], "promtool check metrics");
		}
		for (const l of held) l.release();
		for (const l of await Promise.all(waiting)) l.release();
	});
});
