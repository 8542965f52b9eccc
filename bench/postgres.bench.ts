/**
 * `SELECT 1` throughput against the local PostgreSQL: lifeguard's client against pg.Pool, both
 * with 10 connections and 16 concurrent callers, in one process, rounds alternating which goes
 * first so that machine drift hits both alike. Reports the median ops/s of each, the median of
 * the per-round ratios (robust to drift between rounds), and the client's CPU time per query
 * (what the library itself costs, whatever else the machine is doing).
 */
import pg from "pg";
import { createPostgresClient } from "../src/adapters/postgres/index.ts";
import { services } from "../test/support/services.ts";

export const name = "postgres";

const MAX = 10;
const CALLERS = 16;
const ROUNDS = 16;
const OPS_PER_ROUND = 10_000;
const WARMUP_OPS = 5_000;
const SQL = "SELECT 1";

interface Contender {
	name: string;
	query(): Promise<unknown>;
	close(): Promise<void>;
}

interface Sample {
	opsPerSec: number;
	cpuMicrosPerOp: number;
}

/** `CALLERS` loops issue `ops` queries in total; returns queries per second and this process's CPU time per query. */
async function measure(c: Contender, ops: number): Promise<Sample> {
	let started = 0;
	const cpu0 = process.cpuUsage();
	const t0 = performance.now();
	const loop = async () => {
		while (started < ops) {
			started++;
			await c.query();
		}
	};
	await Promise.all(Array.from({ length: CALLERS }, loop));
	const elapsedMs = performance.now() - t0;
	const cpu = process.cpuUsage(cpu0);
	return { opsPerSec: ops / (elapsedMs / 1000), cpuMicrosPerOp: (cpu.user + cpu.system) / ops };
}

function median(xs: number[]): number {
	const s = [...xs].sort((a, b) => a - b);
	const mid = s.length >> 1;
	return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export async function run(): Promise<Record<string, unknown>> {
	const { host, port, user, database } = services.postgres;
	const lifeguard = createPostgresClient({ primary: { host, port, user, database, applicationName: "lg-bench" }, pool: { min: MAX, max: MAX } });
	await lifeguard.start();
	const pgPool = new pg.Pool({ host, port, user, database, max: MAX, application_name: "lg-bench-pg" });
	await Promise.all(Array.from({ length: MAX }, () => pgPool.query(SQL)));

	const contenders: Contender[] = [
		{ name: "lifeguard", query: () => lifeguard.query(SQL), close: () => lifeguard.close() },
		{ name: "pg.Pool", query: () => pgPool.query(SQL), close: () => pgPool.end() },
	];
	try {
		for (const c of contenders) await measure(c, WARMUP_OPS);
		const samples: Record<string, Sample[]> = Object.fromEntries(contenders.map((c) => [c.name, []]));
		for (let round = 0; round < ROUNDS; round++) {
			const order = round % 2 === 0 ? contenders : [...contenders].reverse();
			for (const c of order) samples[c.name].push(await measure(c, OPS_PER_ROUND));
		}
		const ours = samples.lifeguard;
		const theirs = samples["pg.Pool"];
		const ratios = ours.map((s, i) => s.opsPerSec / theirs[i].opsPerSec);
		const cpuRatios = ours.map((s, i) => s.cpuMicrosPerOp / theirs[i].cpuMicrosPerOp);
		return {
			query: SQL,
			callers: CALLERS,
			max: MAX,
			rounds: ROUNDS,
			opsPerRound: OPS_PER_ROUND,
			medianOpsPerSec: { lifeguard: Math.round(median(ours.map((s) => s.opsPerSec))), "pg.Pool": Math.round(median(theirs.map((s) => s.opsPerSec))) },
			/** lifeguard ops/s ÷ pg.Pool ops/s, median over rounds; target >= 0.98. */
			ratio: Number(median(ratios).toFixed(3)),
			medianCpuMicrosPerOp: {
				lifeguard: Number(median(ours.map((s) => s.cpuMicrosPerOp)).toFixed(2)),
				"pg.Pool": Number(median(theirs.map((s) => s.cpuMicrosPerOp)).toFixed(2)),
			},
			/** lifeguard CPU per query ÷ pg.Pool CPU per query, median over rounds (lower is better). */
			cpuRatio: Number(median(cpuRatios).toFixed(3)),
			target: 0.98,
		};
	} finally {
		for (const c of contenders) await c.close();
	}
}
