/**
 * The LLM gateway: 32 callers of chat completions, whole and streaming, straight to a local
 * upstream, through `lifeguard serve`, and through the Portkey gateway (@portkey-ai/gateway,
 * run locally with a custom host), same run, and through `bench/minimal-proxy.ts` (node:http in
 * front of an undici Pool and nothing else: the floor for any gateway written in Node, which
 * tells how much of lifeguard's overhead is the extra hop itself). The upstream, each gateway and the load generator
 * (this process) are separate processes, so every contender pays the same hops: load generator
 * → (gateway →) upstream. Contenders alternate within each round (the order rotates from round
 * to round) and every measurement has its own warm-up, so a burst of load from elsewhere on the
 * machine hits them alike; figures are medians over the rounds, and the ratios (overhead,
 * versus Portkey) are medians of the per-round ratios.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Child, startChild } from "./child-process.ts";
import { httpLoad, type LoadResult } from "./http-load.ts";

export const name = "gateway";

const CALLERS = 32;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 2_000);
const CLIENT_KEY = "lg-bench-client-key-0123456789";
const UPSTREAM_KEY = "sk-bench-upstream-0123456789";

const body = (stream: boolean) => JSON.stringify({ model: "bench-model", messages: [{ role: "user", content: "hello" }], ...(stream ? { stream: true } : {}) });

type Contender = "direct" | "lifeguard" | "portkey" | "floor";
interface Measured extends LoadResult {
	/** CPU time of the gateway process (user + system) per request, µs; for direct, the upstream's. */
	serverCpuUsPerRequest?: number;
}

/** User + system CPU time of a process so far, µs (Linux /proc; undefined elsewhere). */
function cpuUs(child: Child): number | undefined {
	try {
		const fields = readFileSync(`/proc/${child.child.pid}/stat`, "utf8").split(") ")[1].split(" ");
		return (Number(fields[11]) + Number(fields[12])) * 10_000; // clock ticks of 10 ms
	} catch {
		return undefined;
	}
}

