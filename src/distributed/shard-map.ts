import { createHash } from "node:crypto";
import { EventEmitter } from "node:events";
import type { ConfigProblem } from "../core/errors.ts";
import { quoteValue } from "../core/quote-value.ts";
import { checkPositiveInteger, distributedConfigError, redisPartProblems } from "./errors.ts";
import { bounded, defaultProcessId, type RedisLike, RedisMembership } from "./redis-connection.ts";
import { SHARD_LUA } from "./shard-script.ts";

export const AFFINITIES = ["sticky", "round_robin", "least_loaded"] as const;
export type Affinity = (typeof AFFINITIES)[number];

export interface ShardMapOptions {
	redis: string | RedisLike;
	/** Processes with the same name share one owner table. */
	name: string;
	/** Default 16. */
	shardCount?: number;
	/**
	 * How shards go to live processes: `sticky` (a shard stays with its owner while it lives; the
	 * spread is kept even), `round_robin` (shard i to the i-th live process: even, but moves on
	 * every change), `least_loaded` (orphaned shards go to the process reporting the least load).
	 * Default sticky.
	 */
	affinity?: Affinity;
	/** Heartbeat period. Default 1 000 ms. */
	healthCheckIntervalMs?: number;
	/** Whether the shards of a process that stops heartbeating move. Default true. */
	failoverEnabled?: boolean;
	/** A process silent this long is dead and its shards move. Default 5 000 ms; must exceed the heartbeat. */
	failoverTimeoutMs?: number;
	/** This process's load, reported on each heartbeat (for `least_loaded`). */
	load?: () => number;
	keyPrefix?: string;
	processId?: string;
	commandTimeoutMs?: number;
}

export interface ShardMapEvents {
	/** The owner table changed: `gained`/`lost` are this process's shards. */
	changed: [{ owners: readonly string[]; gained: number[]; lost: number[] }];
}

/**
 * Keys (origins, tenants, ComfyUI instances) owned by shards, and shards owned by the live
 * processes, through Redis (seed 003's `distributed_pool`). `ownerOf(key)` answers from the last
 * owner table; a process that dies loses its shards within `failoverTimeoutMs` plus one heartbeat.
 */
export class ShardMap extends EventEmitter<ShardMapEvents> {
	readonly name: string;
	readonly processId: string;
	readonly shardCount: number;
	readonly affinity: Affinity;
	readonly failoverEnabled: boolean;
	readonly failoverTimeoutMs: number;
	readonly #options: ShardMapOptions;
	readonly #keys: [string, string, string];
	readonly #commandTimeoutMs: number;
	readonly #membership: RedisMembership;
	#owners: string[] = [];
	#reachable = false;
	#closed = false;

	constructor(options: ShardMapOptions) {
		super();
		const problems = redisPartProblems("ShardMap", options, "name");
		checkPositiveInteger(problems, "shardCount", options.shardCount, false);
		checkPositiveInteger(problems, "healthCheckIntervalMs", options.healthCheckIntervalMs, false, 10);
		checkPositiveInteger(problems, "failoverTimeoutMs", options.failoverTimeoutMs, false, 20);
		if (options.affinity !== undefined && !AFFINITIES.includes(options.affinity))
			problems.push({ path: "affinity", message: `must be one of ${AFFINITIES.join(", ")}, got ${quoteValue(options.affinity)}` });
		const interval = options.healthCheckIntervalMs ?? 1_000;
		const failover = options.failoverTimeoutMs ?? 5_000;
		if (failover <= interval)
			problems.push({ path: "failoverTimeoutMs", message: `must exceed healthCheckIntervalMs (${interval}) or live processes look dead` });
		if (problems.length > 0) throw distributedConfigError(`ShardMap(${JSON.stringify(options.name ?? "")})`, problems);
		this.#options = options;
		this.name = options.name;
		this.shardCount = options.shardCount ?? 16;
		this.affinity = options.affinity ?? "sticky";
		this.failoverEnabled = options.failoverEnabled ?? true;
		// Without failover a silent process keeps its shards for as long as Redis keeps its keys.
		this.failoverTimeoutMs = this.failoverEnabled ? failover : 24 * 3_600_000;
		this.#commandTimeoutMs = options.commandTimeoutMs ?? Math.max(50, Math.min(1_000, Math.floor(interval / 2)));
		this.processId = options.processId ?? defaultProcessId();
		const base = `${options.keyPrefix ?? "lifeguard"}:shards:{${options.name}}`;
		this.#keys = [`${base}:members`, `${base}:owners`, `${base}:loads`];
		this.#membership = new RedisMembership(options.redis, `lifeguard-shards:${options.name}`, interval, () => this.#beat());
	}

