import { didYouMean } from "../core/did-you-mean.ts";
import type { ConfigProblem } from "../core/errors.ts";
import { CORE_POOL_KINDS, DATABASE_KINDS, type PoolKind } from "./schema.ts";

/** How a `CONNECTION_POOL_*` value is read: the seed's meanings (durations in seconds, booleans true/false/1/0). */
type EnvValue = "count" | "seconds" | "boolean";

interface KindVariable {
	/** The part after `CONNECTION_POOL_`. */
	readonly name: string;
	readonly kinds: readonly PoolKind[];
	readonly key: string;
	readonly value: EnvValue;
}

/** The `CONNECTION_POOL_*` variables: each sets one key for every pool of its kinds. */
export const KIND_VARIABLES: readonly KindVariable[] = [
	{ name: "HTTP_TOTAL", kinds: ["http"], key: "maxConnections", value: "count" },
	{ name: "HTTP_PER_HOST", kinds: ["http"], key: "maxConnectionsPerOrigin", value: "count" },
	{ name: "HTTP_KEEPALIVE", kinds: ["http"], key: "keepAliveTimeoutMs", value: "seconds" },
	// The seed's request timeout is the whole call's deadline (waits, attempts, body), the HTTP client's timeoutMs.
	{ name: "HTTP_TIMEOUT", kinds: ["http"], key: "timeoutMs", value: "seconds" },
	{ name: "DB_MIN", kinds: DATABASE_KINDS, key: "min", value: "count" },
	{ name: "DB_MAX", kinds: DATABASE_KINDS, key: "max", value: "count" },
	{ name: "DB_IDLE_TIMEOUT", kinds: DATABASE_KINDS, key: "idleTimeoutMs", value: "seconds" },
	{ name: "DB_COMMAND_TIMEOUT", kinds: DATABASE_KINDS, key: "statementTimeoutMs", value: "seconds" },
	{ name: "REDIS_MAX", kinds: ["redis"], key: "max", value: "count" },
	{ name: "REDIS_TIMEOUT", kinds: ["redis"], key: "commandTimeoutMs", value: "seconds" },
	{ name: "WS_MAX", kinds: ["websocket"], key: "maxConnections", value: "count" },
	{ name: "WS_HEARTBEAT", kinds: ["websocket"], key: "pingIntervalMs", value: "seconds" },
	// The first reconnect's delay ceiling; later ones double from it (full jitter) up to reconnectMaxMs.
	{ name: "WS_RECONNECT", kinds: ["websocket"], key: "reconnectInitialMs", value: "seconds" },
	// Seed 002's adaptive_sizing / adaptation_interval, for every pool with core pool options.
	{ name: "ADAPTIVE_SIZING", kinds: CORE_POOL_KINDS, key: "adaptiveSizing", value: "boolean" },
	{ name: "ADAPTATION_INTERVAL", kinds: CORE_POOL_KINDS, key: "adaptationIntervalMs", value: "seconds" },
];

/** The `CONNECTION_POOL_*` variables of the monitoring section. */
export const MONITORING_VARIABLES = [
	{ name: "MONITORING", key: "enabled", value: "boolean" },
	{ name: "HEALTH_CHECK", key: "healthCheckIntervalMs", value: "seconds" },
] as const satisfies readonly { name: string; key: string; value: EnvValue }[];

export const KIND_PREFIX = "CONNECTION_POOL_";
export const POOL_PREFIX = "LIFEGUARD_POOLS__";

/** One value read from the environment, with the variable it came from. */
export interface EnvSetting {
	value: unknown;
	source: string;
}

