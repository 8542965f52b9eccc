/**
 * HTTP: keep-alive GET against a local node:http server in a child process, 32 concurrent
 * callers, contenders interleaved round by round in one process: lifeguard's client, a raw
 * `undici.Pool`, node:http with a keep-alive Agent, `fetch` (Node's global dispatcher), and a
 * new connection per request. Then, over TLS, the first request of a fresh client (connect +
 * handshake) against a pooled one, and the connection reuse ratio under steady load.
 */
import { spawn } from "node:child_process";
import http from "node:http";
import { createInterface } from "node:readline";
import { Pool } from "undici";
import { createHttpClient } from "../src/adapters/http/index.ts";
import { selfSignedCert } from "../test/http/support/cert.ts";
import { compare, isolatedPair, median, type RoundsOptions, summarize } from "./rounds.ts";

export const name = "http";

const CALLERS = 32;
const ROUNDS = 7;
const REQUESTS = 10_000;
const REQUESTS_NO_KEEPALIVE = 2_000;
// Isolated: many short rounds, ratios taken round by round (bench/rounds.ts); the A/A beside it says how far two equal clients land apart.
const ISOLATED: RoundsOptions = { callers: CALLERS, rounds: 40, opsPerRound: 4_000, warmupRounds: 2 };
const TARGET = 0.95;
/** Fresh pairs of processes, each running a block of the rounds (see alternateInBlocks). */
const ISOLATED_BLOCKS = 4;

interface Contender {
	name: string;
	requests: number;
	get(): Promise<void>;
	close(): Promise<void>;
}

async function startServer(): Promise<{ ports: { http: number; https: number }; stop(): void }> {
	const child = spawn(process.execPath, [new URL("./http-server.ts", import.meta.url).pathname, JSON.stringify(selfSignedCert())], {
		stdio: ["pipe", "pipe", "inherit"],
	});
	const line = await new Promise<string>((resolve, reject) => {
		child.once("error", reject);
		createInterface({ input: child.stdout }).once("line", resolve);
	});
	return { ports: JSON.parse(line), stop: () => child.kill() };
}

function nodeGet(agent: http.Agent, port: number): Promise<void> {
	return new Promise((resolve, reject) => {
		const req = http.get({ host: "127.0.0.1", port, path: "/", agent }, (res) => {
			res.resume();
			res.once("end", resolve);
			res.once("error", reject);
		});
		req.once("error", reject);
	});
}

function contenders(port: number): Contender[] {
	const origin = `http://127.0.0.1:${port}`;
	const lifeguard = createHttpClient({ name: "bench", maxConnectionsPerOrigin: CALLERS, maxConnections: CALLERS });
	const pool = new Pool(origin, { connections: CALLERS });
	const agent = new http.Agent({ keepAlive: true, maxSockets: CALLERS });
	const noKeepAlive = new http.Agent({ keepAlive: false, maxSockets: CALLERS });
	return [
		{
			name: "lifeguard",
			requests: REQUESTS,
			get: async () => {
				const res = await lifeguard.request({ origin, path: "/", method: "GET" });
				await res.body.dump();
			},
			close: () => lifeguard.close(),
		},
		{
			name: "undici.Pool",
			requests: REQUESTS,
			get: async () => {
				const res = await pool.request({ path: "/", method: "GET" });
				await res.body.dump();
			},
			close: () => pool.close(),
		},
		{ name: "node:http keep-alive Agent", requests: REQUESTS, get: () => nodeGet(agent, port), close: async () => agent.destroy() },
		{
			name: "fetch",
			requests: REQUESTS,
			get: async () => {
				const res = await fetch(origin);
				await res.arrayBuffer();
			},
			close: async () => {},
		},
		{
			name: "fetch over lifeguard",
			requests: REQUESTS,
			get: async () => {
				const res = await fetch(origin, { dispatcher: lifeguard } as RequestInit);
				await res.arrayBuffer();
			},
			close: async () => {},
		},
		{ name: "no keep-alive", requests: REQUESTS_NO_KEEPALIVE, get: () => nodeGet(noKeepAlive, port), close: async () => noKeepAlive.destroy() },
	];
}

interface Run {
	perSecond: number;
	p50Ms: number;
	p99Ms: number;
	/** The client process's CPU per request: less noisy than throughput on a shared machine, since the server runs elsewhere. */
	cpuUsPerRequest: number;
}

async function drive(c: Contender): Promise<Run> {
	let next = 0;
	const latencies: number[] = [];
	const cpu = process.cpuUsage();
	const start = performance.now();
	await Promise.all(
		Array.from({ length: CALLERS }, async () => {
			while (next++ < c.requests) {
				const t = performance.now();
				await c.get();
				latencies.push(performance.now() - t);
			}
		}),
	);
	const elapsed = performance.now() - start;
	const used = process.cpuUsage(cpu);
	latencies.sort((a, b) => a - b);
	return {
		cpuUsPerRequest: round((used.user + used.system) / c.requests),
		perSecond: Math.round((c.requests / elapsed) * 1000),
		p50Ms: round(latencies[Math.floor(latencies.length * 0.5)]),
		p99Ms: round(latencies[Math.floor(latencies.length * 0.99)]),
	};
}

