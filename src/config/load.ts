import type { z } from "zod";
import { FIRESTORE_DEFAULTS } from "../adapters/firestore/options.ts";
import { HTTP_DEFAULTS } from "../adapters/http/options.ts";
import { MONGO_DEFAULTS } from "../adapters/mongodb/options.ts";
import { WEBSOCKET_DEFAULTS } from "../adapters/websocket/options.ts";
import { suggestion } from "../core/did-you-mean.ts";
import { ConfigError, type ConfigProblem } from "../core/errors.ts";
import { POOL_DEFAULTS } from "../core/options.ts";
import { redactSecrets } from "../observe/redact.ts";
import { type EnvSetting, matchesPoolName, POOL_PREFIX, readKindVariables, readPoolVariables } from "./env.ts";
import {
	CORE_POOL_KINDS,
	type DistributedPoolSettings,
	distributedPoolSchema,
	ENVIRONMENTS,
	keysOf,
	type MonitoringConfig,
	monitoringSchema,
	POOL_KINDS,
	type PoolConfig,
	type PoolKind,
	poolSchemas,
	TOP_LEVEL_KEYS,
} from "./schema.ts";
import { parseYaml, readYamlFile, type YamlSource } from "./yaml-source.ts";

export interface LoadConfigOptions {
	/** A YAML file: `defaults` per kind, `pools`, `monitoring`, and per-environment sections of the same shape. */
	file?: string;
	/** YAML text instead of a file (named `inline` in sources). */
	yaml?: string;
	/** The same shape as a plain object from code (source `code`), instead of a file. */
	config?: Record<string, unknown>;
	/** Where `CONNECTION_POOL_*`, `LIFEGUARD_POOLS__*` and `${VAR}` come from. Default `process.env`. */
	env?: NodeJS.ProcessEnv;
	/** Which environment section to merge over the base (`development`, `staging`, `production`, `test`). Default `NODE_ENV`. */
	environment?: string;
}

/** The effective configuration: every pool's options typed by kind, and where each value came from. */
export interface ResolvedConfig {
	environment: string | undefined;
	pools: Record<string, PoolConfig>;
	monitoring: MonitoringConfig;
	/** Seed 003's `distributed_pool` block, when the config has one: shared budgets and the shard map go through its Redis. */
	distributedPool?: DistributedPoolSettings;
	/** Dotted key (`pools.orders.max`) → its source: `default`, `code`, `file:line:column`, `env NAME`. */
	sources: Record<string, string>;
	/** Which sources contributed, for the start-up summary: files read, variables used. */
	summary: { files: string[]; environmentSection: string | undefined; variables: string[] };
}

/** Built-in defaults shown by `explain()`: the core's for the kinds that take the core's options (see docs/core.md), and the kinds' own. */
const BUILT_IN: Partial<Record<PoolKind | "common", Record<string, unknown>>> = {
	common: {
		min: POOL_DEFAULTS.min,
		max: POOL_DEFAULTS.max,
		acquireTimeoutMs: POOL_DEFAULTS.acquireTimeoutMs,
		createTimeoutMs: POOL_DEFAULTS.createTimeoutMs,
		idleTimeoutMs: POOL_DEFAULTS.idleTimeoutMs,
		maxLifetimeMs: POOL_DEFAULTS.maxLifetimeMs,
		validateAfterIdleMs: POOL_DEFAULTS.validateAfterIdleMs,
	},
	// Not healthCheckIntervalMs: monitoring.healthCheckIntervalMs fills it when a pool sets none.
	mongodb: { min: MONGO_DEFAULTS.min, max: MONGO_DEFAULTS.max, idleTimeoutMs: MONGO_DEFAULTS.idleTimeoutMs, acquireTimeoutMs: MONGO_DEFAULTS.acquireTimeoutMs },
	firestore: { min: FIRESTORE_DEFAULTS.min, max: FIRESTORE_DEFAULTS.max, idleTimeoutMs: FIRESTORE_DEFAULTS.idleTimeoutMs },
	http: { maxConnections: HTTP_DEFAULTS.maxConnections, maxConnectionsPerOrigin: HTTP_DEFAULTS.maxConnectionsPerOrigin },
	websocket: {
		maxConnections: WEBSOCKET_DEFAULTS.maxConnections,
		pingIntervalMs: WEBSOCKET_DEFAULTS.pingIntervalMs,
		reconnectInitialMs: WEBSOCKET_DEFAULTS.reconnectInitialMs,
	},
};

