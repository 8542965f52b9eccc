import { z } from "zod";
import { AFFINITIES } from "../distributed/shard-map.ts";

/** Every kind of pool a config file can declare. */
export const POOL_KINDS = ["postgres", "mysql", "sqlite", "redis", "http", "llm", "websocket", "comfyui", "mongodb", "firestore"] as const;
export type PoolKind = (typeof POOL_KINDS)[number];

/** Kinds that take the core's Pool options with the core's defaults (min, max, acquireTimeoutMs...). Firestore takes them with its own defaults; the others take their client's own options. */
export const CORE_POOL_KINDS: readonly PoolKind[] = ["postgres", "mysql", "sqlite", "redis"];

/** Kinds that are SQL databases: `CONNECTION_POOL_DB_*` applies to all of them. */
export const DATABASE_KINDS: readonly PoolKind[] = ["postgres", "mysql", "sqlite"];

// Values from `${VAR}` substitutions and environment variables arrive as strings: numeric and boolean strings are read as such.
const fromString = (parse: (s: string) => unknown) => (value: unknown) => (typeof value === "string" && value.trim() !== "" ? parse(value.trim()) : value);
const asNumber = fromString((s) => (Number.isNaN(Number(s)) ? s : Number(s)));
const asBoolean = fromString((s) => (/^(true|1)$/i.test(s) ? true : /^(false|0)$/i.test(s) ? false : s));

const count = (min: number) => z.preprocess(asNumber, z.number().int().min(min));
const durationMs = () => z.preprocess(asNumber, z.number().min(0));
const flag = () => z.preprocess(asBoolean, z.boolean());
const text = () => z.string().min(1);
const url = () => z.string().regex(/^[a-z][a-z0-9+.-]*:\/\/\S+$/i, "must be a URL (scheme://host...)");
const urls = () =>
	z.preprocess(
		fromString((s) => s.split(",").map((part) => part.trim())),
		z.array(url()).min(1),
	);

/** A secret: never printed (its key is in {@link SECRET_KEYS}, so `explain()` masks it). */
const secret = () => z.string().min(1);
/** Extra headers (Authorization...): every value is treated as a secret. */
const secretHeaders = () => z.record(z.string(), z.string());
const wsUrl = () => z.string().regex(/^wss?:\/\/\S+$/i, "must be a ws:// or wss:// URL");

// lifeguard/llm's provider presets and per-deployment tuning (src/adapters/llm/options.ts).
const LLM_PRESETS = ["openai", "azure", "openrouter", "groq", "together", "mistral", "vllm", "ollama", "anthropic", "openai-compatible"] as const;
const llmRouting = z.enum(["least-busy", "weighted"]);
const llmTuning = {
	maxConcurrent: count(1).optional(),
	maxQueue: count(0).optional(),
	queueTimeoutMs: durationMs().optional(),
	headersTimeoutMs: durationMs().optional(),
	bodyTimeoutMs: durationMs().optional(),
	cooldownMs: durationMs().optional(),
	rpm: count(1).optional(),
	tpm: count(1).optional(),
};
const llmDeployment = z.strictObject({
	...llmTuning,
	provider: text(),
	model: text().optional(),
	weight: z.preprocess(asNumber, z.number().positive()).optional(),
});

/** The core pool options every pooled kind takes (see docs/core.md for what each does). */
export const commonPoolShape = {
	kind: z.enum(POOL_KINDS),
	min: count(0).optional(),
	max: count(1).optional(),
	acquireTimeoutMs: durationMs().optional(),
	createTimeoutMs: durationMs().optional(),
	destroyTimeoutMs: durationMs().optional(),
	validateTimeoutMs: durationMs().optional(),
	idleTimeoutMs: durationMs().optional(),
	maxLifetimeMs: durationMs().optional(),
	maxLifetimeJitterMs: durationMs().optional(),
	validateAfterIdleMs: durationMs().optional(),
	healthCheckIntervalMs: durationMs().optional(),
	maxWaiters: count(0).optional(),
	maxConnecting: count(1).optional(),
	leakDetectionMs: durationMs().optional(),
	reclaimAfterMs: durationMs().optional(),
	failFast: flag().optional(),
	allowExitOnIdle: flag().optional(),
};