function round(n: number): number {
	return Math.round(n * 1000) / 1000;
}

async function throughput(port: number): Promise<Record<string, unknown>> {
	const all = contenders(port);
	for (const c of all) await drive({ ...c, requests: Math.min(c.requests, 1_000) });
	const runs = new Map<string, Run[]>();
	for (let round = 0; round < ROUNDS; round++) {
		// A different contender goes first each round, so none always meets the machine's quietest (or busiest) moment.
		const order = [...all.slice(round % all.length), ...all.slice(0, round % all.length)];
		for (const c of order) {
			const r = await drive(c);
			runs.set(c.name, [...(runs.get(c.name) ?? []), r]);
			console.error(`  round ${round + 1} ${c.name}: ${r.perSecond}/s, ${r.cpuUsPerRequest} µs CPU/request`);
		}
	}
	for (const c of all) await c.close();
	const result: Record<string, unknown> = {};
	for (const [name, rs] of runs) {
		result[name] = {
			perSecond: median(rs.map((r) => r.perSecond)),
			p50Ms: median(rs.map((r) => r.p50Ms)),
			p99Ms: median(rs.map((r) => r.p99Ms)),
			cpuUsPerRequest: median(rs.map((r) => r.cpuUsPerRequest)),
		};
	}
	const lg = result.lifeguard as Run;
	const undici = result["undici.Pool"] as Run;
	result.lifeguardVsUndiciPool = { throughput: round(lg.perSecond / undici.perSecond), cpuPerRequest: round(lg.cpuUsPerRequest / undici.cpuUsPerRequest) };
	return result;
}

async function tls(port: number): Promise<Record<string, unknown>> {
	const origin = `https://localhost:${port}`;
	const { cert } = selfSignedCert();
	const first: number[] = [];
	for (let i = 0; i < 30; i++) {
		const client = createHttpClient({ name: `tls-first-${i}`, tls: { ca: cert } });
		const t = performance.now();
		const res = await client.request({ origin, path: "/", method: "GET" });
		await res.body.dump();
		first.push(performance.now() - t);
		await client.close();
	}
	const client = createHttpClient({ name: "tls-pooled", tls: { ca: cert }, maxConnectionsPerOrigin: CALLERS, maxConnections: CALLERS });
	const pooled: number[] = [];
	for (let i = 0; i < 2_000; i++) {
		const t = performance.now();
		const res = await client.request({ origin, path: "/", method: "GET" });
		await res.body.dump();
		pooled.push(performance.now() - t);
	}
	// Steady load: 32 callers; the first send on each connection is the only one that is not a reuse.
	const get = async () => {
		const res = await client.request({ origin, path: "/", method: "GET" });
		await res.body.dump();
	};
	await drive({ name: "warm", requests: 2_000, get, close: async () => {} });
	const before = client.stats().origins[origin];
	const steady = await drive({ name: "steady", requests: 20_000, get, close: async () => {} });
	const after = client.stats().origins[origin];
	const stats = client.stats();
	await client.close();
	const sends = (s: typeof before) => s.requests;
	return {
		firstRequestMs: { p50: round(median(first)), max: round(Math.max(...first)) },
		pooledRequestMs: { p50: round(median(pooled)), p99: round(pooled.sort((a, b) => a - b)[Math.floor(pooled.length * 0.99)]) },
		steadyPerSecond: steady.perSecond,
		connectionsCreated: after.created,
		reuseRatioOverall: round(stats.reuseRatio),
		reuseRatioSteady: round(1 - (after.created - before.created) / (sends(after) - sends(before))),
	};
}

/**
 * Lifeguard against undici.Pool with each client in a process of its own, so that neither one's
 * garbage or timers land in the other's rounds, and undici.Pool against itself the same way.
 */
async function isolatedComparison(port: number): Promise<Record<string, unknown>> {
	const origin = `http://127.0.0.1:${port}`;
	const script = new URL("./http-contender.ts", import.meta.url);
	const pair = async (a: [string, string], b: [string, string]) => {
		const args = (client: string) => [client, origin, String(CALLERS)];
		const samples = await isolatedPair(script, [args(a[0]), a[1]], [args(b[0]), b[1]], ISOLATED, ISOLATED_BLOCKS);
		return { ...summarize(samples), ...compare(samples[a[1]], samples[b[1]]) };
	};
	return {
		rounds: ISOLATED.rounds,
		processPairs: ISOLATED_BLOCKS,
		requestsPerRound: ISOLATED.opsPerRound,
		lifeguardVsUndiciPool: await pair(["lifeguard", "lifeguard"], ["undici.Pool", "undici.Pool"]),
		/** A/A: undici.Pool against itself, measured the same way. */
		control: await pair(["undici.Pool", "undici.Pool A"], ["undici.Pool", "undici.Pool B"]),
		/** For lifeguardVsUndiciPool.ratio. */
		target: TARGET,
	};
}

export async function run(): Promise<Record<string, unknown>> {
	const server = await startServer();
	try {
		return {
			callers: CALLERS,
			keepAliveGet: await throughput(server.ports.http),
			isolated: await isolatedComparison(server.ports.http),
			tls: await tls(server.ports.https),
		};
	} finally {
		server.stop();
	}
}
