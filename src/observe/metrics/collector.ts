import { performance } from "node:perf_hooks";
import type { PoolStats } from "../../core/stats.ts";
import type { DistributedDetails } from "../../distributed/managed-client.ts";
import { ClientKind, type ManagedClient, type PoolView } from "../../manager/client.ts";
import { RecentErrorRate } from "../../manager/error-rate.ts";
import type { ManagedPool, PoolManager } from "../../manager/manager.ts";
import { PoolTap } from "../pool-tap.ts";
import { CumulativeHistogram } from "./cumulative-histogram.ts";
import { DEFAULT_BUCKETS, METRICS, MetricName, type MetricType } from "./names.ts";

/** One exported value: its series name (with `_bucket`, `_sum`, `_count` for histograms) and labels. */
export interface Sample {
	name: string;
	labels: Record<string, string>;
	value: number;
}

/** One metric with all its series, as Prometheus and `/metrics?format=json` show it. */
export interface MetricFamily {
	name: MetricName;
	type: MetricType;
	help: string;
	samples: Sample[];
}

export interface CollectorOptions {
	/**
	 * Export the wait, use and request-duration histograms. They are fed by the pools' `acquired`
	 * and `released` events, which makes every lease timed (a clock read per acquire and release).
	 * Default true.
	 */
	histograms?: boolean;
	/** Histogram bucket bounds in seconds. Default {@link DEFAULT_BUCKETS}. */
	buckets?: readonly number[];
}

interface PoolDurations {
	wait: CumulativeHistogram;
	use: CumulativeHistogram;
	request: CumulativeHistogram;
	/** Leases in flight: connection id → when acquired and how long the caller waited (ms). */
	leases: Map<number, { at: number; waitMs: number }>;
}

const S = MetricName;

/**
 * Reads every pool of every client in a manager into metric families when asked (a scrape), with
 * no timer of its own. Gauges and counters come from `stats()` (cumulative counters: they never
 * go down, `resetStats()` or not); histograms from the pools' events since the collector began.
 * One snapshot serves every metric of one scrape.
 */
export class PoolMetricsCollector {
	readonly #manager: PoolManager;
	readonly #buckets: readonly number[];
	readonly #durations = new Map<PoolView, PoolDurations>();
	readonly #errorRates = new Map<PoolView, RecentErrorRate>();
	readonly #tap: PoolTap;
	#cached: MetricFamily[] | undefined;

	constructor(manager: PoolManager, options: CollectorOptions = {}) {
		this.#manager = manager;
		this.#buckets = [...(options.buckets ?? DEFAULT_BUCKETS)].sort((a, b) => a - b);
		const histograms = options.histograms ?? true;
		this.#tap = new PoolTap(
			manager,
			histograms
				? {
						acquired: (pool, e) => this.#durationsOf(pool.pool).leases.set(e.connectionId, { at: performance.now(), waitMs: e.durationMs }),
						released: (pool, e) => this.#released(pool.pool, e.connectionId),
						connectionClosed: (pool, e) => this.#durations.get(pool.pool)?.leases.delete(e.connectionId),
					}
				: {},
		);
	}

	/** Every metric family now. Calls within one synchronous turn share one snapshot of the pools. */
	collect(): MetricFamily[] {
		if (this.#cached !== undefined) return this.#cached;
		const families = this.#snapshot();
		this.#cached = families;
		queueMicrotask(() => (this.#cached = undefined));
		return families;
	}

	/** Stops listening to the pools. */
	dispose(): void {
		this.#tap.dispose();
		this.#durations.clear();
	}

	#durationsOf(pool: PoolView): PoolDurations {
		let d = this.#durations.get(pool);
		if (d === undefined) {
			const b = this.#buckets;
			d = { wait: new CumulativeHistogram(b), use: new CumulativeHistogram(b), request: new CumulativeHistogram(b), leases: new Map() };
			this.#durations.set(pool, d);
		}
		return d;
	}

	#released(pool: PoolView, connectionId: number): void {
		const d = this.#durations.get(pool);
		const lease = d?.leases.get(connectionId);
		if (d === undefined || lease === undefined) return;
		d.leases.delete(connectionId);
		const useMs = performance.now() - lease.at;
		d.wait.observe(lease.waitMs / 1000);
		d.use.observe(useMs / 1000);
		d.request.observe((lease.waitMs + useMs) / 1000);
	}

	#snapshot(): MetricFamily[] {
		const families = new Map<MetricName, MetricFamily>(METRICS.map((m) => [m.name, { name: m.name, type: m.type, help: m.help, samples: [] }]));
		const add = (name: MetricName, labels: Record<string, string>, value: number, suffix = "") => {
			families.get(name)?.samples.push({ name: name + suffix, labels, value });
		};
		const pools = this.#tap.sync();
		const live = new Set(pools.map((p) => p.pool));
		for (const view of this.#durations.keys()) if (!live.has(view)) this.#durations.delete(view);
		for (const view of this.#errorRates.keys()) if (!live.has(view)) this.#errorRates.delete(view);
		const checks = this.#manager.healthChecks();
		const now = performance.now();
		for (const managed of pools) {
			const stats = managed.pool.stats();
			const labels = labelsOf(managed);
			this.#poolSamples(add, managed, stats, labels, now);
			const counts = checks[managed.id] ?? { pass: 0, warn: 0, fail: 0 };
			for (const [result, n] of Object.entries(counts)) add(S.healthChecksTotal, { ...labels, result }, n);
			const d = this.#durations.get(managed.pool);
			if (d !== undefined) {
				this.#histogramSamples(add, S.waitSeconds, d.wait, labels);
				this.#histogramSamples(add, S.usageSeconds, d.use, labels);
				this.#histogramSamples(add, S.requestDurationSeconds, d.request, labels);
			} else {
				for (const name of [S.waitSeconds, S.usageSeconds, S.requestDurationSeconds]) this.#histogramSamples(add, name, undefined, labels);
			}
		}
		for (const client of this.#manager.clients()) {
			breakerSamples(add, client);
			distributedSamples(add, client);
		}
		return [...families.values()];
	}

	#poolSamples(add: Add, managed: ManagedPool, s: PoolStats, labels: Record<string, string>, now: number): void {
		let rate = this.#errorRates.get(managed.pool);
		if (rate === undefined) this.#errorRates.set(managed.pool, (rate = new RecentErrorRate()));
		add(S.size, { ...labels, state: "idle" }, s.idle);
		add(S.size, { ...labels, state: "active" }, s.active);
		add(S.size, { ...labels, state: "creating" }, s.creating);
		add(S.size, { ...labels, state: "total" }, s.total);
		add(S.pendingRequests, labels, s.pending);
		add(S.activeConnections, labels, s.active);
		add(S.totalConnections, labels, s.total);
		add(S.failedConnections, labels, s.createFailures);
		const lostToErrors = Math.max(0, s.destroyedByReason.error - s.validationFailures);
		const errors: Record<string, number> = {
			timeout: s.acquires.timeouts,
			queue_full: s.acquires.queueFull,
			aborted: s.acquires.aborted,
			closed: s.acquires.closed,
			create: s.createFailures,
			validation: s.validationFailures,
			connection: lostToErrors,
			leak: s.leaks,
		};
		for (const [type, n] of Object.entries(errors)) add(S.errorsTotal, { ...labels, type }, n);
		add(S.utilization, labels, s.utilization);
		add(S.errorRate, labels, rate.read(s, now));
		add(S.efficiency, labels, s.reuseRatio);
		add(S.minConnections, labels, s.min);
		add(S.maxConnections, labels, s.max);
		add(S.createdTotal, labels, s.created);
		for (const [reason, n] of Object.entries(s.destroyedByReason)) add(S.closedTotal, { ...labels, reason }, n);
		add(S.healthScore, labels, s.healthScore);
	}

	#histogramSamples(add: Add, name: MetricName, h: CumulativeHistogram | undefined, labels: Record<string, string>): void {
		const cumulative = h?.cumulative() ?? this.#buckets.map(() => 0);
		for (let i = 0; i < this.#buckets.length; i++) add(name, { ...labels, le: String(this.#buckets[i]) }, cumulative[i], "_bucket");
		add(name, { ...labels, le: "+Inf" }, h?.count ?? 0, "_bucket");
		add(name, labels, h?.sum ?? 0, "_sum");
		add(name, labels, h?.count ?? 0, "_count");
	}
}

