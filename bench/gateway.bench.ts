/**
 * The LLM gateway: 32 callers of chat completions, whole and streaming, straight to a local
 * upstream, through `lifeguard serve`, and through the Portkey gateway (@portkey-ai/gateway,
 * run locally with a custom host), same run. Each server runs in its own process.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startChild } from "./child-process.ts";
import { httpLoad, type LoadResult } from "./http-load.ts";

export const name = "gateway";

const CALLERS = 32;
const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 3_000);
const CLIENT_KEY = "lg-bench-client-key-0123456789";
const UPSTREAM_KEY = "sk-bench-upstream-0123456789";

const body = (stream: boolean) => JSON.stringify({ model: "bench-model", messages: [{ role: "user", content: "hello" }], ...(stream ? { stream: true } : {}) });

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
	const results: Record<string, Record<string, LoadResult | string>> = { plain: {}, stream: {} };
	try {
		const targets = {
			direct: { origin, path: "/v1/chat/completions", headers: { authorization: `Bearer ${UPSTREAM_KEY}`, "content-type": "application/json" } },
			lifeguard: {
				origin: lifeguard.match[1],
				path: "/v1/chat/completions",
				headers: { authorization: `Bearer ${CLIENT_KEY}`, "content-type": "application/json" },
			},
			portkey: {
				origin: `http://127.0.0.1:${portkeyPort}`,
				path: "/v1/chat/completions",
				headers: {
					authorization: `Bearer ${UPSTREAM_KEY}`,
					"content-type": "application/json",
					"x-portkey-provider": "openai",
					"x-portkey-custom-host": `${origin}/v1`,
				},
			},
		};
		// One caller: the latency a request pays going through the gateway, without queueing on a saturated machine.
		results.oneCaller = {};
		for (const target of ["direct", "lifeguard"] as const) {
			const t = targets[target];
			results.oneCaller[target] = await httpLoad(
				t.origin,
				{ path: t.path, headers: t.headers, body: body(false) },
				{ callers: 1, durationMs: DURATION_MS / 2 },
			);
			console.error(`gateway oneCaller ${target}: ${JSON.stringify(results.oneCaller[target])}`);
		}
		for (const mode of ["plain", "stream"] as const) {
			for (const [target, t] of Object.entries(targets)) {
				try {
					const r = await httpLoad(
						t.origin,
						{ path: t.path, headers: t.headers, body: body(mode === "stream") },
						{ callers: CALLERS, durationMs: DURATION_MS },
					);
					results[mode][target] = r.failures > r.requests / 2 ? `failed: ${r.failures} of ${r.requests + r.failures} requests failed` : r;
					console.error(`gateway ${mode} ${target}: ${JSON.stringify(results[mode][target])}`);
				} catch (error) {
					results[mode][target] = `failed: ${(error as Error).message}`;
				}
			}
		}
	} finally {
		await Promise.all([lifeguard.stop(), portkey.stop(), upstream.stop()]);
		rmSync(dir, { recursive: true, force: true });
	}
	const summary: Record<string, unknown> = { callers: CALLERS, durationMs: DURATION_MS, ...results };
	const one = results.oneCaller as Record<string, LoadResult>;
	summary.oneCallerOverheadP50Ms = Number((one.lifeguard.p50Ms - one.direct.p50Ms).toFixed(3));
	for (const mode of ["plain", "stream"] as const) {
		const direct = results[mode].direct as LoadResult;
		const lg = results[mode].lifeguard as LoadResult;
		const pk = results[mode].portkey;
		if (typeof direct === "object" && typeof lg === "object") summary[`${mode}OverheadP50Ms`] = Number((lg.p50Ms - direct.p50Ms).toFixed(3));
		if (typeof lg === "object" && typeof pk === "object") summary[`${mode}VsPortkey`] = Number((lg.rps / pk.rps).toFixed(2));
	}
	return summary;
}
