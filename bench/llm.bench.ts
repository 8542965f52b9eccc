/**
 * SSE through the LLM client vs a raw undici request to the same local upstream (real SSE on
 * node:http, chat-completion chunks), in one process, contenders interleaved round by round:
 *
 * - time to first byte: sequential streaming requests, from the call to the first chunk in hand;
 * - throughput: one long stream, and 8 concurrent streams, read to the end.
 *
 * - plain calls: 32 callers of non-streaming chat completions, requests/s and p50 latency
 *   (raw undici vs `forward()`, the gateway's path).
 *
 * Contenders: `raw-undici` (request + read the body's bytes), `raw-undici-parsed` (the same, plus
 * SSE framing and JSON.parse of each chunk: what a typed consumer must do anyway),
 * `lifeguard-forward` (the gateway path: bytes unchanged, framed, watched for the terminator and
 * usage) and `lifeguard-typed` (`chatStream()`: typed chunk objects).
 */
import { Agent } from "undici";
import { createLlmClient } from "../src/adapters/llm/index.ts";
import { SseReader } from "../src/adapters/llm/sse.ts";
import { startLlmUpstream } from "../test/llm/servers/llm-upstream.ts";
import { median } from "./rounds.ts";

const ROUNDS = 5;
const TTFB_REQUESTS = 300;
const LONG_CHUNKS = 20_000;
const CONCURRENT = 8;
const CONCURRENT_CHUNKS = 4_000;
const PLAIN_CALLERS = 32;
const PLAIN_REQUESTS = 4_000;

interface Contender {
	name: string;
	/** Resolves when the first chunk (bytes, or a typed event) is in hand; the rest is drained after the clock stops. */
	first(model: string): Promise<{ rest: () => Promise<void> }>;
	/** Reads a whole stream; returns the bytes it carried. */
	drain(model: string): Promise<number>;
}

const body = (model: string) => JSON.stringify({ model, messages: [{ role: "user", content: "hi" }], stream: true });

