/** lifeguard/metrics: Prometheus text after known traffic, counters that never go down, OpenTelemetry through the SDK. */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
import { Counter, Registry } from "prom-client";
import { ErrorCode } from "../../src/core/errors.ts";
import { createKeyedPool } from "../../src/core/keyed-pool.ts";
import { createPool, type Pool } from "../../src/core/pool.ts";
import type { BreakerView, ManagedClient } from "../../src/manager/client.ts";
import { PoolManager } from "../../src/manager/manager.ts";
import { createOpenTelemetryMetrics, createPrometheusMetrics, METRICS, MetricName, OtelName } from "../../src/observe/metrics/index.ts";
import { type ParsedFamily, parsePrometheusText, sampleOf } from "./prom-text.ts";

const counter = () => {
	let next = 0;
	return { create: () => ({ id: ++next }), destroy: () => {} };
};

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
	for (const cleanup of cleanups.reverse()) await cleanup();
});
function managed(): PoolManager {
	const m = new PoolManager();
	cleanups.push(() => m.close({ timeoutMs: 100 }));
	return m;
}

/** 5 leases on "orders" (max 2, so 2 connections), then one acquire that times out while both are held. */
async function knownTraffic(pool: Pool<unknown>): Promise<void> {
	for (let i = 0; i < 5; i++) {
		const [a, b] = await Promise.all([pool.acquire(), pool.acquire()]);
		a.release();
		b.release();
		if (i === 4) break;
	}
	const held = await Promise.all([pool.acquire(), pool.acquire()]);
	await assert.rejects(pool.acquire({ timeoutMs: 20 }), { code: ErrorCode.POOL_TIMEOUT });
	for (const lease of held) lease.release();
}

async function scrape(text: () => Promise<string>): Promise<Map<string, ParsedFamily>> {
	return parsePrometheusText(await text());
}