interface Layered {
	value: unknown;
	source: string;
}

/**
 * Loads the configuration from its sources, later ones winning: built-in defaults < YAML
 * `defaults` per kind < `CONNECTION_POOL_*` (kind-level) < YAML per pool <
 * `LIFEGUARD_POOLS__<NAME>__<KEY>`; the chosen environment section is merged over the file's
 * base first. Throws one `ConfigError` (CONFIG_INVALID) listing every problem with its path and
 * source; no value is ever quoted in it, so no secret can leak.
 */
export function loadConfig(options: LoadConfigOptions = {}): ResolvedConfig {
	const env = options.env ?? process.env;
	const problems: ConfigProblem[] = [];
	const environment = options.environment ?? env.NODE_ENV;
	const files: string[] = [];
	let source: YamlSource | undefined;
	if (options.file !== undefined) {
		files.push(options.file);
		source = readYamlFile(options.file, env, problems);
	} else if (options.yaml !== undefined) {
		source = parseYaml(options.yaml, "inline", env, problems);
	} else if (options.config !== undefined) {
		source = { value: options.config, positions: new Map(), substituted: new Set() };
	}
	const where = (path: string) => source?.positions.get(path) ?? (options.config !== undefined ? "code" : (files[0] ?? "inline"));

	const root = asObject(source?.value ?? {}, "", where, problems) ?? {};
	checkKeys(root, "", TOP_LEVEL_KEYS, where, problems);
	const section = environment !== undefined && (ENVIRONMENTS as readonly string[]).includes(environment) ? environment : undefined;
	const sectionValue = section !== undefined ? asObject(root[section], section, where, problems) : undefined;
	if (sectionValue !== undefined && section !== undefined)
		checkKeys(sectionValue, section, ["defaults", "pools", "monitoring", "distributed_pool"], where, problems);

	/** A section's map (defaults, pools, monitoring) as path-tracked entries: base first, then the environment's over it. */
	const layered = (key: "defaults" | "pools" | "monitoring") => {
		const merged = new Map<string, Map<string, Layered>>();
		const take = (value: unknown, prefix: string) => {
			const object = asObject(value, prefix, where, problems);
			if (object === undefined) return;
			for (const [name, entry] of Object.entries(object)) {
				const path = `${prefix}.${name}`;
				let keys = merged.get(name);
				if (keys === undefined) merged.set(name, (keys = new Map()));
				if (key === "monitoring") {
					keys.set("", { value: entry, source: where(path) });
					continue;
				}
				const inner = asObject(entry, path, where, problems);
				for (const [k, v] of Object.entries(inner ?? {})) keys.set(k, { value: v, source: where(`${path}.${k}`) });
			}
		};
		if (root[key] !== undefined) take(root[key], key);
		if (sectionValue?.[key] !== undefined) take(sectionValue[key], `${section}.${key}`);
		return merged;
	};
	const fileDefaults = layered("defaults");
	const filePools = layered("pools");
	const fileMonitoring = layered("monitoring");
	for (const kind of fileDefaults.keys()) {
		if (!(POOL_KINDS as readonly string[]).includes(kind)) {
			problems.push({
				path: `defaults.${kind}`,
				message: `unknown pool kind${suggestion(kind, POOL_KINDS)}; kinds: ${POOL_KINDS.join(", ")}`,
				source: where(`defaults.${kind}`),
			});
		}
	}

	const kindVariables = readKindVariables(env, problems);
	const poolVariables = readPoolVariables(env, problems);
	const variables = Object.keys(env).filter((k) => k.startsWith("CONNECTION_POOL_") || k.startsWith("LIFEGUARD_POOLS__"));

	// Pools declared only through LIFEGUARD_POOLS__<NAME>__KIND are pools too (named in lower case).
	const names = [...filePools.keys()];
	for (const [envName, keys] of poolVariables) {
		if (names.some((name) => matchesPoolName(envName, name))) continue;
		if (keys.has("kind")) {
			names.push(envName.toLowerCase());
			continue;
		}
		// A file that did not parse names no pools: every variable would be reported as naming none.
		if ((options.file !== undefined || options.yaml !== undefined) && source === undefined) continue;
		const [first] = keys.values();
		const near = suggestion(
			envName,
			names.map((n) => n.toUpperCase().replace(/[^A-Z0-9]/g, "_")),
		);
		problems.push({
			path: `pools.${envName.toLowerCase()}`,
			message: `no pool named ${envName.toLowerCase()} in the configuration${near}; add it to the file or declare it with ${POOL_PREFIX}${envName}__KIND`,
			source: first.source,
		});
	}

	const pools: Record<string, PoolConfig> = {};
	const sources: Record<string, string> = {};
	for (const name of names) {
		const merged = new Map<string, Layered>();
		const set = (entries: Iterable<[string, Layered]> | undefined) => {
			for (const [k, v] of entries ?? []) merged.set(k, v);
		};
		const own = filePools.get(name);
		const fromEnv = [...poolVariables].find(([envName]) => matchesPoolName(envName, name))?.[1];
		const kindSetting = (fromEnv?.get("kind") as EnvSetting | undefined) ?? own?.get("kind");
		const kind = kindSetting?.value;
		const path = `pools.${name}`;
		if (typeof kind !== "string" || !(POOL_KINDS as readonly string[]).includes(kind)) {
			problems.push({
				path: `${path}.kind`,
				message:
					kind === undefined
						? `required: one of ${POOL_KINDS.join(", ")}`
						: `unknown pool kind${typeof kind === "string" ? suggestion(kind, POOL_KINDS) : ""}; kinds: ${POOL_KINDS.join(", ")}`,
				source: kindSetting?.source ?? where(path),
			});
			continue;
		}
		const k = kind as PoolKind;
		const known = new Set(keysOf(k));
		const builtIn = { ...(CORE_POOL_KINDS.includes(k) ? BUILT_IN.common : {}), ...BUILT_IN[k] };
		set(Object.entries(builtIn).flatMap(([key, value]) => (known.has(key) ? [[key, { value, source: "default" }] as [string, Layered]] : [])));
		set(fileDefaults.get(k));
		set([...(kindVariables.byKind.get(k) ?? [])].filter(([key]) => known.has(key)));
		set(own);
		set(fromEnv);
		const raw = Object.fromEntries([...merged].map(([key, v]) => [key, v.value]));
		const parsed = poolSchemas[k].safeParse(raw);
		if (!parsed.success) {
			for (const issue of parsed.error.issues) {
				if (issue.code === "unrecognized_keys") {
					for (const key of issue.keys) {
						problems.push({
							path: `${path}.${key}`,
							message: `unknown option for a ${k} pool${suggestion(key, [...known])}`,
							source: merged.get(key)?.source ?? where(path),
						});
					}
					continue;
				}
				const first = String(issue.path[0] ?? "");
				problems.push({
					path: issue.path.length > 0 ? `${path}.${issue.path.join(".")}` : path,
					message: redactSecrets(issue.message),
					source: merged.get(first)?.source ?? where(path),
				});
			}
			continue;
		}
		pools[name] = parsed.data as PoolConfig;
		for (const [key, v] of merged) sources[`${path}.${key}`] = v.source;
	}

	const monitoringMerged = new Map<string, Layered>();
	for (const [key, entry] of fileMonitoring) {
		const v = entry.get("");
		if (v !== undefined) monitoringMerged.set(key, v);
	}
	for (const [key, v] of kindVariables.monitoring) monitoringMerged.set(key, v);
	const monitoring: MonitoringConfig = parseBlock("monitoring", monitoringSchema, monitoringMerged, sources, problems, where) ?? {};

	// distributed_pool: the base block, then the environment section's keys over it.
	const distributedMerged = new Map<string, Layered>();
	for (const [prefix, block] of [
		["distributed_pool", root.distributed_pool],
		[`${section}.distributed_pool`, sectionValue?.distributed_pool],
	] as const) {
		const object = asObject(block, prefix, where, problems);
		for (const [key, value] of Object.entries(object ?? {})) distributedMerged.set(key, { value, source: where(`${prefix}.${key}`) });
	}
	const distributedPool: DistributedPoolSettings | undefined =
		distributedMerged.size === 0
			? undefined
			: parseBlock("distributed_pool", distributedPoolSchema, distributedMerged, sources, problems, where, {
					// Never the value: a URL may hold a password.
					redis_url: "required: a redis:// or rediss:// URL",
				});
	// A shared budget lives in distributed_pool's Redis: a pool that asks for one without it is a problem at the pool's key.
	for (const [name, pool] of Object.entries(pools)) {
		if ((pool as { sharedBudget?: number }).sharedBudget !== undefined && distributedMerged.size === 0) {
			problems.push({
				path: `pools.${name}.sharedBudget`,
				message: "needs distributed_pool.redis_url (the Redis the processes share the budget through)",
				source: sources[`pools.${name}.sharedBudget`],
			});
		}
	}

	if (problems.length > 0) throw new ConfigError("lifeguard configuration", problems);
	return {
		environment,
		pools,
		monitoring,
		...(distributedPool !== undefined ? { distributedPool } : {}),
		sources,
		summary: { files, environmentSection: sectionValue !== undefined ? section : undefined, variables },
	};
}

