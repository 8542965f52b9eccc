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
	const add = (path: string, key: string, value: unknown) => {
		if (value === undefined) return;
		out.push({ path, value: maskValue(key, value), source: config.sources[path] ?? "default" });
	};
	for (const [name, pool] of Object.entries(config.pools)) {
		for (const [key, value] of Object.entries(pool)) add(`pools.${name}.${key}`, key, value);
	}
	for (const [key, value] of Object.entries(config.monitoring)) add(`monitoring.${key}`, key, value);
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
