import { performance } from "node:perf_hooks";
import type { Attributes, BatchObservableResult, Histogram, Meter, MeterProvider, Observable } from "@opentelemetry/api";
import { ClientKind } from "../../manager/client.ts";
import type { ManagedPool, PoolManager } from "../../manager/manager.ts";
import { importOptional } from "../optional-import.ts";
import { PoolTap } from "../pool-tap.ts";
import { DEFAULT_BUCKETS } from "./names.ts";

/** The OpenTelemetry semantic-convention instrument names lifeguard reports. */
export const OtelName = {
	connectionCount: "db.client.connection.count",
	connectionMax: "db.client.connection.max",
	idleMin: "db.client.connection.idle.min",
	idleMax: "db.client.connection.idle.max",
	pendingRequests: "db.client.connection.pending_requests",
	timeouts: "db.client.connection.timeouts",
	createTime: "db.client.connection.create_time",
	waitTime: "db.client.connection.wait_time",
	useTime: "db.client.connection.use_time",
	httpOpenConnections: "http.client.open_connections",
	httpConnectionDuration: "http.client.connection.duration",
} as const;

export interface OpenTelemetryMetricsOptions {
	/** The meter to create instruments on. Default: `meterProvider.getMeter("lifeguard")`. */
	meter?: Meter;
	/** Where to get the meter from. Default: the global provider of `@opentelemetry/api`. */
	meterProvider?: MeterProvider;
}

export interface OpenTelemetryMetrics {
	/** Stops reporting: removes the observable callback and stops listening to the pools. */
	close(): void;
}

const POOL = "db.client.connection.pool.name";
const STATE = "db.client.connection.state";

/**
 * Reports every pool of every client in `manager` through OpenTelemetry with the semantic
 * conventions: `db.client.connection.*` for database, cache and other pools, and
 * `http.client.open_connections` / `http.client.connection.duration` for HTTP clients' origins.
 * Gauges are observed when the SDK collects; durations are recorded from the pools' events.
 * `@opentelemetry/api` is an optional peer dependency (DRIVER_MISSING when absent and no meter is given).
 */
