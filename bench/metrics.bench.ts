/**
 * Time of one Prometheus scrape with 100 pools (a mix of bare pools and two-pool clients, every
 * pool with traffic), lifeguard's exporter against the usual hand-written prom-client Gauges
 * with collect() callbacks exporting only five gauges per pool, in the same run.
 */
import { Gauge, Registry } from "prom-client";
import { createPool } from "../src/core/pool.ts";
import { PoolManager } from "../src/manager/manager.ts";
import { createPrometheusMetrics } from "../src/observe/metrics/index.ts";

export const name = "metrics";

const POOLS = 100;
const ROUNDS = 200;

async function timeScrapes(
	scrape: () => Promise<string>,
): Promise<{ p50Ms: number; p99Ms: number; meanMs: number; bytes: number; series: number; usPerSeries: number }> {
	for (let i = 0; i < 20; i++) await scrape();
	const times: number[] = [];
	let text = "";
	for (let i = 0; i < ROUNDS; i++) {
		const started = performance.now();
		text = await scrape();
		times.push(performance.now() - started);
	}
	const series = text.split("\n").filter((line) => line !== "" && !line.startsWith("#")).length;
	times.sort((a, b) => a - b);
	const mean = times.reduce((a, b) => a + b, 0) / times.length;
	const round = (ms: number) => Math.round(ms * 1000) / 1000;
	const p50 = times[times.length >> 1];
	return {
		p50Ms: round(p50),
		p99Ms: round(times[Math.floor(times.length * 0.99)]),
		meanMs: round(mean),
		bytes: text.length,
		series,
		usPerSeries: round((p50 * 1000) / series),
	};
}

export async function run(): Promise<Record<string, unknown>> {
	const manager = new PoolManager();
	let next = 0;
	const options = { create: () => ({ id: ++next }), max: 10 };
	for (let i = 0; i < POOLS / 2; i++) manager.create(`pool-${i}`, options);
	for (let i = 0; i < POOLS / 4; i++) {
		const primary = createPool({ ...options, name: `db-${i}-primary` });
		const replica = createPool({ ...options, name: `db-${i}-replica` });
		manager.add({
			name: `db-${i}`,
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
		});
	}
	const lifeguard = await createPrometheusMetrics(manager);
	for (const pool of manager.managedPools()) {
		const view = pool.pool as unknown as ReturnType<typeof createPool>;
		for (let i = 0; i < 20; i++) (await view.acquire()).release();
	}

	const peerRegistry = new Registry();
	const views = manager.pools();
	const gauge = (metric: string, read: (s: ReturnType<(typeof views)[0]["stats"]>) => number) =>
		new Gauge({
			name: metric,
			help: metric,
			labelNames: ["pool"],
			registers: [peerRegistry],
			collect() {
				for (const view of views) {
					const s = view.stats();
					this.set({ pool: s.name }, read(s));
				}
			},
		});
	gauge("peer_active", (s) => s.active);
	gauge("peer_idle", (s) => s.idle);
	gauge("peer_total", (s) => s.total);
	gauge("peer_pending", (s) => s.pending);
	gauge("peer_created", (s) => s.created);

	const result = {
		pools: manager.managedPools().length,
		lifeguard: await timeScrapes(() => lifeguard.text()),
		handWrittenGauges5PerPool: await timeScrapes(() => peerRegistry.metrics()),
	};
	lifeguard.close();
	await manager.close();
	return result;
}