describe("Prometheus text after known traffic", () => {
	it("has every metric with its type, labelled pool and kind, with the values the traffic produced", async () => {
		const m = managed();
		const orders = m.create("orders", { ...counter(), max: 2 });
		const metrics = await createPrometheusMetrics(m);
		cleanups.push(() => metrics.close());
		await knownTraffic(orders as Pool<unknown>);
		const held = await orders.acquire();
		const f = await scrape(metrics.text);
		for (const spec of METRICS) {
			assert.equal(f.get(spec.name)?.type, spec.type, `${spec.name} has TYPE ${spec.type}`);
			assert.ok((f.get(spec.name)?.help.length ?? 0) > 0, `${spec.name} has HELP`);
		}
		const pool = { pool: "orders", kind: "pool" };
		assert.equal(sampleOf(f, MetricName.size, { ...pool, state: "active" }), 1);
		assert.equal(sampleOf(f, MetricName.size, { ...pool, state: "idle" }), 1);
		assert.equal(sampleOf(f, MetricName.size, { ...pool, state: "creating" }), 0);
		assert.equal(sampleOf(f, MetricName.size, { ...pool, state: "total" }), 2);
		assert.equal(sampleOf(f, MetricName.activeConnections, pool), 1);
		assert.equal(sampleOf(f, MetricName.totalConnections, pool), 2);
		assert.equal(sampleOf(f, MetricName.pendingRequests, pool), 0);
		assert.equal(sampleOf(f, MetricName.utilization, pool), 0.5);
		assert.equal(sampleOf(f, MetricName.maxConnections, pool), 2);
		assert.equal(sampleOf(f, MetricName.createdTotal, pool), 2);
		assert.equal(sampleOf(f, MetricName.errorsTotal, { ...pool, type: "timeout" }), 1);
		assert.equal(sampleOf(f, MetricName.errorsTotal, { ...pool, type: "create" }), 0);
		assert.equal(sampleOf(f, MetricName.failedConnections, pool), 0);
		// 10 + 2 + 1 acquires served by 2 connections.
		assert.equal(sampleOf(f, MetricName.efficiency, pool), 11 / 13);
		// One timeout among 13 acquires and 2 creates.
		assert.equal(sampleOf(f, MetricName.errorRate, pool), 1 / 16);
		// 12 leases released (the 13th is still held); each histogram counted them.
		for (const name of [MetricName.waitSeconds, MetricName.usageSeconds, MetricName.requestDurationSeconds]) {
			assert.equal(sampleOf(f, name, pool, `${name}_count`), 12, name);
			assert.equal(sampleOf(f, name, { ...pool, le: "+Inf" }, `${name}_bucket`), 12);
			const buckets =
				f
					.get(name)
					?.samples.filter((s) => s.name === `${name}_bucket`)
					.map((s) => s.value) ?? [];
			assert.ok(
				buckets.every((v, i) => i === 0 || v >= buckets[i - 1]),
				`${name} buckets are cumulative`,
			);
			assert.ok(sampleOf(f, name, pool, `${name}_sum`) >= 0);
		}
		// The timed-out acquire waited ~20 ms but was never served: the wait histogram only counts served leases; use times are short.
		assert.equal(sampleOf(f, MetricName.usageSeconds, { ...pool, le: "1" }, `${MetricName.usageSeconds}_bucket`), 12);
		held.release();
	});

	it("counts health assessments by result", async () => {
		const m = managed();
		m.create("warm", { ...counter(), min: 1 });
		const metrics = await createPrometheusMetrics(m);
		cleanups.push(() => metrics.close());
		m.health();
		await m.start();
		m.health();
		m.health();
		const f = await scrape(metrics.text);
		const labels = { pool: "warm", kind: "pool" };
		assert.equal(sampleOf(f, MetricName.healthChecksTotal, { ...labels, result: "warn" }), 1);
		assert.equal(sampleOf(f, MetricName.healthChecksTotal, { ...labels, result: "pass" }), 2);
		assert.equal(sampleOf(f, MetricName.healthChecksTotal, { ...labels, result: "fail" }), 0);
	});

	it("labels a SQL-style client's pools <client>/<label> with its kind, HTTP origins with host, and breakers by target", async () => {
		const m = managed();
		const primary = createPool({ ...counter(), name: "p" });
		const replica = createPool({ ...counter(), name: "r" });
		const db: ManagedClient = {
			name: "db",
			kind: "postgres",
			pools: () => [
				{ label: "primary", pool: primary },
				{ label: "replica[0]", pool: replica },
			],
			start: async () => {},
			close: async () => {
				await Promise.all([primary.close(), replica.close()]);
			},
			[Symbol.asyncDispose]: async () => {},
		};
		const origins = createKeyedPool<string, { id: number }>({ name: "api", create: counter().create });
		const breakers: BreakerView[] = [{ label: "https://a.example", state: "open", failures: 3 }];
		const api: ManagedClient = {
			name: "api",
			kind: "http",
			pools: () => origins.keys().map((key) => ({ label: key, pool: origins.pool(key) })),
			breakers: () => breakers,
			start: async () => {},
			close: () => origins.close(),
			[Symbol.asyncDispose]: () => origins.close(),
		};
		m.add(db);
		m.add(api);
		const metrics = await createPrometheusMetrics(m);
		cleanups.push(() => metrics.close());
		(await primary.acquire()).release();
		(await origins.acquire("https://a.example")).release();
		const f = await scrape(metrics.text);
		assert.equal(sampleOf(f, MetricName.createdTotal, { pool: "db/primary", kind: "postgres" }), 1);
		assert.equal(sampleOf(f, MetricName.createdTotal, { pool: "db/replica[0]", kind: "postgres" }), 0);
		assert.equal(sampleOf(f, MetricName.createdTotal, { pool: "api/https://a.example", kind: "http", host: "https://a.example" }), 1);
		assert.equal(sampleOf(f, MetricName.circuitBreakerOpen, { pool: "api", kind: "http", breaker: "https://a.example" }), 1);
		const dbSeries = f.get(MetricName.totalConnections)?.samples.find((s) => s.labels.pool === "db/primary");
		assert.equal(dbSeries?.labels.host, undefined, "only HTTP series carry host");
	});
});

