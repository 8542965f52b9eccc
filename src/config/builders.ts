import type { LlmClientOptions } from "../adapters/llm/options.ts";
import { ConfigError } from "../core/errors.ts";
import type { Pool } from "../core/pool.ts";
import type { AdaptiveSizer } from "../distributed/adaptive-sizer.ts";
import type { ShardMap } from "../distributed/shard-map.ts";
import type { SharedBudget } from "../distributed/shared-budget.ts";
import type { ManagedClient } from "../manager/client.ts";
import { PoolManager } from "../manager/manager.ts";
import { isManagedClient } from "../manager/views.ts";
import { attachLogger } from "../observe/logging/attach.ts";
import { logConfigSummary } from "../observe/logging/config-summary.ts";
import { type Logger, loggerFromEnv } from "../observe/logging/logger.ts";
import { redactSecrets } from "../observe/redact.ts";
import type { ResolvedConfig } from "./load.ts";
import { commonPoolShape, keysOf, type PoolConfig, type PoolConfigOf, type PoolKind } from "./schema.ts";

/** Builds one client from a pool's resolved options; `name` is the pool's key in the config. */
export type PoolBuilder<K extends PoolKind = PoolKind> = (name: string, config: PoolConfigOf<K>) => ManagedClient | Promise<ManagedClient>;

const builders = new Map<string, PoolBuilder<never>>();

/**
 * Replaces the builder `createPools()` uses for a kind (every kind has a built-in one): to
 * build a kind's clients with options a config file cannot hold (a logger, hooks, a shared
 * dispatcher).
 */
export function registerPoolBuilder<K extends PoolKind>(kind: K, builder: PoolBuilder<K>): void {
	builders.set(kind, builder as PoolBuilder<never>);
}

/** The core pool options of a pool's config (what goes to the core under `pool`, or flat for Redis). */
export function corePoolOptions(config: PoolConfig): Record<string, unknown> {
	const out: Record<string, unknown> = {};
	for (const key of Object.keys(commonPoolShape)) {
		const value = (config as Record<string, unknown>)[key];
		if (key !== "kind" && value !== undefined) out[key] = value;
	}
	return out;
}

/**
 * The SharedBudget createPools made for a pool's `sharedBudget`, handed to its builder through
 * the config object (a non-enumerable key: explain() and the logs never see it).
 */
const BUDGET = Symbol("lifeguard.sharedBudget");
const budgetOf = (c: object): { budget?: SharedBudget } => {
	const budget = (c as { [BUDGET]?: SharedBudget })[BUDGET];
	return budget === undefined ? {} : { budget };
};

const server = (c: { url?: string; host?: string; port?: number; user?: string; password?: string; database?: string }) =>
	c.url !== undefined ? c.url : { host: c.host, port: c.port, user: c.user, password: c.password, database: c.database };

const sqlOptions = (name: string, c: PoolConfigOf<"postgres"> | PoolConfigOf<"mysql"> | PoolConfigOf<"sqlite">) => ({
	pool: { ...corePoolOptions(c), ...budgetOf(c), name },
	...(c.statementTimeoutMs !== undefined ? { statementTimeoutMs: c.statementTimeoutMs } : {}),
	...(c.leaseTimeoutMs !== undefined ? { leaseTimeoutMs: c.leaseTimeoutMs } : {}),
	...(c.readYourWritesMs !== undefined ? { readYourWritesMs: c.readYourWritesMs } : {}),
	...(c.replicaSelection !== undefined ? { replicaSelection: c.replicaSelection } : {}),
});

/** A pool's config as its adapter's options, for the kinds whose config is those options: `kind` dropped, the pool's key as `name`. */
function adapterOptions<C extends { kind: string }>(name: string, c: C): Omit<C, "kind"> & { name: string } {
	const { kind: _kind, ...options } = c;
	return { ...options, name };
}

