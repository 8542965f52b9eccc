/**
 * SQL over HTTP: one-shot `SELECT 1` requests per second through `lifeguard serve`
 * (POST /api/v1/pools/{name}/query, the service in its own process) vs the same statement
 * through the PostgreSQL client in-process, 32 callers each, same pool size, same run.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPostgresClient } from "../src/adapters/postgres/index.ts";
import { services } from "../test/support/services.ts";
import { startChild } from "./child-process.ts";
import { httpLoad } from "./http-load.ts";

export const name = "sql-http";

const CALLERS = 32;
const POOL_MAX = 8;
const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 3_000);

export async function run(): Promise<Record<string, unknown>> {
	const pg = services.postgres;
	const url = `postgres://${pg.user}@${pg.host}:${pg.port}/${pg.database}`;
	const dir = mkdtempSync(join(tmpdir(), "lifeguard-bench-sql-http-"));
	const config = join(dir, "lifeguard.yaml");
	writeFileSync(
		config,
		`service:\n  notReadyGraceMs: 0\npools:\n  bench_pg:\n    kind: postgres\n    url: ${url}\n    min: ${POOL_MAX}\n    max: ${POOL_MAX}\n`,
	);
	const service = await startChild(
		[new URL("../src/cli/bin.ts", import.meta.url).pathname, "serve", "--config", config, "--port", "0", "--data-dir", dir],
		/serving on (http:\/\/\S+)\n[\s\S]*not shown again/,
	);
	const token = readFileSync(join(dir, "admin-token"), "utf8").trim();
	let overHttp: Awaited<ReturnType<typeof httpLoad>>;
	try {
		overHttp = await httpLoad(
			service.match[1],
			{
				path: "/api/v1/pools/bench_pg/query",
				headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
				body: JSON.stringify({ sql: "SELECT 1 AS one", fetch: "one" }),
			},
			{ callers: CALLERS, durationMs: DURATION_MS },
		);
	} finally {
		await service.stop();
		rmSync(dir, { recursive: true, force: true });
	}

	const db = createPostgresClient({ primary: url, pool: { name: "bench_pg_inprocess", min: POOL_MAX, max: POOL_MAX } });
	await db.start();
	let count = 0;
	let stop = false;
	const latencies: number[] = [];
	const loops = Array.from({ length: CALLERS }, async () => {
		while (!stop) {
			const t0 = performance.now();
			await db.query("SELECT 1 AS one", [], { fetch: "one" });
			latencies.push(performance.now() - t0);
			count++;
		}
	});
	await new Promise((resolve) => setTimeout(resolve, 500));
	count = 0;
	latencies.length = 0;
	const t0 = performance.now();
	await new Promise((resolve) => setTimeout(resolve, DURATION_MS));
	const measured = count;
	const elapsed = performance.now() - t0;
	stop = true;
	await Promise.all(loops);
	await db.close();
	latencies.sort((a, b) => a - b);
	const inProcess = {
		requests: measured,
		rps: Math.round((measured / elapsed) * 1000),
		p50Ms: Number(latencies[Math.floor(latencies.length / 2)].toFixed(3)),
		p99Ms: Number(latencies[Math.floor(latencies.length * 0.99)].toFixed(3)),
	};
	return {
		callers: CALLERS,
		poolMax: POOL_MAX,
		durationMs: DURATION_MS,
		overHttp,
		inProcess,
		httpShareOfInProcess: Number((overHttp.rps / inProcess.rps).toFixed(2)),
	};
}
