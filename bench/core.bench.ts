/**
 * Acquire+release throughput of lifeguard against generic-pool, tarn and a naive pool, in one
 * process and one run, with pools interleaved round by round so machine drift hits all alike.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import genericPool from "generic-pool";
import tarn from "tarn";
import { createPool } from "../src/index.ts";
import { NaivePool } from "./naive-pool.ts";
import { median } from "./rounds.ts";

export interface Contender {
	name: string;
	acquire(): Promise<unknown>;
	release(handle: unknown): void;
	close(): Promise<void>;
}

interface Resource {
	id: number;
}

const SIZE = 10;
const execFileAsync = promisify(execFile);

async function makeContenders(): Promise<Contender[]> {
	let next = 0;
	const make = (): Resource => ({ id: next++ });

	const lifeguard = createPool<Resource>({ name: "bench", create: make, min: SIZE, max: SIZE });
	await lifeguard.start();

	const gp = genericPool.createPool<Resource>({ create: async () => make(), destroy: async () => {} }, { min: SIZE, max: SIZE });
	await gp.ready();

	const tp = new tarn.Pool<Resource>({ create: (cb: (err: Error | null, r: Resource) => void) => cb(null, make()), destroy: () => {}, min: SIZE, max: SIZE });
	await Promise.all(Array.from({ length: SIZE }, () => tp.acquire().promise)).then((rs) => {
		for (const r of rs) tp.release(r);
	});

	const naive = new NaivePool<Resource>(Array.from({ length: SIZE }, make));

	return [
		{
			name: "lifeguard",
			acquire: () => lifeguard.acquire(),
			release: (lease) => (lease as { release(): void }).release(),
			close: () => lifeguard.close(),
		},
		{ name: "generic-pool", acquire: () => gp.acquire(), release: (r) => void gp.release(r as Resource), close: () => gp.drain().then(() => gp.clear()) },
		{ name: "tarn", acquire: () => tp.acquire().promise, release: (r) => tp.release(r as Resource), close: () => tp.destroy().then(() => {}) },
		{ name: "naive", acquire: () => naive.acquire(), release: (r) => naive.release(r as Resource), close: async () => {} },
	];
}

type Loop = (c: Contender, callers: number, cycles: number) => Promise<number>;

const LOOP_SOURCE = `return async function throughput(c, callers, cycles) {
	let started = 0;
	const t0 = performance.now();
	const loop = async () => {
		while (started < cycles) {
			started++;
			const handle = await c.acquire();
			c.release(handle);
		}
	};
	await Promise.all(Array.from({ length: callers }, loop));
	return cycles / ((performance.now() - t0) / 1000);
};`;

/**
 * `callers` loops acquire → release until `cycles` are done; returns cycles per second. Each
 * contender gets its own compiled copy of the loop, so one pool's call sites never make another
 * pool's megamorphic: each is measured as an application using one pool would run it.
 */
export function makeLoop(): Loop {
	return new Function(LOOP_SOURCE)() as Loop;
}

type Spike = (c: Contender, concurrent: number) => Promise<number[]>;

const SPIKE_SOURCE = `return async function spike(c, concurrent) {
	const waits = [];
	await Promise.all(
		Array.from({ length: concurrent }, async () => {
			const t = performance.now();
			const handle = await c.acquire();
			waits.push(performance.now() - t);
			await new Promise((r) => setImmediate(r));
			c.release(handle);
		}),
	);
	return waits.sort((a, b) => a - b);
};`;

/** 1,000 acquires at once on a pool of 10, each held for one macrotask; the harness times every wait (own compiled copy per contender). */
export function makeSpike(): Spike {
	return new Function(SPIKE_SOURCE)() as Spike;
}

