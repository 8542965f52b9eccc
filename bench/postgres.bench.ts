/**
 * `SELECT 1` throughput against the local PostgreSQL: lifeguard's client against pg.Pool, both
 * with 10 connections and 16 concurrent callers, in one process, rounds alternating which goes
 * first so that machine drift hits both alike. Reports the median ops/s of each, the median of
 * the per-round ratios (robust to drift between rounds), and the client's CPU time per query
 * (what the library itself costs, whatever else the machine is doing). The rounds are
 * bench/rounds.ts's.
 */
import pg from "pg";
import { createPostgresClient } from "../src/adapters/postgres/index.ts";
import { services } from "../test/support/services.ts";
import { alternate, type Contender, type RoundsOptions, report } from "./rounds.ts";

export const name = "postgres";

const MAX = 10;
const SQL = "SELECT 1";
const ROUNDS: RoundsOptions = { callers: 16, rounds: 16, opsPerRound: 10_000, warmupRounds: 1 };

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
		// ratio: lifeguard ops/s ÷ pg.Pool ops/s, median over rounds (target >= 0.98); cpuRatio: CPU per query, lower is better.
		return report(await alternate(contenders, ROUNDS), "lifeguard", "pg.Pool", ROUNDS, { query: SQL, max: MAX });
	} finally {
		for (const c of contenders) await c.close();
	}
}
