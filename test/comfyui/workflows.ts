/** API-format workflows the ComfyUI tests run on the test server. */
export function txt2img(steps = 4, prompt = "a lighthouse at dusk"): Record<string, unknown> {
	return {
		"4": { class_type: "CheckpointLoaderSimple", inputs: { ckpt_name: "sd_xl_base_1.0.safetensors" } },
		"5": { class_type: "EmptyLatentImage", inputs: { width: 512, height: 512, batch_size: 1 } },
		"6": { class_type: "CLIPTextEncode", inputs: { text: prompt, clip: ["4", 1] } },
		"7": { class_type: "KSampler", inputs: { seed: 42, steps, cfg: 7, model: ["4", 0], positive: ["6", 0], latent_image: ["5", 0] } },
		"8": { class_type: "VAEDecode", inputs: { samples: ["7", 0], vae: ["4", 2] } },
		"9": { class_type: "SaveImage", inputs: { images: ["8", 0], filename_prefix: "lifeguard" } },
	};
}

/** A workflow whose node raises at execution (an out-of-memory by default). */
export function failing(): Record<string, unknown> {
	return { ...txt2img(2), "8": { class_type: "Fail", inputs: {} } };
}

/** A workflow the server rejects at validation (an unknown node class). */
export function invalid(): Record<string, unknown> {
	return { ...txt2img(2), "8": { class_type: "NoSuchNode", inputs: {} } };
}

/** img2img from an uploaded file. */
export function img2img(image: string): Record<string, unknown> {
	return {
		"1": { class_type: "LoadImage", inputs: { image } },
		"7": { class_type: "KSampler", inputs: { steps: 2 } },
		"9": { class_type: "SaveImage", inputs: { images: ["7", 0] } },
	};
}

/** Silent work of `ms` before the output node: no progress events meanwhile. */
export function sleepy(ms: number): Record<string, unknown> {
	return { "1": { class_type: "Sleep", inputs: { ms } }, "9": { class_type: "SaveImage", inputs: {} } };
}