function quantile(sorted: number[], q: number): number {
	return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

function round(x: number, digits = 3): number {
	const f = 10 ** digits;
	return Math.round(x * f) / f;
}

export const name = "core";

const PROCESSES = 3;

/**
 * The whole comparison runs in PROCESSES fresh processes, every contender in each, and the
 * median of each figure over the processes is reported. Within one process the rounds alternate
 * between pools; across processes the figures still vary by up to a third with how V8 happened
 * to optimise each hot path, and one process would report that luck as the result.
 */
export async function run(): Promise<Record<string, unknown>> {
	const runs: CoreResult[] = [];
	for (let i = 0; i < PROCESSES; i++) {
		const { stdout } = await execFileAsync(process.execPath, [fileURLToPath(import.meta.url)], { maxBuffer: 1 << 20 });
		runs.push(JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as CoreResult);
	}
	const pools: CoreResult["pools"] = {};
	for (const pool of Object.keys(runs[0].pools)) {
		const of = (pick: (r: PoolFigures) => number) => round(median(runs.map((r) => pick(r.pools[pool]))));
		pools[pool] = {
			caller1OpsPerSec: Math.round(of((p) => p.caller1OpsPerSec)),
			callers100OpsPerSec: Math.round(of((p) => p.callers100OpsPerSec)),
			spike1000WaitMs: { p50: of((p) => p.spike1000WaitMs.p50), p99: of((p) => p.spike1000WaitMs.p99) },
		};
	}
	const ratios: Record<string, number> = {};
	for (const key of Object.keys(runs[0].ratios)) ratios[key] = round(median(runs.map((r) => r.ratios[key])), 2);
	return { processes: PROCESSES, pools, ratios, ratiosPerProcess: runs.map((r) => r.ratios) };
}

interface PoolFigures {
	caller1OpsPerSec: number;
	callers100OpsPerSec: number;
	spike1000WaitMs: { p50: number; p99: number };
}

interface CoreResult {
	pools: Record<string, PoolFigures>;
	ratios: Record<string, number>;
}

/** One process's comparison: every contender, both scenarios and the spike, rounds alternating. */
async function runInProcess(options: { rounds?: number; cycles?: number; warmup?: number } = {}): Promise<CoreResult> {
	const rounds = options.rounds ?? 7;
	const cycles = options.cycles ?? 300_000;
	const warmup = options.warmup ?? 1_500_000;
	const contenders = await makeContenders();
	const results: Record<string, PoolFigures> = {};
	for (const scenario of [
		{ key: "caller1", callers: 1 },
		{ key: "callers100", callers: 100 },
	]) {
		const samples = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
		const loops = new Map(contenders.map((c) => [c.name, makeLoop()]));
		const loopOf = (c: Contender) => loops.get(c.name) as Loop;
		// A long warm-up: the larger a pool's hot path, the longer V8 takes to optimise it fully
		// (lifeguard's single-caller rate triples between its first and fourth 300k cycles).
		for (const c of contenders) await loopOf(c)(c, scenario.callers, warmup);
		for (let r = 0; r < rounds; r++) {
			for (const c of contenders) samples.get(c.name)?.push(await loopOf(c)(c, scenario.callers, cycles));
		}
		for (const c of contenders) {
			results[c.name] ??= { caller1OpsPerSec: 0, callers100OpsPerSec: 0, spike1000WaitMs: { p50: 0, p99: 0 } };
			results[c.name][scenario.key === "caller1" ? "caller1OpsPerSec" : "callers100OpsPerSec"] = Math.round(median(samples.get(c.name) ?? []));
		}
	}
	const spikes = new Map(contenders.map((c) => [c.name, { run: makeSpike(), p50: [] as number[], p99: [] as number[] }]));
	for (const c of contenders) await spikes.get(c.name)?.run(c, 1000); // warm-up
	for (let r = 0; r < rounds; r++) {
		for (const c of contenders) {
			const s = spikes.get(c.name);
			if (s === undefined) continue;
			const waits = await s.run(c, 1000);
			s.p50.push(quantile(waits, 0.5));
			s.p99.push(quantile(waits, 0.99));
		}
	}
	for (const c of contenders) {
		const s = spikes.get(c.name);
		results[c.name].spike1000WaitMs = { p50: round(median(s?.p50 ?? [])), p99: round(median(s?.p99 ?? [])) };
	}
	await Promise.all(contenders.map((c) => c.close()));
	const ratio = (pool: string, base: string, key: "caller1OpsPerSec" | "callers100OpsPerSec") => round(results[pool][key] / results[base][key], 2);
	return {
		pools: results,
		ratios: {
			caller1VsNaive: ratio("lifeguard", "naive", "caller1OpsPerSec"),
			callers100VsNaive: ratio("lifeguard", "naive", "callers100OpsPerSec"),
			caller1VsGenericPool: ratio("lifeguard", "generic-pool", "caller1OpsPerSec"),
			callers100VsGenericPool: ratio("lifeguard", "generic-pool", "callers100OpsPerSec"),
			caller1VsTarn: ratio("lifeguard", "tarn", "caller1OpsPerSec"),
			callers100VsTarn: ratio("lifeguard", "tarn", "callers100OpsPerSec"),
		},
	};
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(JSON.stringify(await runInProcess()));