	/** Joins and resolves with the first owner table (or after the first failure: `reachable` is then false). */
	start(): Promise<void> {
		return this.#membership.start();
	}

	/** The shard of a key: a stable hash, the same in every process. */
	shardOf(key: string): number {
		return createHash("sha1").update(key).digest().readUInt32BE(0) % this.shardCount;
	}

	/** The live process owning `key`'s shard, from the last owner table. */
	ownerOf(key: string): string | undefined {
		return this.#owners[this.shardOf(key)];
	}

	/** True when this process owns `key`. */
	owns(key: string): boolean {
		return this.ownerOf(key) === this.processId;
	}

	/** The owner of each shard, in shard order. */
	get owners(): readonly string[] {
		return this.#owners;
	}

	/** False while Redis does not answer: the last table is kept as it was. */
	get reachable(): boolean {
		return this.#reachable;
	}

	async close(): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		// When Redis does not answer, the failover timeout moves the shards instead.
		await this.#membership.stop(this.#commandTimeoutMs, (redis) => this.#eval(redis, true));
	}

	async [Symbol.asyncDispose](): Promise<void> {
		await this.close();
	}

	#eval(redis: RedisLike, leave: boolean): Promise<unknown> {
		const load = this.#options.load?.() ?? 0;
		return redis.eval(
			SHARD_LUA,
			3,
			...this.#keys,
			this.processId,
			this.failoverTimeoutMs,
			this.shardCount,
			this.affinity,
			Number.isFinite(load) ? load : 0,
			leave ? "1" : "0",
		);
	}

	async #beat(): Promise<void> {
		const started = this.#membership.handle;
		if (this.#closed || started === undefined) return;
		const handle = await started;
		let reply: unknown;
		try {
			reply = await bounded(this.#eval(handle.redis, false), this.#commandTimeoutMs);
		} catch {
			this.#reachable = false;
			return;
		}
		if (this.#closed) return;
		this.#reachable = true;
		const owners = (reply as string[]).map(String);
		const before = this.#owners;
		this.#owners = owners;
		const gained: number[] = [];
		const lost: number[] = [];
		for (let s = 0; s < this.shardCount; s++) {
			const was = before[s] === this.processId;
			const is = owners[s] === this.processId;
			if (is && !was) gained.push(s);
			if (was && !is) lost.push(s);
		}
		if (gained.length > 0 || lost.length > 0 || owners.some((o, s) => o !== before[s])) this.emit("changed", { owners, gained, lost });
	}
}

/** Seed 003's `distributed_pool` block, as written in its config. */
export interface DistributedPoolConfig {
	redis_url: string;
	pool_sharding?: boolean;
	shard_count?: number;
	connection_affinity?: Affinity;
	/** Milliseconds. */
	health_check_interval?: number;
	failover_enabled?: boolean;
	/** Milliseconds. */
	failover_timeout?: number;
}

/** A ShardMap from seed 003's `distributed_pool` config (one shard when `pool_sharding` is false). */
export function shardMapFromConfig(name: string, config: DistributedPoolConfig, extra: Partial<ShardMapOptions> = {}): ShardMap {
	if (config === null || typeof config !== "object")
		throw distributedConfigError("distributed_pool", [{ path: "distributed_pool", message: "expected an object" }]);
	const problems: ConfigProblem[] = [];
	if (typeof config.redis_url !== "string") problems.push({ path: "distributed_pool.redis_url", message: "required: a Redis URL" });
	if (config.pool_sharding !== undefined && typeof config.pool_sharding !== "boolean")
		problems.push({ path: "distributed_pool.pool_sharding", message: "must be a boolean" });
	if (config.failover_enabled !== undefined && typeof config.failover_enabled !== "boolean")
		problems.push({ path: "distributed_pool.failover_enabled", message: "must be a boolean" });
	if (problems.length > 0) throw distributedConfigError("distributed_pool", problems);
	try {
		return new ShardMap({
			...extra,
			redis: config.redis_url,
			name,
			shardCount: config.pool_sharding === false ? 1 : config.shard_count,
			affinity: config.connection_affinity,
			healthCheckIntervalMs: config.health_check_interval,
			failoverEnabled: config.failover_enabled,
			failoverTimeoutMs: config.failover_timeout,
		});
	} catch (error) {
		// Name the config's own paths, not the option names.
		const names: Record<string, string> = {
			shardCount: "shard_count",
			affinity: "connection_affinity",
			healthCheckIntervalMs: "health_check_interval",
			failoverTimeoutMs: "failover_timeout",
		};
		const e = error as { problems?: ConfigProblem[] };
		if (e.problems === undefined) throw error;
		throw distributedConfigError(
			"distributed_pool",
			e.problems.map((p) => ({ path: `distributed_pool.${names[p.path] ?? p.path}`, message: p.message })),
		);
	}
}
