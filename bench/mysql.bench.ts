/**
 * `SELECT 1` through lifeguard's MySQL client against mysql2's own pool (mysql2/promise
 * createPool), same server, same process: 16 concurrent callers on 10 connections, the
 * contenders alternating round by round so that server and machine drift hit all alike. A third
 * contender prices `resetSession` (COM_RESET_CONNECTION on every release). Needs the local
 * MariaDB/MySQL of the tests (MYSQL_PORT, default 3306).
 */
import mysql from "mysql2/promise";
import { createMysqlClient } from "../src/adapters/mysql/index.ts";
import { alternate, type Contender, median } from "./rounds.ts";

const HOST = "127.0.0.1";
const PORT = Number(process.env.MYSQL_PORT ?? 3306);
const CONNECTIONS = 10;
const CALLERS = 16;
const QUERIES_PER_ROUND = 10_000;
const ROUNDS = 7;
const SQL = "SELECT 1";

async function makeContenders(): Promise<Contender[]> {
	const server = { host: HOST, port: PORT, user: "root", database: "test" };
	const lifeguard = createMysqlClient({ primary: server, pool: { name: "bench-mysql", min: CONNECTIONS, max: CONNECTIONS } });
	const resetting = createMysqlClient({ primary: { ...server, resetSession: true }, pool: { name: "bench-mysql-reset", min: CONNECTIONS, max: CONNECTIONS } });
	await Promise.all([lifeguard.start(), resetting.start()]);

	const peer = mysql.createPool({ ...server, connectionLimit: CONNECTIONS, maxIdle: CONNECTIONS });
	// mysql2 opens connections on demand: open all ten before timing.
	const warm = await Promise.all(Array.from({ length: CONNECTIONS }, () => peer.getConnection()));
	for (const conn of warm) conn.release();

	return [
		{ name: "lifeguard", query: () => lifeguard.query(SQL), close: () => lifeguard.close() },
		{ name: "mysql2", query: () => peer.query(SQL), close: () => peer.end() },
		{ name: "lifeguardResetSession", query: () => resetting.query(SQL), close: () => resetting.close() },
	];
}

export const name = "mysql";

export async function run(): Promise<Record<string, unknown>> {
	const contenders = await makeContenders();
	let samples: Map<string, number[]>;
	try {
		// Rounds rotate who goes first, so no one always runs on the warmer server; one round of warm-up (JIT, server caches).
		const byName = await alternate(contenders, { callers: CALLERS, rounds: ROUNDS, opsPerRound: QUERIES_PER_ROUND, warmupRounds: 1 });
		samples = new Map(Object.entries(byName).map(([key, xs]) => [key, xs.map((x) => x.opsPerSec)]));
	} finally {
		await Promise.all(contenders.map((c) => c.close()));
	}
	const qps = Object.fromEntries([...samples].map(([key, xs]) => [key, Math.round(median(xs))]));
	return {
		query: SQL,
		callers: CALLERS,
		connections: CONNECTIONS,
		rounds: ROUNDS,
		queriesPerRound: QUERIES_PER_ROUND,
		medianQueriesPerSec: qps,
		samples: Object.fromEntries([...samples].map(([key, xs]) => [key, xs.map(Math.round)])),
		ratioLifeguardVsMysql2: Math.round((qps.lifeguard / qps.mysql2) * 1000) / 1000,
		ratioResetSessionVsPlain: Math.round((qps.lifeguardResetSession / qps.lifeguard) * 1000) / 1000,
	};
}