function percentile(xs: number[], p: number): number {
	const s = [...xs].sort((a, b) => a - b);
	return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

export const name = "llm";

export async function run(): Promise<Record<string, unknown>> {
	const upstream = await startLlmUpstream({ record: false });
	upstream.script("short", { kind: "ok", chunks: 20 });
	upstream.script("long", { kind: "ok", chunks: LONG_CHUNKS, text: "token " });
	upstream.script("medium", { kind: "ok", chunks: CONCURRENT_CHUNKS, text: "token " });
	const agent = new Agent();
	// The default: the LLM client's own lifeguard HTTP client.
	const llm = createLlmClient({
		name: "bench",
		providers: { local: { preset: "vllm", baseUrl: `${upstream.origin}/v1` } },
		models: { short: [{ provider: "local" }], long: [{ provider: "local" }], medium: [{ provider: "local" }] },
	});
	const origin = upstream.origin;
	const raw = (model: string) =>
		agent.request({ origin, path: "/v1/chat/completions", method: "POST", headers: { "content-type": "application/json" }, body: body(model) });

	const contenders: Contender[] = [
		{
			name: "raw-undici",
			async first(model) {
				const res = await raw(model);
				const it = res.body[Symbol.asyncIterator]();
				await it.next();
				return { rest: async () => void (await res.body.dump()) };
			},
			async drain(model) {
				const res = await raw(model);
				let n = 0;
				for await (const c of res.body) n += (c as Buffer).length;
				return n;
			},
		},
		{
			name: "raw-undici-parsed",
			async first(model) {
				const res = await raw(model);
				const reader = new SseReader();
				for await (const c of res.body) {
					const frames = reader.push(c as Buffer);
					if (frames.length > 0) {
						JSON.parse(frames[0].data);
						break;
					}
				}
				return { rest: async () => {} };
			},
			async drain(model) {
				const res = await raw(model);
				const reader = new SseReader();
				let n = 0;
				for await (const c of res.body) {
					n += (c as Buffer).length;
					for (const f of reader.push(c as Buffer)) if (f.data !== "[DONE]") JSON.parse(f.data);
				}
				return n;
			},
		},
		{
			name: "lifeguard-forward",
			async first(model) {
				const r = await llm.forward({ api: "openai.chat", body: { model, messages: [{ role: "user", content: "hi" }], stream: true } });
				await r.body.next();
				return {
					rest: async () => {
						for await (const _ of r.body);
					},
				};
			},
			async drain(model) {
				const r = await llm.forward({ api: "openai.chat", body: { model, messages: [{ role: "user", content: "hi" }], stream: true } });
				let n = 0;
				for await (const c of r.body) n += c.length;
				return n;
			},
		},
		{
			name: "lifeguard-typed",
			async first(model) {
				const s = await llm.chatStream({ model, messages: [{ role: "user", content: "hi" }] });
				const it = s[Symbol.asyncIterator]();
				await it.next();
				return {
					rest: async () => {
						for (;;) if ((await it.next()).done) break;
					},
				};
			},
			async drain(model) {
				const s = await llm.chatStream({ model, messages: [{ role: "user", content: "hi" }] });
				let n = 0;
				for await (const chunk of s) n += chunk.choices.length;
				return n;
			},
		},
	];

	const ttfb = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
	const longMs = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
	const concurrentMs = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
	let longBytes = 0;
	// Warm-up: connections, JIT.
	for (const c of contenders) {
		for (let i = 0; i < 50; i++) await (await c.first("short")).rest();
		await c.drain("medium");
	}
	for (let round = 0; round < ROUNDS; round++) {
		for (const c of contenders) {
			const samples = ttfb.get(c.name) as number[];
			for (let i = 0; i < TTFB_REQUESTS / ROUNDS; i++) {
				const t0 = performance.now();
				const { rest } = await c.first("short");
				samples.push(performance.now() - t0);
				await rest();
			}
			let t0 = performance.now();
			const bytes = await c.drain("long");
			longMs.get(c.name)?.push(performance.now() - t0);
			if (c.name === "raw-undici") longBytes = bytes;
			t0 = performance.now();
			await Promise.all(Array.from({ length: CONCURRENT }, () => c.drain("medium")));
			concurrentMs.get(c.name)?.push(performance.now() - t0);
		}
	}

	// Plain (JSON) calls, 32 callers: what a gateway's non-streaming traffic costs.
	const plainBody = JSON.stringify({ model: "short", messages: [{ role: "user", content: "hi" }] });
	const plain: Record<string, (latencies: number[]) => Promise<void>> = {
		"raw-undici": async (latencies) => {
			const t0 = performance.now();
			const res = await agent.request({
				origin,
				path: "/v1/chat/completions",
				method: "POST",
				headers: { "content-type": "application/json" },
				body: plainBody,
			});
			await res.body.arrayBuffer();
			latencies.push(performance.now() - t0);
		},
		"lifeguard-forward": async (latencies) => {
			const t0 = performance.now();
			const r = await llm.forward({ api: "openai.chat", body: { model: "short", messages: [{ role: "user", content: "hi" }] } });
			for await (const _ of r.body);
			latencies.push(performance.now() - t0);
		},
	};
	const plainRps = new Map<string, number[]>(Object.keys(plain).map((k) => [k, []]));
	const plainLatency = new Map<string, number[]>(Object.keys(plain).map((k) => [k, []]));
	const plainRound = async (call: (l: number[]) => Promise<void>, n: number, latencies: number[]) => {
		let started = 0;
		const t0 = performance.now();
		await Promise.all(
			Array.from({ length: PLAIN_CALLERS }, async () => {
				while (started++ < n) await call(latencies);
			}),
		);
		return n / ((performance.now() - t0) / 1000);
	};
	for (const call of Object.values(plain)) await plainRound(call, 500, []);
	for (let round = 0; round < ROUNDS; round++) {
		for (const [k, call] of Object.entries(plain)) plainRps.get(k)?.push(await plainRound(call, PLAIN_REQUESTS / ROUNDS, plainLatency.get(k) as number[]));
	}

	await llm.close();
	await agent.close();
	await upstream.close();

	const round2 = (x: number) => Math.round(x * 1000) / 1000;
	const result: Record<string, unknown> = {
		rounds: ROUNDS,
		ttfbRequests: TTFB_REQUESTS,
		longStream: { chunks: LONG_CHUNKS, bytes: longBytes },
		concurrent: { streams: CONCURRENT, chunksEach: CONCURRENT_CHUNKS },
		ttfbMs: Object.fromEntries(
			contenders.map((c) => [c.name, { p50: round2(percentile(ttfb.get(c.name) ?? [], 50)), p99: round2(percentile(ttfb.get(c.name) ?? [], 99)) }]),
		),
		longStreamChunksPerSec: Object.fromEntries(contenders.map((c) => [c.name, Math.round(LONG_CHUNKS / (median(longMs.get(c.name) ?? []) / 1000))])),
		longStreamMBPerSec: Object.fromEntries(
			contenders.map((c) => [c.name, Math.round((longBytes / 1e6 / (median(longMs.get(c.name) ?? []) / 1000)) * 10) / 10]),
		),
		concurrentChunksPerSec: Object.fromEntries(
			contenders.map((c) => [c.name, Math.round((CONCURRENT * CONCURRENT_CHUNKS) / (median(concurrentMs.get(c.name) ?? []) / 1000))]),
		),
	};
	const ratio = (m: Map<string, number[]>, a: string, b: string) => {
		const as = m.get(a) ?? [];
		const bs = m.get(b) ?? [];
		return Math.round(median(bs.map((x, i) => x / as[i])) * 100) / 100;
	};
	result.plain = {
		callers: PLAIN_CALLERS,
		requests: PLAIN_REQUESTS,
		requestsPerSec: Object.fromEntries([...plainRps].map(([k, v]) => [k, Math.round(median(v))])),
		p50Ms: Object.fromEntries([...plainLatency].map(([k, v]) => [k, round2(percentile(v, 50))])),
		p99Ms: Object.fromEntries([...plainLatency].map(([k, v]) => [k, round2(percentile(v, 99))])),
	};
	result.throughputRatios = {
		forwardVsRaw: ratio(longMs, "lifeguard-forward", "raw-undici"),
		typedVsRawParsed: ratio(longMs, "lifeguard-typed", "raw-undici-parsed"),
		forwardVsRawConcurrent: ratio(concurrentMs, "lifeguard-forward", "raw-undici"),
		typedVsRawParsedConcurrent: ratio(concurrentMs, "lifeguard-typed", "raw-undici-parsed"),
	};
	return result;
}
