/**
 * Closed-loop HTTP load for the service's benchmarks: `callers` loops each sending one request
 * after the other over an undici Pool (one keep-alive connection per caller), for `durationMs`
 * after a warm-up; latency per request, throughput over the run.
 */
import { Pool } from "undici";

export interface LoadResult {
	requests: number;
	failures: number;
	rps: number;
	p50Ms: number;
	p99Ms: number;
}

export interface LoadRequest {
	path: string;
	method?: "GET" | "POST";
	headers?: Record<string, string>;
	body?: string;
}

export async function httpLoad(origin: string, request: LoadRequest, options: { callers: number; durationMs: number; warmupMs?: number }): Promise<LoadResult> {
	const pool = new Pool(origin, { connections: options.callers, pipelining: 1 });
	const latencies: number[] = [];
	let failures = 0;
	let measuring = false;
	let stop = false;
	const one = async () => {
		const t0 = performance.now();
		try {
			const response = await pool.request({ path: request.path, method: request.method ?? "POST", headers: request.headers, body: request.body });
			for await (const _ of response.body) {
				// read to the end: a stream is timed until its last byte
			}
			if (response.statusCode >= 400) failures++;
		} catch {
			failures++;
		}
		if (measuring) latencies.push(performance.now() - t0);
	};
	const loops = Array.from({ length: options.callers }, async () => {
		while (!stop) await one();
	});
	await new Promise((resolve) => setTimeout(resolve, options.warmupMs ?? 500));
	measuring = true;
	failures = 0;
	const t0 = performance.now();
	await new Promise((resolve) => setTimeout(resolve, options.durationMs));
	measuring = false;
	const elapsed = performance.now() - t0;
	stop = true;
	await Promise.all(loops);
	await pool.close();
	latencies.sort((a, b) => a - b);
	const at = (q: number) => Number((latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? Number.NaN).toFixed(3));
	return { requests: latencies.length, failures, rps: Math.round((latencies.length / elapsed) * 1000), p50Ms: at(0.5), p99Ms: at(0.99) };
}