/**
 * Keys of the core-pool kinds that are not core options: seed 002's `adaptive_sizing` /
 * `adaptation_interval`, and a slot budget shared through `distributed_pool.redis_url`.
 */
export const distributedPoolKeys = {
	/** Move the pool's effective max between min and max with the load (an AdaptiveSizer). */
	adaptiveSizing: flag().optional(),
	/** How often the sizer measures and resizes (at least 10 ms). Default 1 000. */
	adaptationIntervalMs: z.preprocess(asNumber, z.number().int().min(10)).optional(),
	/** Most connections of this pool over every process (a SharedBudget named after the pool). */
	sharedBudget: count(1).optional(),
};

const server = {
	url: url().optional(),
	host: text().optional(),
	port: count(1).optional(),
	user: text().optional(),
	password: z.string().optional(),
	database: text().optional(),
};

const sql = {
	...commonPoolShape,
	...distributedPoolKeys,
	replicas: urls().optional(),
	replicaSelection: z.enum(["round-robin", "least-busy"]).optional(),
	readYourWritesMs: durationMs().optional(),
	leaseTimeoutMs: durationMs().optional(),
	statementTimeoutMs: durationMs().optional(),
};

const needsServer = (pool: { url?: string; host?: string }) => pool.url !== undefined || pool.host !== undefined;
const serverMessage = { message: "set url or host", path: ["url"] };
const minNotAboveMax = (pool: { min?: number; max?: number }) => pool.min === undefined || pool.max === undefined || pool.min <= pool.max;
const minMessage = { message: "min is greater than max", path: ["min"] };