/** `CONNECTION_POOL_*` by kind (key → setting) and for monitoring; unknown or unreadable variables become problems. */
export function readKindVariables(env: NodeJS.ProcessEnv, problems: ConfigProblem[]) {
	const byKind = new Map<PoolKind, Map<string, EnvSetting>>();
	const monitoring = new Map<string, EnvSetting>();
	const known = [...KIND_VARIABLES.map((v) => v.name), ...MONITORING_VARIABLES.map((v) => v.name)];
	for (const [variable, raw] of Object.entries(env)) {
		if (!variable.startsWith(KIND_PREFIX) || raw === undefined) continue;
		const name = variable.slice(KIND_PREFIX.length);
		const spec = KIND_VARIABLES.find((v) => v.name === name) ?? MONITORING_VARIABLES.find((v) => v.name === name);
		if (spec === undefined) {
			const near = didYouMean(name, known);
			problems.push({
				path: variable,
				message: `unknown variable${near === undefined ? "" : ` (did you mean ${KIND_PREFIX}${near}?)`}; known: ${known.map((k) => KIND_PREFIX + k).join(", ")}`,
				source: `env ${variable}`,
			});
			continue;
		}
		const value = readEnvValue(raw, spec.value);
		if (value === undefined) {
			problems.push({ path: variable, message: describeExpected(spec.value), source: `env ${variable}` });
			continue;
		}
		const setting = { value, source: `env ${variable}` };
		if ("kinds" in spec) {
			for (const kind of spec.kinds) {
				let keys = byKind.get(kind);
				if (keys === undefined) byKind.set(kind, (keys = new Map()));
				keys.set(spec.key, setting);
			}
		} else monitoring.set(spec.key, setting);
	}
	return { byKind, monitoring };
}

/** `LIFEGUARD_POOLS__<NAME>__<KEY>`: pool name (as written in the variable) → key → setting. */
export function readPoolVariables(env: NodeJS.ProcessEnv, problems: ConfigProblem[]): Map<string, Map<string, EnvSetting>> {
	const pools = new Map<string, Map<string, EnvSetting>>();
	for (const [variable, raw] of Object.entries(env)) {
		if (!variable.startsWith(POOL_PREFIX) || raw === undefined) continue;
		const parts = variable.slice(POOL_PREFIX.length).split("__");
		if (parts.length !== 2 || parts[0] === "" || parts[1] === "") {
			problems.push({ path: variable, message: `expected ${POOL_PREFIX}<POOL>__<KEY>, e.g. ${POOL_PREFIX}ORDERS__MAX`, source: `env ${variable}` });
			continue;
		}
		let keys = pools.get(parts[0]);
		if (keys === undefined) pools.set(parts[0], (keys = new Map()));
		keys.set(camelCase(parts[1]), { value: parseLoose(raw), source: `env ${variable}` });
	}
	return pools;
}

/** Whether an environment variable's pool name designates `pool` (`ORDERS_DB` for `orders-db`). */
export function matchesPoolName(envName: string, pool: string): boolean {
	return envName.toUpperCase() === pool.toUpperCase().replace(/[^A-Z0-9]/g, "_");
}

/** `ACQUIRE_TIMEOUT_MS` → `acquireTimeoutMs`; a name already in camelCase is kept. */
export function camelCase(name: string): string {
	if (!name.includes("_") && name !== name.toUpperCase()) return name;
	const [first, ...rest] = name.toLowerCase().split("_");
	return first + rest.map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join("");
}

function readEnvValue(raw: string, kind: EnvValue): unknown {
	const s = raw.trim();
	if (kind === "boolean") return /^(true|1)$/i.test(s) ? true : /^(false|0)$/i.test(s) ? false : undefined;
	if (!/^\d+(\.\d+)?$/.test(s)) return undefined;
	const n = Number(s);
	if (kind === "count") return Number.isInteger(n) ? n : undefined;
	return Math.round(n * 1000);
}

function describeExpected(kind: EnvValue): string {
	if (kind === "boolean") return "must be true, false, 1 or 0";
	if (kind === "count") return "must be a whole number";
	return "must be a duration in seconds (a number, e.g. 30 or 0.5)";
}

/** A value from a `LIFEGUARD_POOLS__` variable: numbers, booleans and JSON arrays and objects as such, anything else a string. */
function parseLoose(raw: string): unknown {
	const s = raw.trim();
	if (/^-?\d+(\.\d+)?$/.test(s)) return Number(s);
	if (/^(true|false)$/i.test(s)) return s.toLowerCase() === "true";
	if (s.startsWith("[") || s.startsWith("{")) {
		try {
			return JSON.parse(s);
		} catch {
			return raw;
		}
	}
	return raw;
}