/** Every adapter's builder, each adapter imported only when a config names its kind (their drivers are optional peers). */
const BUILT_IN: { [K in PoolKind]?: PoolBuilder<K> } = {
	postgres: async (name, c) => {
		const { createPostgresClient } = await import("../adapters/postgres/index.ts");
		return createPostgresClient({ ...sqlOptions(name, c), primary: server(c), replicas: c.replicas });
	},
	mysql: async (name, c) => {
		const { createMysqlClient } = await import("../adapters/mysql/index.ts");
		return createMysqlClient({ ...sqlOptions(name, c), primary: server(c), replicas: c.replicas });
	},
	sqlite: async (name, c) => {
		const { createSqliteClient } = await import("../adapters/sqlite/index.ts");
		const { filename, readOnly, busyTimeoutMs, journalMode } = c;
		return createSqliteClient({ ...sqlOptions(name, c), filename, readOnly, busyTimeoutMs, journalMode });
	},
	redis: async (name, c) => {
		const { createRedisClient } = await import("../adapters/redis/index.ts");
		const { kind: _kind, url, host, port, db, username, password, keyPrefix, commandTimeoutMs, keepaliveMs, sharedConnections } = c;
		return createRedisClient({
			...corePoolOptions(c),
			...budgetOf(c),
			name,
			url,
			host,
			port,
			db,
			username,
			password,
			keyPrefix,
			commandTimeoutMs,
			keepaliveMs,
			sharedConnections,
		});
	},
	http: async (name, c) => {
		const { createHttpClient } = await import("../adapters/http/index.ts");
		return createHttpClient(adapterOptions(name, c));
	},
	llm: async (name, c) => {
		const { createLlmClient } = await import("../adapters/llm/index.ts");
		return createLlmClient({ ...adapterOptions(name, c), providers: c.providers as LlmClientOptions["providers"] });
	},
	websocket: async (name, c) => {
		const { createWebSocketManager } = await import("../adapters/websocket/index.ts");
		const { kind: _kind, url, connections, ...options } = c;
		const manager = createWebSocketManager({ ...options, name });
		// Each connection starts connecting now; the manager's start() waits for them to open.
		if (url !== undefined) manager.add(url);
		for (const [key, target] of Object.entries(connections ?? {})) manager.add({ name: key, url: target });
		return manager;
	},
	comfyui: async (name, c) => {
		const { createComfyUIPool } = await import("../adapters/comfyui/index.ts");
		return createComfyUIPool(adapterOptions(name, c));
	},
	mongodb: async (name, c) => {
		const { createMongoClient } = await import("../adapters/mongodb/index.ts");
		return createMongoClient(adapterOptions(name, c));
	},
	firestore: async (name, c) => {
		const { createFirestoreClient } = await import("../adapters/firestore/index.ts");
		return createFirestoreClient(adapterOptions(name, c));
	},
};
for (const [kind, builder] of Object.entries(BUILT_IN)) builders.set(kind, builder as PoolBuilder<never>);

export interface CreatePoolsOptions {
	/** The manager to add the clients to. Default: a new one. */
	manager?: PoolManager;
	/** Call `start()` on every client (warm `min`). Default false. */
	start?: boolean;
	/**
	 * Log the configuration's sources and the pools' life here (`monitoring.statsIntervalMs`
	 * adds periodic stats lines). Default: the JSON logger LIFEGUARD_LOG_LEVEL asks for, else none.
	 */
	logger?: Logger;
}

/**
 * Builds every pool of a resolved config into a manager, each through its kind's builder.
 * A kind without a builder, or a builder that fails, is reported with the others in one
 * ConfigError; clients already built are closed then, so nothing is left open.
 */
