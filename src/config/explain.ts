import { redactSecrets, SECRET_KEY } from "../observe/redact.ts";
import type { ResolvedConfig } from "./load.ts";
import { SECRET_KEYS } from "./schema.ts";

/** One effective setting: its key, its value as printed (secrets masked) and where it came from. */
export interface ExplainedSetting {
	path: string;
	value: string;
	source: string;
}

/**
 * The effective value and source of every key, secrets masked: what `lifeguard check` prints.
 * A secret-named key (password, apiKey, token...) shows `***`; URLs show no credentials.
 */
export function explain(config: ResolvedConfig): ExplainedSetting[] {
	const out: ExplainedSetting[] = [];
	const add = (path: string, key: string, value: unknown, source?: string) => {
		if (value === undefined) return;
		const from = config.sources[path] ?? source ?? "default";
		// Nested options (an LLM client's providers, a ComfyUI instance's auth) are listed key by key, so a secret inside is masked by its own name.
		if (value !== null && typeof value === "object" && !SECRET_KEYS.has(key) && !SECRET_KEY.test(key)) {
			const entries = Object.entries(value);
			if (entries.length > 0) {
				for (const [k, v] of entries) add(`${path}.${k}`, Array.isArray(value) ? key : k, v, from);
				return;
			}
		}
		out.push({ path, value: maskValue(key, value), source: from });
	};
	for (const [name, pool] of Object.entries(config.pools)) {
		for (const [key, value] of Object.entries(pool)) add(`pools.${name}.${key}`, key, value);
	}
	for (const [key, value] of Object.entries(config.monitoring)) add(`monitoring.${key}`, key, value);
	for (const [key, value] of Object.entries(config.distributedPool ?? {})) add(`distributed_pool.${key}`, key, value);
	return out;
}

/** `explain()` as aligned text lines: `pools.orders.max  20  (env CONNECTION_POOL_DB_MAX)`. */
export function formatExplanation(settings: readonly ExplainedSetting[]): string {
	const pathWidth = Math.max(0, ...settings.map((s) => s.path.length));
	const valueWidth = Math.max(0, ...settings.map((s) => s.value.length));
	return settings.map((s) => `${s.path.padEnd(pathWidth)}  ${s.value.padEnd(valueWidth)}  (${s.source})`).join("\n");
}

function maskValue(key: string, value: unknown): string {
	if (SECRET_KEYS.has(key) || SECRET_KEY.test(key)) return "***";
	return redactSecrets(typeof value === "string" ? value : JSON.stringify(value));
}