describe("counters never go down", () => {
	it("resetStats() starts a new window in stats() but every exported counter and histogram count keeps growing", async () => {
		const m = managed();
		const pool = m.create("orders", { ...counter(), max: 2 });
		const metrics = await createPrometheusMetrics(m);
		cleanups.push(() => metrics.close());
		await knownTraffic(pool as Pool<unknown>);
		const before = await scrape(metrics.text);
		m.resetStats();
		assert.equal(m.stats().orders.waitMs.count, 0, "the pool's own window was reset");
		const afterReset = await scrape(metrics.text);
		(await pool.acquire()).release();
		const later = await scrape(metrics.text);
		for (const [name, family] of before) {
			if (family.type !== "counter" && family.type !== "histogram") continue;
			for (const sample of family.samples) {
				if (family.type === "histogram" && !sample.name.endsWith("_count") && !sample.name.endsWith("_bucket")) continue;
				const at = (f: Map<string, ParsedFamily>) =>
					f.get(name)?.samples.find((s) => s.name === sample.name && JSON.stringify(s.labels) === JSON.stringify(sample.labels))?.value;
				assert.ok((at(afterReset) ?? -1) >= sample.value, `${sample.name}${JSON.stringify(sample.labels)} after resetStats`);
				assert.ok((at(later) ?? -1) >= sample.value, `${sample.name}${JSON.stringify(sample.labels)} later`);
			}
		}
		assert.equal(sampleOf(later, MetricName.waitSeconds, { pool: "orders" }, `${MetricName.waitSeconds}_count`), 13);
	});
});

describe("registry and scraping", () => {
	it("goes on the user's registry beside their own metrics, and close() takes only lifeguard's off", async () => {
		const m = managed();
		m.create("orders", counter());
		const registry = new Registry();
		const mine = new Counter({ name: "app_requests_total", help: "requests", registers: [registry] });
		mine.inc(3);
		const metrics = await createPrometheusMetrics(m, { registry });
		assert.equal(metrics.registry, registry);
		assert.equal(metrics.contentType, "text/plain; version=0.0.4; charset=utf-8");
		let f = parsePrometheusText(await registry.metrics());
		assert.equal(sampleOf(f, "app_requests_total", {}), 3);
		assert.equal(sampleOf(f, MetricName.totalConnections, { pool: "orders" }), 0);
		metrics.close();
		f = parsePrometheusText(await registry.metrics());
		assert.equal(f.has(MetricName.totalConnections), false);
		assert.equal(sampleOf(f, "app_requests_total", {}), 3);
	});

	it("its own registry's fast text is what prom-client's formatter prints for the same values", async () => {
		const m = managed();
		const pool = m.create("orders", { ...counter(), max: 2 });
		await knownTraffic(pool as Pool<unknown>);
		m.create('we"ird\\name\nwith a newline', counter());
		const own = await createPrometheusMetrics(m, { histograms: false });
		const registry = new Registry();
		const theirs = await createPrometheusMetrics(m, { registry, histograms: false });
		cleanups.push(
			() => own.close(),
			() => theirs.close(),
		);
		const [a, b] = [await own.text(), await registry.metrics()];
		const normalise = (text: string) =>
			[...parsePrometheusText(text).values()].map((f) => ({ ...f, samples: f.samples.filter((s) => !s.name.includes("error_rate")) }));
		assert.deepEqual(normalise(a), normalise(b));
		assert.equal(sampleOf(parsePrometheusText(a), MetricName.maxConnections, { pool: 'we"ird\\name\nwith a newline' }), 10);
	});

	it("starts no timer: values are read at scrape time", async () => {
		const m = managed();
		const pool = m.create("orders", counter());
		const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
		const before = timers();
		const metrics = await createPrometheusMetrics(m);
		cleanups.push(() => metrics.close());
		assert.equal(timers(), before);
		const lease = await pool.acquire();
		assert.equal(sampleOf(await scrape(metrics.text), MetricName.activeConnections, { pool: "orders" }), 1);
		lease.release();
		assert.equal(sampleOf(await scrape(metrics.text), MetricName.activeConnections, { pool: "orders" }), 0);
	});

	it("families() gives the same values as JSON", async () => {
		const m = managed();
		m.create("orders", { ...counter(), max: 7 });
		const metrics = await createPrometheusMetrics(m);
		cleanups.push(() => metrics.close());
		const max = metrics.families().find((f) => f.name === MetricName.maxConnections);
		assert.deepEqual(max?.samples, [{ name: MetricName.maxConnections, labels: { pool: "orders", kind: "pool" }, value: 7 }]);
		assert.deepEqual(JSON.parse(JSON.stringify(metrics.families())), metrics.families());
	});

	it("picks up pools and clients added after it was created", async () => {
		const m = managed();
		const metrics = await createPrometheusMetrics(m);
		cleanups.push(() => metrics.close());
		const late = m.create("late", counter());
		(await late.acquire()).release();
		const f = await scrape(metrics.text);
		assert.equal(sampleOf(f, MetricName.usageSeconds, { pool: "late" }, `${MetricName.usageSeconds}_count`), 1);
	});
});