export async function createPools(config: ResolvedConfig, options: CreatePoolsOptions = {}): Promise<PoolManager> {
	const manager = options.manager ?? new PoolManager();
	const built: ManagedClient[] = [];
	const problems: { path: string; message: string; source?: string }[] = [];
	const distributed = config.distributedPool === undefined ? undefined : await import("../distributed/index.ts");
	const budgets: SharedBudget[] = [];
	const sizers: { name: string; client: ManagedClient; intervalMs: number | undefined; budget: SharedBudget | undefined }[] = [];
	for (const [name, pool] of Object.entries(config.pools)) {
		const builder = builders.get(pool.kind) as PoolBuilder | undefined;
		const source = config.sources[`pools.${name}.kind`];
		if (builder === undefined) {
			problems.push({
				path: `pools.${name}.kind`,
				message: `no builder for kind ${pool.kind}: import the lifeguard/${pool.kind} adapter, which registers it`,
				source,
			});
			continue;
		}
		// CONNECTION_POOL_HEALTH_CHECK / monitoring.healthCheckIntervalMs is the keepalive of every pool whose kind has one, unless the pool sets its own.
		const interval = config.monitoring.healthCheckIntervalMs;
		const takesInterval =
			keysOf(pool.kind).includes("healthCheckIntervalMs") && (pool as { healthCheckIntervalMs?: number }).healthCheckIntervalMs === undefined;
		const options = interval !== undefined && takesInterval ? { ...pool, healthCheckIntervalMs: interval } : { ...pool };
		const { sharedBudget, adaptiveSizing, adaptationIntervalMs } = pool as { sharedBudget?: number; adaptiveSizing?: boolean; adaptationIntervalMs?: number };
		let budget: SharedBudget | undefined;
		try {
			if (sharedBudget !== undefined && distributed !== undefined && config.distributedPool !== undefined) {
				// Processes that name the same pool share its budget: the resource is the pool's name.
				budget = new distributed.SharedBudget({ redis: config.distributedPool.redis_url, resource: name, limit: sharedBudget });
				budgets.push(budget);
				Object.defineProperty(options, BUDGET, { value: budget, enumerable: false });
			}
			const client = await builder(name, options as never);
			if (!isManagedClient(client)) throw new TypeError(`the ${pool.kind} builder returned something that is not a ManagedClient`);
			built.push(client);
			if (adaptiveSizing === true) sizers.push({ name, client, intervalMs: adaptationIntervalMs, budget });
		} catch (error) {
			const message =
				error instanceof ConfigError ? error.problems.map((p) => `${p.path}: ${p.message}`).join("; ") : error instanceof Error ? error.message : String(error);
			problems.push({ path: `pools.${name}`, message: `could not build: ${message}`, source });
		}
	}
	// Adaptive sizing: every core pool of the client (a SQL client's primary and replicas), between its min and max, under the budget.
	const started: AdaptiveSizer[] = [];
	for (const { name, client, intervalMs, budget } of sizers) {
		for (const { label, pool } of client.pools()) {
			if (typeof (pool as Partial<Pool<unknown>>).resize !== "function") continue;
			try {
				const { adaptPoolSize } = await import("../distributed/adaptive-sizer.ts");
				started.push(adaptPoolSize(pool as Pool<unknown>, { intervalMs, budget }));
			} catch (error) {
				const message = error instanceof ConfigError ? error.problems.map((p) => `${p.path}: ${p.message}`).join("; ") : String(error);
				problems.push({ path: `pools.${name}.adaptiveSizing`, message: `${label}: ${message}`, source: config.sources[`pools.${name}.adaptiveSizing`] });
			}
		}
	}
	let shards: ShardMap | undefined;
	if (distributed !== undefined && config.distributedPool !== undefined) {
		try {
			shards = distributed.shardMapFromConfig("pools", config.distributedPool);
		} catch (error) {
			const message = error instanceof ConfigError ? error.problems.map((p) => `${p.path}: ${p.message}`).join("; ") : String(error);
			problems.push({ path: "distributed_pool", message, source: config.sources["distributed_pool.redis_url"] });
		}
	}
	if (problems.length > 0) {
		for (const sizer of started) sizer.stop();
		await Promise.allSettled([...budgets, ...(shards === undefined ? [] : [shards])].map((part) => part.close()));
		await Promise.allSettled(built.map((client) => client.close({ timeoutMs: 1_000 })));
		throw new ConfigError(
			"createPools",
			problems.map((p) => ({ ...p, message: redactSecrets(p.message) })),
		);
	}
	for (const client of built) manager.add(client);
	// The budgets, and the shard map of distributed_pool, as one client: the manager starts and closes them, metrics export them.
	if (distributed !== undefined && (budgets.length > 0 || shards !== undefined))
		manager.add(distributed.distributedClient({ name: "distributed", budgets, shards: shards === undefined ? [] : [shards] }));
	const logger = options.logger ?? loggerFromEnv();
	if (logger !== undefined) {
		logConfigSummary(logger, config);
		attachLogger(manager, { logger, statsIntervalMs: config.monitoring.statsIntervalMs });
	}
	if (options.start === true) await manager.start();
	return manager;
}
