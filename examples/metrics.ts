/**
 * Every pool of a PoolManager in Prometheus and OpenTelemetry: some traffic, one scrape of the
 * text format, the same values as JSON, and the OTel instruments read through the SDK.
 * Run: npx node examples/metrics.ts
 */
import { InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
import { PoolManager } from "../src/manager/manager.ts";
import { createOpenTelemetryMetrics, createPrometheusMetrics } from "../src/observe/metrics/index.ts";

let next = 0;
const manager = new PoolManager();
const orders = manager.create("orders", { create: () => ({ id: ++next }), max: 2 });

const prometheus = await createPrometheusMetrics(manager);
const exporter = new InMemoryMetricExporter(0);
const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
const provider = new MeterProvider({ readers: [reader] });
const otel = await createOpenTelemetryMetrics(manager, { meterProvider: provider });

for (let i = 0; i < 10; i++) await orders.use(async () => new Promise((resolve) => setTimeout(resolve, 2)));
const held = [await orders.acquire(), await orders.acquire()];
await orders.acquire({ timeoutMs: 10 }).catch((error) => console.log(`an acquire timed out: ${error.code}`));
for (const lease of held) lease.release();

const text = await prometheus.text();
console.log("# a few lines of the Prometheus scrape:");
for (const line of text.split("\n")) {
	if (/^connection_pool_(size|errors_total\{.*timeout|efficiency|wait_seconds_count)/.test(line)) console.log(line);
}
const json = prometheus.families().find((f) => f.name === "connection_pool_utilization");
console.log("# as JSON:", JSON.stringify(json?.samples));

await reader.forceFlush();
const names = exporter
	.getMetrics()
	.at(-1)
	?.scopeMetrics.flatMap((s) => s.metrics.map((m) => m.descriptor.name));
console.log("# OpenTelemetry instruments:", names?.join(", "));

otel.close();
prometheus.close();
await provider.shutdown();
await manager.close();