export async function createOpenTelemetryMetrics(manager: PoolManager, options: OpenTelemetryMetricsOptions = {}): Promise<OpenTelemetryMetrics> {
	let meter = options.meter;
	if (meter === undefined) {
		const provider =
			options.meterProvider ?? (await importOptional(() => import("@opentelemetry/api"), "@opentelemetry/api", "lifeguard/metrics (OpenTelemetry)")).metrics;
		meter = provider.getMeter("lifeguard");
	}
	const advice = { explicitBucketBoundaries: [...DEFAULT_BUCKETS] };
	const count = meter.createObservableUpDownCounter(OtelName.connectionCount, { unit: "{connection}", description: "Connections by state (idle, used)" });
	const max = meter.createObservableUpDownCounter(OtelName.connectionMax, { unit: "{connection}", description: "Most open connections allowed" });
	const idleMin = meter.createObservableUpDownCounter(OtelName.idleMin, { unit: "{connection}", description: "Fewest idle connections kept open (min)" });
	const idleMax = meter.createObservableUpDownCounter(OtelName.idleMax, { unit: "{connection}", description: "Most idle connections allowed" });
	const pending = meter.createObservableUpDownCounter(OtelName.pendingRequests, { unit: "{request}", description: "Callers waiting for a connection" });
	const timeouts = meter.createObservableCounter(OtelName.timeouts, { unit: "{timeout}", description: "Acquires that timed out" });
	const httpOpen = meter.createObservableUpDownCounter(OtelName.httpOpenConnections, {
		unit: "{connection}",
		description: "Open HTTP connections by state (active, idle)",
	});
	const createTime = meter.createHistogram(OtelName.createTime, { unit: "s", description: "Time to open a connection", advice });
	const waitTime = meter.createHistogram(OtelName.waitTime, { unit: "s", description: "Time to obtain a connection from the pool", advice });
	const useTime = meter.createHistogram(OtelName.useTime, { unit: "s", description: "Time between borrowing a connection and returning it", advice });
	const httpDuration = meter.createHistogram(OtelName.httpConnectionDuration, { unit: "s", description: "How long HTTP connections stayed open", advice });

	// Per pool, per connection: when its lease began (NaN between leases). An entry lives as long as its
	// connection: written over at each lease rather than deleted and re-added, which would churn the map
	// once per lease (see src/core/linked-set.ts for what that costs the collector).
	const leasedAt = new Map<object, Map<number, number>>();
	const openedAt = new Map<object, Map<number, number>>();
	const mapOf = (maps: Map<object, Map<number, number>>, key: object) => {
		let m = maps.get(key);
		if (m === undefined) maps.set(key, (m = new Map()));
		return m;
	};
	const record = (h: Histogram, pool: ManagedPool, seconds: number) => {
		if (!Number.isNaN(seconds)) h.record(seconds, attributesOf(pool));
	};
	const tap = new PoolTap(manager, {
		connectionReady: (pool, e) => {
			if (isHttp(pool)) mapOf(openedAt, pool.pool).set(e.connectionId, performance.now());
			else record(createTime, pool, e.durationMs / 1000);
		},
		connectionClosed: (pool, e) => {
			leasedAt.get(pool.pool)?.delete(e.connectionId);
			const opened = openedAt.get(pool.pool);
			const at = opened?.get(e.connectionId);
			if (opened === undefined || at === undefined) return;
			opened.delete(e.connectionId);
			record(httpDuration, pool, (performance.now() - at) / 1000);
		},
		acquired: (pool, e) => {
			if (isHttp(pool)) return;
			record(waitTime, pool, e.durationMs / 1000);
			mapOf(leasedAt, pool.pool).set(e.connectionId, performance.now());
		},
		released: (pool, e) => {
			const leases = leasedAt.get(pool.pool);
			const at = leases?.get(e.connectionId);
			if (leases === undefined || at === undefined || Number.isNaN(at)) return;
			leases.set(e.connectionId, Number.NaN);
			record(useTime, pool, (performance.now() - at) / 1000);
		},
	});

	const observe = (result: BatchObservableResult) => {
		const pools = tap.sync();
		const live = new Set<object>(pools.map((p) => p.pool));
		for (const maps of [leasedAt, openedAt]) for (const key of maps.keys()) if (!live.has(key)) maps.delete(key);
		for (const pool of pools) {
			const s = pool.pool.stats();
			const attrs = attributesOf(pool);
			if (isHttp(pool)) {
				result.observe(httpOpen, s.active, { ...attrs, "http.connection.state": "active" });
				result.observe(httpOpen, s.idle, { ...attrs, "http.connection.state": "idle" });
				continue;
			}
			result.observe(count, s.idle, { ...attrs, [STATE]: "idle" });
			result.observe(count, s.active, { ...attrs, [STATE]: "used" });
			result.observe(max, s.max, attrs);
			result.observe(idleMin, s.min, attrs);
			result.observe(idleMax, s.max, attrs);
			result.observe(pending, s.pending, attrs);
			result.observe(timeouts, s.acquires.timeouts, attrs);
		}
	};
	const observables: Observable[] = [count, max, idleMin, idleMax, pending, timeouts, httpOpen];
	meter.addBatchObservableCallback(observe, observables);
	return {
		close: () => {
			meter.removeBatchObservableCallback(observe, observables);
			tap.dispose();
		},
	};
}

function isHttp(pool: ManagedPool): boolean {
	return pool.client.kind === ClientKind.http;
}

/** Pool name for database-style pools; server address, port and scheme for an HTTP origin. */
function attributesOf(pool: ManagedPool): Attributes {
	if (!isHttp(pool)) return { [POOL]: pool.id };
	try {
		const url = new URL(pool.label);
		const port = url.port === "" ? (url.protocol === "https:" ? 443 : 80) : Number(url.port);
		return { "server.address": url.hostname, "server.port": port, "url.scheme": url.protocol.slice(0, -1) };
	} catch {
		return { "server.address": pool.label };
	}
}
