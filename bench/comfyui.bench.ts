/**
 * ComfyUI: jobs per second through the pool over 3 test instances vs 1, against a naive client
 * that posts every prompt to one instance and polls /history (what most scripts do); and how
 * long the pool takes to notice an instance that died (its socket closes) and one whose
 * network went silent (a half-open socket, found by the heartbeat).
 */
import { createComfyUIPool } from "../src/adapters/comfyui/index.ts";
import { ComfyServer } from "../test/comfyui/server.ts";
import { txt2img } from "../test/comfyui/workflows.ts";
import { TcpProxy } from "../test/support/tcp-proxy.ts";

const JOBS = 60;
const STEPS = 5;
const STEP_MS = 10;

async function throughput(instances: number): Promise<number> {
	const servers = await Promise.all(Array.from({ length: instances }, () => ComfyServer.start({ stepMs: STEP_MS, previews: false })));
	try {
		const pool = createComfyUIPool({ instances: servers.map((s) => s.url), min: instances });
		await pool.start();
		const started = performance.now();
		await Promise.all(Array.from({ length: JOBS }, () => pool.run(txt2img(STEPS))));
		const seconds = (performance.now() - started) / 1000;
		await pool.close();
		return JOBS / seconds;
	} finally {
		await Promise.all(servers.map((s) => s.close()));
	}
}

async function naive(): Promise<number> {
	const server = await ComfyServer.start({ stepMs: STEP_MS, previews: false });
	try {
		const started = performance.now();
		await Promise.all(
			Array.from({ length: JOBS }, async () => {
				const answer = await fetch(`${server.url}/prompt`, { method: "POST", body: JSON.stringify({ prompt: txt2img(STEPS), client_id: "script" }) });
				const { prompt_id } = (await answer.json()) as { prompt_id: string };
				while (true) {
					const history = (await (await fetch(`${server.url}/history/${prompt_id}`)).json()) as Record<
						string,
						{ outputs: Record<string, { images: { filename: string }[] }> }
					>;
					const entry = history[prompt_id];
					if (entry !== undefined) {
						const image = entry.outputs["9"].images[0];
						await (await fetch(`${server.url}/view?filename=${image.filename}&subfolder=&type=output`)).arrayBuffer();
						return;
					}
					await new Promise((r) => setTimeout(r, 100));
				}
			}),
		);
		return JOBS / ((performance.now() - started) / 1000);
	} finally {
		await server.close();
	}
}

async function deadInstanceMs(): Promise<number> {
	const server = await ComfyServer.start();
	const pool = createComfyUIPool({ instances: [server.url] });
	await pool.start();
	const label = `127.0.0.1:${server.port}`;
	const killed = performance.now();
	await server.kill();
	while (pool.stats().instances[label].state === "up") await new Promise((r) => setTimeout(r, 1));
	const ms = performance.now() - killed;
	await pool.close();
	return ms;
}

async function halfOpenMs(pingIntervalMs: number, pongTimeoutMs: number): Promise<number> {
	const server = await ComfyServer.start();
	const proxy = await TcpProxy.start(server.port);
	try {
		const pool = createComfyUIPool({ instances: [`http://127.0.0.1:${proxy.port}`], pingIntervalMs, pongTimeoutMs, probeInitialMs: 60_000 });
		await pool.start();
		const label = `127.0.0.1:${proxy.port}`;
		proxy.setMode("stall");
		const stalled = performance.now();
		while (pool.stats().instances[label].state === "up") await new Promise((r) => setTimeout(r, 2));
		const ms = performance.now() - stalled;
		await pool.close({ timeoutMs: 100 });
		return ms;
	} finally {
		await proxy.close();
		await server.close();
	}
}

export const name = "comfyui";

export async function run(): Promise<Record<string, unknown>> {
	const one = await throughput(1);
	const three = await throughput(3);
	const script = await naive();
	const dead = await deadInstanceMs();
	const halfOpen = await halfOpenMs(1_000, 1_000);
	return {
		jobs: JOBS,
		jobMs: `${STEPS} steps × ${STEP_MS} ms + nodes`,
		jobsPerSecond: { pool1: round(one), pool3: round(three), speedup: round(three / one), naiveScriptOneInstance: round(script) },
		deadInstanceNoticedMs: round(dead),
		halfOpenNoticedMs: { pingIntervalMs: 1_000, pongTimeoutMs: 1_000, noticedMs: round(halfOpen) },
	};
}

function round(n: number): number {
	return Math.round(n * 10) / 10;
}