/**
 * A top-level block (`monitoring`, `distributed_pool`) parsed from its merged keys: on success
 * each key's source is recorded under `block.key`; otherwise each key at fault becomes a problem
 * at its own source, and undefined is returned. `wording` replaces the schema's message for the
 * keys it names (a message that must not quote the value).
 */
function parseBlock<T>(
	block: string,
	schema: { shape: Record<string, unknown>; safeParse(value: unknown): z.ZodSafeParseResult<T> },
	merged: Map<string, Layered>,
	sources: Record<string, string>,
	problems: ConfigProblem[],
	where: (path: string) => string,
	wording: Record<string, string> = {},
): T | undefined {
	const parsed = schema.safeParse(Object.fromEntries([...merged].map(([k, v]) => [k, v.value])));
	if (parsed.success) {
		for (const [key, v] of merged) sources[`${block}.${key}`] = v.source;
		return parsed.data;
	}
	for (const issue of parsed.error.issues) {
		const keys = issue.code === "unrecognized_keys" ? issue.keys : [String(issue.path[0] ?? "")];
		for (const key of keys) {
			const message =
				issue.code === "unrecognized_keys" ? `unknown option${suggestion(key, Object.keys(schema.shape))}` : (wording[key] ?? redactSecrets(issue.message));
			problems.push({ path: `${block}.${key}`, message, source: merged.get(key)?.source ?? where(block) });
		}
	}
	return undefined;
}

function asObject(value: unknown, path: string, where: (path: string) => string, problems: ConfigProblem[]): Record<string, unknown> | undefined {
	if (value === undefined || value === null) return undefined;
	if (typeof value === "object" && !Array.isArray(value)) return value as Record<string, unknown>;
	problems.push({ path: path === "" ? "(root)" : path, message: "must be a mapping of keys to values", source: where(path) });
	return undefined;
}

function checkKeys(object: Record<string, unknown>, path: string, known: readonly string[], where: (path: string) => string, problems: ConfigProblem[]): void {
	for (const key of Object.keys(object)) {
		if (known.includes(key)) continue;
		const at = path === "" ? key : `${path}.${key}`;
		problems.push({ path: at, message: `unknown key${suggestion(key, known)}; known: ${known.join(", ")}`, source: where(at) });
	}
}