const median = (xs: number[]) => {
	const s = [...xs].sort((a, b) => a - b);
	return s.length === 0 ? Number.NaN : s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const round3 = (x: number) => Number(x.toFixed(3));

export async function run(): Promise<Record<string, unknown>> {
	const dir = mkdtempSync(join(tmpdir(), "lifeguard-bench-gateway-"));
	const upstream = await startChild([new URL("./llm-upstream-process.ts", import.meta.url).pathname], /upstream (http:\/\/\S+)\n/);
	const origin = upstream.match[1];
	const config = join(dir, "lifeguard.yaml");
	writeFileSync(
		config,
		`service:
  notReadyGraceMs: 0
gateway:
  keys:
    - { name: bench, key: ${CLIENT_KEY} }
  llm:
    bench_llm:
      providers:
        local: { preset: openai-compatible, baseUrl: "${origin}/v1", apiKey: ${UPSTREAM_KEY}, maxConcurrent: 256 }
      models:
        bench-model: [{ provider: local }]
`,
	);
	const lifeguard = await startChild(
		[new URL("../src/cli/bin.ts", import.meta.url).pathname, "serve", "--config", config, "--port", "0", "--data-dir", dir],
		/serving on (http:\/\/\S+)\n/,
	);
	const portkeyPort = 20_000 + Math.floor(Math.random() * 20_000);
	const portkeyEntry = createRequire(import.meta.url).resolve("@portkey-ai/gateway/build/start-server.js");
	const portkey = await startChild([portkeyEntry, `--port=${portkeyPort}`, "--headless"], /Ready for connections/);
	const floor = await startChild([new URL("./minimal-proxy.ts", import.meta.url).pathname, origin, `Bearer ${UPSTREAM_KEY}`], /proxy (http:\/\/\S+)\n/);
	const servers: Record<Contender, Child> = { direct: upstream, lifeguard, portkey, floor };
	const targets: Record<Contender, { origin: string; headers: Record<string, string> }> = {
		direct: { origin, headers: { authorization: `Bearer ${UPSTREAM_KEY}`, "content-type": "application/json" } },
		lifeguard: { origin: lifeguard.match[1], headers: { authorization: `Bearer ${CLIENT_KEY}`, "content-type": "application/json" } },
		portkey: {
			origin: `http://127.0.0.1:${portkeyPort}`,
			headers: {
				authorization: `Bearer ${UPSTREAM_KEY}`,
				"content-type": "application/json",
				"x-portkey-provider": "openai",
				"x-portkey-custom-host": `${origin}/v1`,
			},
		},
		floor: { origin: floor.match[1], headers: { "content-type": "application/json" } },
	};
	const measure = async (target: Contender, stream: boolean, callers: number): Promise<Measured | string> => {
		const t = targets[target];
		const cpu0 = cpuUs(servers[target]);
		try {
			const r = await httpLoad(t.origin, { path: "/v1/chat/completions", headers: t.headers, body: body(stream) }, { callers, durationMs: DURATION_MS });
			if (r.failures > r.requests / 2) return `failed: ${r.failures} of ${r.requests + r.failures} requests failed`;
			const cpu1 = cpuUs(servers[target]);
			// The CPU counters run through the warm-up too: per request of the whole load, warm-up included.
			const served = (r.requests * (DURATION_MS + 500)) / DURATION_MS;
			return cpu0 === undefined || cpu1 === undefined ? r : { ...r, serverCpuUsPerRequest: Math.round((cpu1 - cpu0) / served) };
		} catch (error) {
			return `failed: ${(error as Error).message}`;
		}
	};

	const modes = { oneCaller: { stream: false, callers: 1 }, plain: { stream: false, callers: CALLERS }, stream: { stream: true, callers: CALLERS } } as const;
	type Mode = keyof typeof modes;
	const runs: Record<Mode, Record<Contender, (Measured | string)[]>> = {
		oneCaller: { direct: [], lifeguard: [], portkey: [], floor: [] },
		plain: { direct: [], lifeguard: [], portkey: [], floor: [] },
		stream: { direct: [], lifeguard: [], portkey: [], floor: [] },
	};
	const order: Contender[] = ["direct", "lifeguard", "portkey", "floor"];
	try {
		for (let round = 0; round < ROUNDS; round++) {
			for (const mode of Object.keys(modes) as Mode[]) {
				// Rotated each round: no contender always runs first (cold) or right after another one's load.
				const rotated = [...order.slice(round % order.length), ...order.slice(0, round % order.length)];
				for (const target of rotated) {
					// A contender whose path failed once (Portkey's streaming with a custom host) is not timed again.
					if (runs[mode][target].some((r) => typeof r === "string")) continue;
					const r = await measure(target, modes[mode].stream, modes[mode].callers);
					runs[mode][target].push(r);
					console.error(`gateway round ${round + 1} ${mode} ${target}: ${JSON.stringify(r)}`);
				}
			}
		}
	} finally {
		await Promise.all([lifeguard.stop(), portkey.stop(), floor.stop(), upstream.stop()]);
		rmSync(dir, { recursive: true, force: true });
	}

	const summary: Record<string, unknown> = { callers: CALLERS, rounds: ROUNDS, durationMs: DURATION_MS };
	for (const mode of Object.keys(modes) as Mode[]) {
		const section: Record<string, unknown> = {};
		for (const target of order) {
			const rs = runs[mode][target];
			const failed = rs.find((r) => typeof r === "string");
			if (failed !== undefined) {
				section[target] = failed;
				continue;
			}
			const ok = rs as Measured[];
			section[target] = {
				rps: Math.round(median(ok.map((r) => r.rps))),
				p50Ms: round3(median(ok.map((r) => r.p50Ms))),
				p99Ms: round3(median(ok.map((r) => r.p99Ms))),
				...(ok[0]?.serverCpuUsPerRequest === undefined ? {} : { serverCpuUsPerRequest: Math.round(median(ok.map((r) => r.serverCpuUsPerRequest as number))) }),
				rounds: ok.map((r) => r.rps),
			};
		}
		summary[mode] = section;
		const direct = runs[mode].direct;
		const lg = runs[mode].lifeguard;
		const pk = runs[mode].portkey;
		const pairs = (a: (Measured | string)[], b: (Measured | string)[]) =>
			a.flatMap((x, i) => (typeof x === "object" && typeof b[i] === "object" ? [[x, b[i] as Measured] as const] : []));
		const overheads = pairs(lg, direct).map(([l, d]) => l.p50Ms - d.p50Ms);
		if (overheads.length > 0) summary[`${mode}OverheadP50Ms`] = round3(median(overheads));
		const vsPortkey = pairs(lg, pk).map(([l, p]) => l.rps / p.rps);
		if (vsPortkey.length > 0) summary[`${mode}VsPortkey`] = Number(median(vsPortkey).toFixed(2));
		const vsDirect = pairs(lg, direct).map(([l, d]) => l.rps / d.rps);
		if (vsDirect.length > 0) summary[`${mode}ShareOfDirect`] = Number(median(vsDirect).toFixed(2));
		const fl = runs[mode].floor;
		const floorOverheads = pairs(fl, direct).map(([f, d]) => f.p50Ms - d.p50Ms);
		if (floorOverheads.length > 0) summary[`${mode}FloorOverheadP50Ms`] = round3(median(floorOverheads));
		const vsFloor = pairs(lg, fl).map(([l, f]) => l.rps / f.rps);
		if (vsFloor.length > 0) summary[`${mode}ShareOfFloor`] = Number(median(vsFloor).toFixed(2));
	}
	return summary;
}
