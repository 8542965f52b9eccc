/**
 * The drop-ins against the pools they replace, `SELECT 1` through each pool's own `query()`:
 * `lifeguard/compat/pg` against `pg.Pool` on the local PostgreSQL, `lifeguard/compat/mysql2`
 * against mysql2's pool on the local MariaDB. 10 connections, 16 concurrent callers, one
 * process, rounds alternating which goes first so that machine drift hits both alike. Reports
 * the median ops/s of each and the median of the per-round ratios (target >= 0.98).
 */
import mysql from "mysql2";
import pg from "pg";
import * as compatMysql from "../src/compat/mysql2.ts";
import * as compatPg from "../src/compat/pg.ts";
import { services } from "../test/support/services.ts";

export const name = "compat";

const MAX = 10;
const CALLERS = 16;
const ROUNDS = 12;
const OPS_PER_ROUND = 8_000;
const WARMUP_OPS = 4_000;
const SQL = "SELECT 1";

interface Contender {
	name: string;
	query(): Promise<unknown>;
	close(): Promise<void>;
}

/** `CALLERS` loops issue `ops` queries in total; returns queries per second. */
async function measure(c: Contender, ops: number): Promise<number> {
	let started = 0;
	const t0 = performance.now();
	const loop = async () => {
		while (started < ops) {
			started++;
			await c.query();
		}
	};
	await Promise.all(Array.from({ length: CALLERS }, loop));
	return ops / ((performance.now() - t0) / 1000);
}

function median(xs: number[]): number {
	const s = [...xs].sort((a, b) => a - b);
	const mid = s.length >> 1;
	return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Runs the pair in alternating rounds; `ours` is the drop-in, `theirs` the original. */
async function compare(ours: Contender, theirs: Contender): Promise<Record<string, unknown>> {
	const contenders = [ours, theirs];
	try {
		for (const c of contenders) await measure(c, WARMUP_OPS);
		const samples: Record<string, number[]> = { [ours.name]: [], [theirs.name]: [] };
		for (let round = 0; round < ROUNDS; round++) {
			const order = round % 2 === 0 ? contenders : [...contenders].reverse();
			for (const c of order) samples[c.name].push(await measure(c, OPS_PER_ROUND));
		}
		const ratios = samples[ours.name].map((ops, i) => ops / samples[theirs.name][i]);
		return {
			query: SQL,
			callers: CALLERS,
			max: MAX,
			rounds: ROUNDS,
			opsPerRound: OPS_PER_ROUND,
			medianOpsPerSec: { [ours.name]: Math.round(median(samples[ours.name])), [theirs.name]: Math.round(median(samples[theirs.name])) },
			/** drop-in ops/s ÷ original ops/s, median over rounds; target >= 0.98. */
			ratio: Number(median(ratios).toFixed(3)),
			target: 0.98,
		};
	} finally {
		for (const c of contenders) await c.close();
	}
}

async function comparePg(): Promise<Record<string, unknown>> {
	const { host, port, user, database } = services.postgres;
	const config = { host, port, user, database, max: MAX };
	const ours = new compatPg.Pool({ ...config, application_name: "lg-bench-compat-pg" });
	const theirs = new pg.Pool({ ...config, application_name: "lg-bench-pg" });
	// Both warmed to MAX connections, so that neither pays for connecting inside a round.
	await Promise.all(Array.from({ length: MAX }, () => ours.query(SQL)));
	await Promise.all(Array.from({ length: MAX }, () => theirs.query(SQL)));
	return compare(
		{ name: "compat/pg", query: () => ours.query(SQL), close: () => ours.end() },
		{ name: "pg.Pool", query: () => theirs.query(SQL), close: () => theirs.end() },
	);
}

async function compareMysql(): Promise<Record<string, unknown>> {
	const { host, port, user, database } = services.mysql;
	const config = { host, port, user, database, connectionLimit: MAX };
	const ours = compatMysql.createPool(config).promise();
	const theirs = mysql.createPool(config).promise();
	await Promise.all(Array.from({ length: MAX }, () => ours.query(SQL)));
	await Promise.all(Array.from({ length: MAX }, () => theirs.query(SQL)));
	return compare(
		{ name: "compat/mysql2", query: () => ours.query(SQL), close: () => ours.end() },
		{ name: "mysql2 pool", query: () => theirs.query(SQL), close: () => theirs.end() },
	);
}

export async function run(): Promise<Record<string, unknown>> {
	return { pg: await comparePg(), mysql2: await compareMysql() };
}