type Add = (name: MetricName, labels: Record<string, string>, value: number, suffix?: string) => void;

/** pool and kind on every series; host as well for an HTTP client's origin pools. */
function labelsOf(managed: ManagedPool): Record<string, string> {
	const labels: Record<string, string> = { pool: managed.id, kind: managed.client.kind };
	if (managed.client.kind === ClientKind.http) labels.host = managed.label;
	return labels;
}

const BREAKER_VALUE = { closed: 0, halfOpen: 0.5, open: 1 } as const;

function breakerSamples(add: Add, client: ManagedClient): void {
	for (const breaker of client.breakers?.() ?? []) {
		add(S.circuitBreakerOpen, { pool: client.name, kind: client.kind, breaker: breaker.label }, BREAKER_VALUE[breaker.state]);
	}
}

/**
 * A distributedClient's budgets, rate limits and shard maps, from its `details()` (the same
 * figures the admin API shows). Matched by kind so that metrics need not load lifeguard/distributed.
 */
function distributedSamples(add: Add, client: ManagedClient): void {
	if (client.kind !== "distributed" || client.details === undefined) return;
	const d = client.details() as Partial<DistributedDetails>;
	const base = { pool: client.name, kind: client.kind };
	for (const b of d.budgets ?? []) {
		const labels = { ...base, resource: b.resource };
		add(S.budgetLimit, labels, b.limit);
		add(S.budgetHeld, labels, b.held);
		add(S.budgetUsed, labels, b.used);
		add(S.budgetBorrowed, labels, b.borrowed);
		add(S.budgetOwed, labels, b.owed);
		add(S.budgetShare, labels, b.share);
		add(S.budgetAllowed, labels, b.allowed);
		add(S.budgetWaiting, labels, b.waiting);
		add(S.budgetProcesses, labels, b.processes);
		add(S.budgetFallback, labels, b.fallback ? 1 : 0);
		add(S.budgetSyncFailures, labels, b.syncFailures);
	}
	for (const r of d.rateLimits ?? []) {
		const labels = { ...base, limit: r.name };
		add(S.rateLimitAdmitted, { ...labels, source: "redis" }, r.allowed - r.allowedLocally);
		add(S.rateLimitAdmitted, { ...labels, source: "local" }, r.allowedLocally);
		add(S.rateLimitRefused, labels, r.refused);
		add(S.rateLimitWaited, labels, r.waited);
		add(S.rateLimitProcesses, labels, r.processes);
		add(S.rateLimitFallback, labels, r.fallback ? 1 : 0);
	}
	for (const m of d.shards ?? []) {
		const labels = { ...base, shard_map: m.name };
		add(S.shardCount, labels, m.shardCount);
		add(S.shardOwned, labels, m.owners.filter((o) => o === m.processId).length);
		add(S.shardProcesses, labels, new Set(m.owners.filter((o) => o !== "")).size);
		add(S.shardReachable, labels, m.reachable ? 1 : 0);
	}
}