/** One schema per kind; each rejects keys it does not know. */
export const poolSchemas = {
	postgres: z
		.strictObject({ ...sql, ...server, kind: z.literal("postgres") })
		.refine(needsServer, serverMessage)
		.refine(minNotAboveMax, minMessage),
	mysql: z
		.strictObject({ ...sql, ...server, kind: z.literal("mysql") })
		.refine(needsServer, serverMessage)
		.refine(minNotAboveMax, minMessage),
	sqlite: z
		.strictObject({
			...sql,
			kind: z.literal("sqlite"),
			filename: text().optional(),
			readOnly: flag().optional(),
			busyTimeoutMs: durationMs().optional(),
			journalMode: z.enum(["wal", "delete", "truncate", "persist", "memory", "off"]).optional(),
		})
		.refine(minNotAboveMax, minMessage),
	redis: z
		.strictObject({
			...commonPoolShape,
			...distributedPoolKeys,
			kind: z.literal("redis"),
			url: url().optional(),
			host: text().optional(),
			port: count(1).optional(),
			db: count(0).optional(),
			username: text().optional(),
			password: z.string().optional(),
			keyPrefix: z.string().optional(),
			commandTimeoutMs: durationMs().optional(),
			keepaliveMs: durationMs().optional(),
			sharedConnections: count(0).optional(),
		})
		.refine(minNotAboveMax, minMessage),
	http: z
		.strictObject({
			kind: z.literal("http"),
			maxConnections: count(1).optional(),
			maxConnectionsPerOrigin: count(1).optional(),
			maxWaiters: count(0).optional(),
			acquireTimeoutMs: durationMs().optional(),
			connectTimeoutMs: durationMs().optional(),
			headersTimeoutMs: durationMs().optional(),
			bodyTimeoutMs: durationMs().optional(),
			timeoutMs: durationMs().optional(),
			keepAliveTimeoutMs: durationMs().optional(),
			keepAliveMaxTimeoutMs: durationMs().optional(),
			keepAliveMarginMs: durationMs().optional(),
			maxLifetimeMs: durationMs().optional(),
			maxRequestsPerConnection: count(0).optional(),
			allowH2: flag().optional(),
			maxConcurrentStreams: count(1).optional(),
			tls: z.strictObject({ rejectUnauthorized: flag().optional(), servername: text().optional(), ca: text().optional() }).optional(),
			prewarm: z
				.preprocess(
					fromString((s) => s.split(",").map((part) => part.trim())),
					z.array(z.union([url(), z.strictObject({ origin: url(), connections: count(1).optional() })])),
				)
				.optional(),
			retry: z.union([flag(), z.record(z.string(), z.unknown())]).optional(),
			circuitBreaker: z.union([flag(), z.record(z.string(), z.unknown())]).optional(),
			cooldownOn429: flag().optional(),
			defaultCooldownMs: durationMs().optional(),
		})
		.refine((p) => p.maxConnectionsPerOrigin === undefined || p.maxConnections === undefined || p.maxConnectionsPerOrigin <= p.maxConnections, {
			message: "maxConnectionsPerOrigin is greater than maxConnections",
			path: ["maxConnectionsPerOrigin"],
		}),
	llm: z.strictObject({
		kind: z.literal("llm"),
		providers: z
			.record(
				z.string(),
				z.strictObject({
					...llmTuning,
					preset: z.enum(LLM_PRESETS),
					baseUrl: url().optional(),
					apiKey: secret().optional(),
					headers: secretHeaders().optional(),
					apiVersion: text().optional(),
				}),
			)
			.refine((r) => Object.keys(r).length > 0, "at least one provider"),
		models: z
			.record(
				z.string(),
				z.union([
					z.array(llmDeployment).min(1),
					z.strictObject({ deployments: z.array(llmDeployment).min(1), routing: llmRouting.optional(), fallbacks: z.array(text()).optional() }),
				]),
			)
			.refine((r) => Object.keys(r).length > 0, "at least one model"),
		routing: llmRouting.optional(),
		maxAttempts: count(1).optional(),
		maxCooldownMs: durationMs().optional(),
	}),
	websocket: z
		.strictObject({
			kind: z.literal("websocket"),
			url: wsUrl().optional(),
			connections: z.record(z.string(), wsUrl()).optional(),
			maxConnections: count(1).optional(),
			protocols: z.union([text(), z.array(text())]).optional(),
			headers: secretHeaders().optional(),
			handshakeTimeoutMs: durationMs().optional(),
			pingIntervalMs: durationMs().optional(),
			pongTimeoutMs: durationMs().optional(),
			reconnectInitialMs: durationMs().optional(),
			reconnectMaxMs: durationMs().optional(),
			maxRetries: count(0).optional(),
			maxQueuedMessages: count(1).optional(),
			maxQueuedBytes: count(1).optional(),
			receiveHighWaterMark: count(1).optional(),
			maxPayloadBytes: count(1).optional(),
		})
		.refine((p) => p.url !== undefined || (p.connections !== undefined && Object.keys(p.connections).length > 0), {
			message: "set url or connections (name: ws:// URL)",
			path: ["url"],
		}),
	comfyui: z.strictObject({
		kind: z.literal("comfyui"),
		instances: z.preprocess(
			fromString((s) => s.split(",").map((part) => part.trim())),
			z
				.array(
					z.union([
						url(),
						z.strictObject({
							url: url(),
							name: text().optional(),
							auth: z.union([z.strictObject({ token: secret() }), z.strictObject({ username: text(), password: secret() })]).optional(),
							concurrency: count(1).optional(),
							verifyTls: flag().optional(),
						}),
					]),
				)
				.min(1),
		),
		concurrency: count(1).optional(),
		strategy: z.enum(["leastQueued", "idleFirst", "roundRobin"]).optional(),
		timeoutMs: durationMs().optional(),
		stallTimeoutMs: durationMs().optional(),
		maxAttempts: count(1).optional(),
		cooldownMs: durationMs().optional(),
		healthCheckIntervalMs: durationMs().optional(),
		probeInitialMs: durationMs().optional(),
		probeMaxMs: durationMs().optional(),
		requestTimeoutMs: durationMs().optional(),
		pingIntervalMs: durationMs().optional(),
		pongTimeoutMs: durationMs().optional(),
		maxQueued: count(1).optional(),
		fetchImages: z.enum(["eager", "lazy"]).optional(),
		min: count(0).optional(),
		max: count(1).optional(),
	}),
	mongodb: z
		.strictObject({
			kind: z.literal("mongodb"),
			url: z.string().regex(/^mongodb(\+srv)?:\/\/\S+$/i, "must be a mongodb:// or mongodb+srv:// URL"),
			min: count(0).optional(),
			max: count(1).optional(),
			idleTimeoutMs: durationMs().optional(),
			acquireTimeoutMs: durationMs().optional(),
			maxConnecting: count(1).optional(),
			healthTimeoutMs: durationMs().optional(),
			healthCheckIntervalMs: durationMs().optional(),
			// The driver's own options, passed as they are (secret-named keys inside, such as auth.password, are masked).
			driverOptions: z.record(z.string(), z.unknown()).optional(),
		})
		.refine(minNotAboveMax, minMessage),
	firestore: z
		.strictObject({
			...commonPoolShape,
			kind: z.literal("firestore"),
			settings: z
				.strictObject({
					projectId: text().optional(),
					databaseId: text().optional(),
					host: text().optional(),
					port: count(1).optional(),
					ssl: flag().optional(),
					keyFilename: text().optional(),
					credentials: z.strictObject({ client_email: text(), private_key: secret() }).optional(),
				})
				.optional(),
			healthCheck: z.union([z.literal("listCollections"), z.strictObject({ document: text() })]).optional(),
			healthTimeoutMs: durationMs().optional(),
			operationTimeoutMs: durationMs().optional(),
			maxInFlightPerChannel: count(1).optional(),
		})
		.refine(minNotAboveMax, minMessage),
} as const satisfies Record<PoolKind, z.ZodType>;

