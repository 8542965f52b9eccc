/**
 * Seed 000's ComfyUI quick start, then the pool over several instances: progress as it
 * happens, outputs with their image bytes, a job moved off an instance that died, a cancel.
 * Without COMFYUI_URL it starts three local test servers that speak ComfyUI's HTTP + /ws
 * protocol (test/comfyui/server.ts); with COMFYUI_URL=http://host:8188 the quick start runs
 * against that ComfyUI (its workflow must fit your models) and the rest is skipped.
 * Run: npx node examples/comfyui.ts
 */
import { createComfyUIPool } from "../src/adapters/comfyui/index.ts";
import { ComfyServer } from "../test/comfyui/server.ts";

const workflow = {
	"4": { class_type: "CheckpointLoaderSimple", inputs: { ckpt_name: "sd_xl_base_1.0.safetensors" } },
	"5": { class_type: "EmptyLatentImage", inputs: { width: 1024, height: 1024, batch_size: 1 } },
	"6": { class_type: "CLIPTextEncode", inputs: { text: "a lighthouse at dusk, oil painting", clip: ["4", 1] } },
	"7": { class_type: "KSampler", inputs: { seed: 42, steps: 8, cfg: 7, model: ["4", 0], positive: ["6", 0], latent_image: ["5", 0] } },
	"8": { class_type: "VAEDecode", inputs: { samples: ["7", 0], vae: ["4", 2] } },
	"9": { class_type: "SaveImage", inputs: { images: ["8", 0], filename_prefix: "lifeguard" } },
};

const external = process.env.COMFYUI_URL === undefined ? undefined : new URL(process.env.COMFYUI_URL);
const servers = external === undefined ? await Promise.all([0, 1, 2].map(() => ComfyServer.start({ stepMs: 15 }))) : [];

try {
	// ── seed 000: one server, min 1 / max 5, a pooled connection, execute("queue_prompt") ──
	const seed = createComfyUIPool({
		host: external?.hostname ?? "127.0.0.1",
		port: external === undefined ? servers[0].port : Number(external.port || 8188),
		apiPath: "",
		timeout: 300, // seconds, as in the seed
		verifyTls: true,
		min: 1,
		max: 5,
	});
	await seed.start();
	const connection = await seed.getConnection();
	try {
		const result = await connection.execute("queue_prompt", { workflow });
		const image = result.images[0];
		console.log(`quick start: prompt ${result.promptId.slice(0, 8)} on ${connection.instance}: ${image.filename} (${image.bytes?.length} bytes)`);
	} finally {
		connection.release();
		await seed.close();
	}
	if (external !== undefined) process.exit(0);

	// ── the pool over three instances ──
	const pool = createComfyUIPool({
		name: "images",
		instances: servers.map((s, i) => ({ url: s.url, name: `gpu-${i}` })),
		strategy: "leastQueued",
		stallTimeoutMs: 2_000,
		probeInitialMs: 100,
	});
	await pool.start();

	// Progress: an async iterator over the job's events (also a callback and an event).
	const job = pool.submit(workflow, { previews: true });
	const steps: string[] = [];
	let previews = 0;
	for await (const event of job) {
		if (event.type === "progress") steps.push(`${event.value}/${event.max}`);
		if (event.type === "preview") previews++;
	}
	const first = await job.result;
	console.log(`progress ${steps.join(" ")}, ${previews} previews, done on ${first.instance} in ${first.durationMs.toFixed(0)} ms`);

	// Nine jobs at once spread over the instances; one instance dies in the middle.
	const started = performance.now();
	const batch = Array.from({ length: 9 }, (_, i) => pool.run({ ...workflow, "7": { ...workflow["7"], inputs: { ...workflow["7"].inputs, seed: i } } }));
	setTimeout(() => void servers[2].kill(), 60);
	const results = await Promise.allSettled(batch);
	const byInstance: Record<string, number> = {};
	for (const r of results) if (r.status === "fulfilled") byInstance[r.value.instance] = (byInstance[r.value.instance] ?? 0) + 1;
	const lost = results.filter((r) => r.status === "rejected").length;
	console.log(`9 jobs in ${(performance.now() - started).toFixed(0)} ms, by instance ${JSON.stringify(byInstance)}, ${lost} lost with the dying instance`);
	console.log(
		`gpu-2 is ${pool.stats().instances["gpu-2"].state}; breakers: ${pool
			.breakers()
			.map((b) => `${b.label} ${b.state}`)
			.join(", ")}`,
	);

	// Cancel: a running job is interrupted on its instance by prompt_id.
	const controller = new AbortController();
	const cancelled = pool.run(workflow, { signal: controller.signal, onProgress: (e) => e.type === "progress" && e.value === 2 && controller.abort() });
	console.log(`cancelled: ${await cancelled.catch((e: Error & { code: string }) => `${e.code} ${e.message}`)}`);
	await pool.close();
} finally {
	await Promise.all(servers.map((s) => s.close()));
}