describe("OpenTelemetry", () => {
	it("reports the db.client.connection.* instruments for pools and http.client.* for HTTP origins", async () => {
		const m = managed();
		const orders = m.create("orders", { ...counter(), max: 3, min: 1 });
		const origins = createKeyedPool<string, { id: number }>({ name: "api", create: counter().create });
		m.add({
			name: "api",
			kind: "http",
			pools: () => origins.keys().map((key) => ({ label: key, pool: origins.pool(key) })),
			start: async () => {},
			close: () => origins.close(),
			[Symbol.asyncDispose]: () => origins.close(),
		});
		const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
		const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
		const provider = new MeterProvider({ readers: [reader] });
		cleanups.push(() => provider.shutdown());
		const otel = await createOpenTelemetryMetrics(m, { meterProvider: provider });
		cleanups.push(() => otel.close());
		await m.start();
		const held = await orders.acquire();
		(await orders.acquire()).release();
		origins.pool("https://api.example:8443");
		// A collection picks up the origin pool the client opened (metrics sync their pool list when read).
		await reader.forceFlush();
		const apiLeases = await Promise.all([origins.acquire("https://api.example:8443"), origins.acquire("https://api.example:8443")]);
		for (const lease of apiLeases) lease.release();
		await origins.remove("https://api.example:8443");
		(await origins.acquire("https://other.example")).release();

		await reader.forceFlush();
		const metrics =
			exporter
				.getMetrics()
				.at(-1)
				?.scopeMetrics.flatMap((s) => s.metrics) ?? [];
		const byName = new Map(metrics.map((md) => [md.descriptor.name, md]));
		for (const name of Object.values(OtelName)) assert.ok(byName.has(name), `${name} reported`);
		const points = (name: string) => byName.get(name)?.dataPoints ?? [];
		const point = (name: string, attrs: Record<string, unknown>) =>
			points(name).find((p) => Object.entries(attrs).every(([k, v]) => p.attributes[k] === v))?.value as unknown;
		const pool = { "db.client.connection.pool.name": "orders" };
		assert.equal(point(OtelName.connectionCount, { ...pool, "db.client.connection.state": "used" }), 1);
		assert.equal(point(OtelName.connectionCount, { ...pool, "db.client.connection.state": "idle" }), 1);
		assert.equal(point(OtelName.connectionMax, pool), 3);
		assert.equal(point(OtelName.idleMin, pool), 1);
		assert.equal(point(OtelName.idleMax, pool), 3);
		assert.equal(point(OtelName.pendingRequests, pool), 0);
		assert.equal(point(OtelName.timeouts, pool), 0);
		const hist = (name: string, attrs: Record<string, unknown>) => point(name, attrs) as { count: number; sum: number } | undefined;
		assert.equal(hist(OtelName.waitTime, pool)?.count, 2);
		assert.equal(hist(OtelName.useTime, pool)?.count, 1);
		assert.equal(hist(OtelName.createTime, pool)?.count, 2);
		assert.equal(byName.get(OtelName.waitTime)?.descriptor.unit, "s");
		const origin = { "server.address": "api.example", "server.port": 8443, "url.scheme": "https" };
		assert.equal(hist(OtelName.httpConnectionDuration, origin)?.count, 2, "both connections of the closed pool");
		assert.equal(point(OtelName.httpOpenConnections, { "server.address": "other.example", "server.port": 443, "http.connection.state": "idle" }), 1);
		assert.ok(
			points(OtelName.connectionCount).every((p) => p.attributes["db.client.connection.pool.name"] === "orders"),
			"HTTP origins are not reported as db.client connections",
		);
		held.release();
	});
});