export type PoolConfigOf<K extends PoolKind> = z.infer<(typeof poolSchemas)[K]>;
/** One pool's resolved options, typed by its kind. */
export type PoolConfig = { [K in PoolKind]: PoolConfigOf<K> }[PoolKind];

export const monitoringSchema = z.strictObject({
	/** Metrics and health endpoints on (`CONNECTION_POOL_MONITORING`). */
	enabled: flag().optional(),
	/** Keepalive validation of idle connections for every pool (`CONNECTION_POOL_HEALTH_CHECK`, seconds there). */
	healthCheckIntervalMs: durationMs().optional(),
	/** Log a stats line per pool this often; 0 is off. */
	statsIntervalMs: durationMs().optional(),
});
export type MonitoringConfig = z.infer<typeof monitoringSchema>;

/**
 * Seed 003's `distributed_pool` block, with its own key names: the Redis that shared budgets and
 * the shard map use, and how keys are sharded over the live processes. Durations in ms.
 */
export const distributedPoolSchema = z
	.strictObject({
		redis_url: z.string().regex(/^rediss?:\/\/\S+$/i, "must be a redis:// or rediss:// URL"),
		pool_sharding: flag().optional(),
		shard_count: count(1).optional(),
		connection_affinity: z.enum(AFFINITIES).optional(),
		health_check_interval: z.preprocess(asNumber, z.number().int().min(10)).optional(),
		failover_enabled: flag().optional(),
		failover_timeout: z.preprocess(asNumber, z.number().int().min(20)).optional(),
	})
	.refine((d) => d.failover_timeout === undefined || d.failover_timeout > (d.health_check_interval ?? 1_000), {
		message: "must exceed health_check_interval (default 1000) or live processes look dead",
		path: ["failover_timeout"],
	});
export type DistributedPoolSettings = z.infer<typeof distributedPoolSchema>;

/** The keys each kind knows, for "did you mean" and for environment variables. */
export function keysOf(kind: PoolKind): string[] {
	return Object.keys(shapeOf(poolSchemas[kind]));
}

function shapeOf(schema: unknown): Record<string, unknown> {
	// A refined object keeps its object schema underneath (zod 4: `.in` of the pipe, or the schema itself).
	let s = schema as { shape?: Record<string, unknown>; _zod?: { def?: { in?: unknown; schema?: unknown } } };
	for (let i = 0; i < 4 && s.shape === undefined; i++) s = (s._zod?.def?.in ?? s._zod?.def?.schema ?? {}) as typeof s;
	return s.shape ?? {};
}

/** Keys whose values are secrets: never printed, masked by `explain()`. */
export const SECRET_KEYS = new Set(["password", "apiKey", "token", "headers", "auth", "private_key", "credentials"]);

/** Top-level keys of a config file; environment sections repeat the same shape. */
export const ENVIRONMENTS = ["development", "staging", "production", "test"] as const;
export const TOP_LEVEL_KEYS = ["defaults", "pools", "monitoring", "distributed_pool", ...ENVIRONMENTS] as const;
