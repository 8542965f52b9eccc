/**
 * SQL over HTTP: one-shot `SELECT 1` requests per second through `lifeguard serve`
 * (POST /api/v1/pools/{name}/query, the service in its own process, the load generator in this
 * one) vs the same statement through the PostgreSQL client in-process, 32 callers each, same pool
 * size, same run. A third contender, `GET /health/live` on the same service (no body, no token,
 * no backend), is the floor of an HTTP round trip through Fastify on this machine: what the
 * query route costs beyond it is lifeguard's own work (token check, body parse and validation,
 * the pooled query, the JSON reply). The three alternate within each round, the order rotated
 * from round to round; figures are medians over rounds, ratios medians of per-round ratios.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPostgresClient } from "../src/adapters/postgres/index.ts";
import { services } from "../test/support/services.ts";
import { type Child, startChild } from "./child-process.ts";
import { httpLoad, type LoadResult } from "./http-load.ts";

export const name = "sql-http";

const CALLERS = 32;
const POOL_MAX = 8;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 2_000);

type Contender = "inProcess" | "overHttp" | "httpFloor";
interface Measured extends LoadResult {
	/** CPU time of the service process per request, µs (over HTTP); of this process per query in-process (the client's own work). */
	serverCpuUsPerRequest?: number;
}

function cpuUs(child: Child): number | undefined {
	try {
		const fields = readFileSync(`/proc/${child.child.pid}/stat`, "utf8").split(") ")[1].split(" ");
		return (Number(fields[11]) + Number(fields[12])) * 10_000;
	} catch {
		return undefined;
	}
}

const median = (xs: number[]) => {
	const s = [...xs].sort((a, b) => a - b);
	return s.length === 0 ? Number.NaN : s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

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
	const db = createPostgresClient({ primary: url, pool: { name: "bench_pg_inprocess", min: POOL_MAX, max: POOL_MAX } });
	await db.start();

	const inProcess = async (): Promise<Measured> => {
		let stop = false;
		let measuring = false;
		const latencies: number[] = [];
		const loops = Array.from({ length: CALLERS }, async () => {
			while (!stop) {
				const t0 = performance.now();
				await db.query("SELECT 1 AS one", [], { fetch: "one" });
				if (measuring) latencies.push(performance.now() - t0);
			}
		});
		await new Promise((resolve) => setTimeout(resolve, 500));
		measuring = true;
		const cpu0 = process.cpuUsage();
		const t0 = performance.now();
		await new Promise((resolve) => setTimeout(resolve, DURATION_MS));
		measuring = false;
		const elapsed = performance.now() - t0;
		const cpu = process.cpuUsage(cpu0);
		stop = true;
		await Promise.all(loops);
		latencies.sort((a, b) => a - b);
		const at = (q: number) => Number(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))].toFixed(3));
		return {
			requests: latencies.length,
			failures: 0,
			rps: Math.round((latencies.length / elapsed) * 1000),
			p50Ms: at(0.5),
			p99Ms: at(0.99),
			serverCpuUsPerRequest: Math.round((cpu.user + cpu.system) / latencies.length),
		};
	};
	const overHttp = async (request: Parameters<typeof httpLoad>[1]): Promise<Measured> => {
		const cpu0 = cpuUs(service);
		const r = await httpLoad(service.match[1], request, { callers: CALLERS, durationMs: DURATION_MS });
		const cpu1 = cpuUs(service);
		const served = (r.requests * (DURATION_MS + 500)) / DURATION_MS;
		return cpu0 === undefined || cpu1 === undefined ? r : { ...r, serverCpuUsPerRequest: Math.round((cpu1 - cpu0) / served) };
	};
	const contenders: Record<Contender, () => Promise<Measured>> = {
		inProcess,
		overHttp: () =>
			overHttp({
				path: "/api/v1/pools/bench_pg/query",
				headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
				body: JSON.stringify({ sql: "SELECT 1 AS one", fetch: "one" }),
			}),
		httpFloor: () => overHttp({ path: "/health/live", method: "GET" }),
	};
	const order = Object.keys(contenders) as Contender[];
	const runs: Record<Contender, Measured[]> = { inProcess: [], overHttp: [], httpFloor: [] };
	try {
		for (let round = 0; round < ROUNDS; round++) {
			for (const c of [...order.slice(round % 3), ...order.slice(0, round % 3)]) {
				const r = await contenders[c]();
				if (r.failures > 0) throw new Error(`${c}: ${r.failures} requests failed`);
				runs[c].push(r);
				console.error(`sql-http round ${round + 1} ${c}: ${JSON.stringify(r)}`);
			}
		}
	} finally {
		await db.close();
		await service.stop();
		rmSync(dir, { recursive: true, force: true });
	}
	const summary: Record<string, unknown> = { callers: CALLERS, poolMax: POOL_MAX, rounds: ROUNDS, durationMs: DURATION_MS };
	for (const c of order) {
		const rs = runs[c];
		summary[c] = {
			rps: Math.round(median(rs.map((r) => r.rps))),
			p50Ms: Number(median(rs.map((r) => r.p50Ms)).toFixed(3)),
			p99Ms: Number(median(rs.map((r) => r.p99Ms)).toFixed(3)),
			...(rs[0].serverCpuUsPerRequest === undefined ? {} : { serverCpuUsPerRequest: Math.round(median(rs.map((r) => r.serverCpuUsPerRequest as number))) }),
			rounds: rs.map((r) => r.rps),
		};
	}
	const ratio = (a: Contender, b: Contender) => Number(median(runs[a].map((r, i) => r.rps / runs[b][i].rps)).toFixed(2));
	summary.httpShareOfInProcess = ratio("overHttp", "inProcess");
	summary.queryShareOfHttpFloor = ratio("overHttp", "httpFloor");
	return summary;
}
