/**
 * Redis Cluster. Commands that leave no session state go through one ioredis `Cluster`, which
 * keeps the slot map, sends each command to the node that owns its key's slot and follows
 * MOVED/ASK redirections and failovers itself. What needs a connection of its own (blocking
 * reads, WATCH/MULTI/EXEC) leases one from a core pool per node: the node that owns the slot of
 * the command's keys. A transaction runs on one node, so its keys must share a slot; one that
 * spans slots is refused before anything is sent (REDIS_CROSS_SLOT).
 */
import type { Cluster, ClusterOptions, Redis } from "ioredis";
import { ConfigError, type ConfigProblem } from "../../core/errors.ts";
import type { AcquireOptions, CloseOptions, Pool } from "../../core/pool.ts";
import { closeTimeout, createPool } from "../../core/pool.ts";
import { quoteValue } from "../../core/quote-value.ts";
import { runOnLease } from "../../core/with-lease.ts";
import type { ClientPool, ManagedClient } from "../../manager/client.ts";
import { normalizeName, type RedisArg, Route, routeOf } from "./commands.ts";
import { type RedisClientOptions, type RedisSettings, resolveRedisOptions } from "./config.ts";
import { RedisConnector } from "./driver.ts";
import { RedisCommandError, RedisCrossSlotError, RedisTimeoutError, toRedisError, toRedisErrorIfDriver } from "./errors.ts";
import { classifyRedisError } from "./faults.ts";
import { type IoredisModule, loadIoredis } from "./load.ts";
import { acquireOpen, DEDICATED } from "./open-lease.ts";
import { replyWithin } from "./reply-deadline.ts";
import { type MessageHandler, type SubscribeOptions, Subscription } from "./subscription.ts";
import { type CommandResult, type RedisTransaction, runTransaction, type TransactionOptions, type TransactionOutcome } from "./transaction.ts";

/** One command of a cluster pipeline: its name, then its arguments. */
export type ClusterPipelineCommand = readonly [name: string, ...args: RedisArg[]];

/** A cluster node's address. */
export interface RedisNodeAddress {
	host: string;
	port: number;
}

export interface RedisClusterOptions
	extends Omit<RedisClientOptions, "url" | "host" | "port" | "db" | "sentinel" | "sharedConnections" | "keyPrefix" | "password"> {
	/** Some of the cluster's nodes (one is enough): the rest, and the slot map, are learnt from them. */
	nodes: readonly RedisNodeAddress[];
	/** A password for every node (a function is not supported here: the command path keeps its connections). */
	password?: string;
	/**
	 * Other options of ioredis's `Cluster` (`natMap`, `dnsLookup`, `slotsRefreshInterval`, …).
	 * `lazyConnect`, `redisOptions` and `scaleReads` are the adapter's.
	 */
	clusterOptions?: ClusterOptions;
}

export interface ClusterTransactionOptions extends TransactionOptions {
	/** A key of the slot the transaction works on, when it WATCHes nothing. */
	key?: string;
}

/** Keys the cluster client does not take: a cluster has one database and finds its nodes itself. */
const REFUSED_KEYS: Record<string, string> = {
	url: "give the cluster's nodes as `nodes: [{ host, port }]`",
	host: "give the cluster's nodes as `nodes: [{ host, port }]`",
	port: "give the cluster's nodes as `nodes: [{ host, port }]`",
	db: "a Redis Cluster has database 0 only",
	sentinel: "Sentinel and Cluster do not mix: use createRedisClient for Sentinel",
	sharedConnections: "the command path is ioredis's Cluster, one connection per node",
	keyPrefix: "not supported in cluster mode (slots are computed from the keys as given)",
};

const FORCED_CLUSTER_KEYS = ["lazyConnect", "redisOptions", "scaleReads"];

const REDIRECT = /^(MOVED|ASK) (\d+) (\S+)/;

export class RedisClusterClient implements ManagedClient {
	readonly name: string;
	readonly kind = "redis" as const;
	readonly #settings: RedisSettings;
	readonly #poolOptions: ReturnType<typeof resolveRedisOptions>["poolOptions"];
	readonly #seeds: readonly RedisNodeAddress[];
	readonly #clusterOptions: ClusterOptions;
	/** The per-node pools of dedicated connections, by "host:port". */
	readonly #nodePools = new Map<string, Pool<Redis>>();
	readonly #subscriptions = new Set<Subscription>();
	#cluster: Promise<{ cluster: Cluster; driver: IoredisModule }> | undefined;
	#closed = false;

	constructor(options: RedisClusterOptions) {
		const raw = (options ?? {}) as unknown as Record<string, unknown>;
		const problems: ConfigProblem[] = [];
		for (const [key, why] of Object.entries(REFUSED_KEYS)) if (raw[key] !== undefined) problems.push({ path: key, message: `is not a cluster option: ${why}` });
		const nodes = raw.nodes;
		if (!Array.isArray(nodes) || nodes.length === 0) {
			problems.push({ path: "nodes", message: "must be a non-empty array of { host, port } (some of the cluster's nodes)" });
		} else {
			nodes.forEach((node: unknown, i: number) => {
				const n = (node ?? {}) as Record<string, unknown>;
				if (typeof n.host !== "string" || n.host === "") problems.push({ path: `nodes[${i}].host`, message: "must be a non-empty string" });
				if (typeof n.port !== "number" || !Number.isInteger(n.port) || n.port < 1 || n.port > 65_535) {
					problems.push({ path: `nodes[${i}].port`, message: `must be an integer from 1 to 65535, got ${quoteValue(n.port)}` });
				}
			});
		}
		if (raw.password !== undefined && typeof raw.password !== "string")
			problems.push({ path: "password", message: `must be a string, got ${typeof raw.password}` });
		const clusterOptions = (raw.clusterOptions ?? {}) as Record<string, unknown>;
		for (const key of FORCED_CLUSTER_KEYS)
			if (clusterOptions[key] !== undefined) problems.push({ path: `clusterOptions.${key}`, message: "is set by lifeguard" });
		const { nodes: _nodes, clusterOptions: _clusterOptions, ...rest } = raw;
		const resolved = resolveRedisOptions(rest as RedisClientOptions);
		problems.push(...resolved.problems);
		this.name = resolved.poolOptions.name ?? "redis";
		this.#settings = resolved.settings;
		this.#poolOptions = resolved.poolOptions;
		this.#seeds = problems.length === 0 ? (nodes as RedisNodeAddress[]).map(({ host, port }) => ({ host, port })) : [];
		this.#clusterOptions = clusterOptions as ClusterOptions;
		// The first seed's pool is made now, so the core's own checks of the pool options are reported here too.
		if (problems.length === 0) {
			try {
				this.#nodePool(`${this.#seeds[0].host}:${this.#seeds[0].port}`);
			} catch (error) {
				if (!(error instanceof ConfigError)) throw error;
				problems.push(...error.problems);
			}
		}
		if (problems.length > 0) throw new ConfigError(`createRedisClusterClient(${typeof raw.name === "string" ? JSON.stringify(raw.name) : ""})`, problems);
	}

	/** Connects the command path and learns the slot map; opens `min` dedicated connections on each primary. */
	async start(): Promise<void> {
		const { cluster } = await this.#commandPath();
		for (const node of cluster.nodes("master")) this.#nodePool(`${node.options.host}:${node.options.port}`);
		await Promise.all([...this.#nodePools.values()].map((pool) => pool.start()));
	}

	/**
	 * Runs one command: on the node of its key's slot through the cluster command path, or on a
	 * dedicated connection to that node when it blocks (BLPOP, XREAD BLOCK, …). Session commands
	 * (WATCH, MULTI, SUBSCRIBE, SELECT, …) are refused: use `transaction` or `withNode`.
	 */
	async command(name: string, ...args: RedisArg[]): Promise<unknown> {
		const route = routeOf(normalizeName(name), args);
		const command = name.toUpperCase();
		if (route === Route.session) {
			throw new RedisCommandError(command, new Error(`${command} changes the connection's session: use cluster.transaction or cluster.withNode`));
		}
		if (route === Route.dedicated) {
			const { driver } = await this.#commandPath();
			const slot = this.#slotOfKeys(driver, command, new driver.Command(name, args).getKeys());
			return this.#onSlot(slot, (redis) => redis.call(name, ...args), undefined, command);
		}
		const { cluster } = await this.#commandPath();
		const timeoutMs = this.#settings.commandTimeoutMs;
		try {
			return await replyWithin(cluster.call(name, ...args), timeoutMs, () => new RedisTimeoutError(this.name, command, timeoutMs));
		} catch (error) {
			throw toRedisError(error, this.name, command);
		}
	}

	/** GET: the value, or null. */
	get(key: string): Promise<string | null> {
		return this.command("get", key) as Promise<string | null>;
	}

	/** SET, with PX when `ttlMs` is given. */
	async set(key: string, value: RedisArg, options?: { ttlMs?: number }): Promise<void> {
		await this.command("set", key, value, ...(options?.ttlMs === undefined ? [] : ["PX", options.ttlMs]));
	}

	/** DEL of one key (keys of several slots: one call per slot). */
	del(key: string): Promise<number> {
		return this.command("del", key) as Promise<number>;
	}

	/**
	 * Runs `fn` with a connection of its own to the node that owns `key`'s slot, and gives it
	 * back clean. Commands sent there for keys of other slots get MOVED: keep to that slot.
	 */
	async withNode<R>(key: string, fn: (redis: Redis) => R | Promise<R>, options?: AcquireOptions): Promise<R> {
		const { driver } = await this.#commandPath();
		return this.#onSlot(this.#slotOfKeys(driver, "withNode", [key]), fn, options, "a command");
	}

	/**
	 * WATCH, `fn`, MULTI … EXEC on the node of the transaction's slot (from `watch`, or `key`).
	 * Every watched and queued key must hash to that one slot: REDIS_CROSS_SLOT otherwise, and
	 * nothing is sent.
	 */
	async transaction<R>(fn: (tx: RedisTransaction) => R | Promise<R>, options: ClusterTransactionOptions = {}): Promise<TransactionOutcome<R>> {
		const attempts = options.attempts ?? 1;
		if (!Number.isInteger(attempts) || attempts < 1) {
			throw new ConfigError("transaction", [{ path: "attempts", message: `must be an integer >= 1, got ${String(attempts)}` }]);
		}
		const keys = [...(options.watch ?? []), ...(options.key === undefined ? [] : [options.key])];
		if (keys.length === 0) {
			throw new ConfigError("transaction", [{ path: "key", message: "a cluster transaction needs `watch` keys or a `key` naming its slot" }]);
		}
		const { driver } = await this.#commandPath();
		const slot = this.#slotOfKeys(driver, "MULTI", keys);
		const checkQueued = (tx: RedisTransaction) => {
			const queuedKeys = tx.queued.flatMap(([name, ...args]) => new driver.Command(name, args).getKeys());
			this.#slotOfKeys(driver, "MULTI", [...keys, ...queuedKeys]);
		};
		return this.#onSlot(slot, (redis) => runTransaction(redis, this.name, fn, options, checkQueued), { signal: options.signal }, "EXEC");
	}

	/**
	 * Sends the commands back to back in one round trip to the primary of their slot and returns
	 * each one's `[error, value]` (a command's error does not stop the others). Every key must hash
	 * to one slot (REDIS_CROSS_SLOT otherwise, and nothing is sent); a pipeline with a blocking
	 * command runs on a dedicated connection to that node, the others on the command path, which
	 * follows MOVED/ASK as for single commands. Not atomic: use `transaction` for MULTI/EXEC.
	 */
	async pipeline(commands: readonly ClusterPipelineCommand[], options: { timeoutMs?: number } = {}): Promise<CommandResult[]> {
		if (commands.length === 0) return [];
		const { cluster, driver } = await this.#commandPath();
		let dedicated = false;
		const keys: (string | Buffer)[] = [];
		for (const [name, ...args] of commands) {
			const route = routeOf(normalizeName(name), args);
			const command = name.toUpperCase();
			if (route === Route.session) {
				throw new RedisCommandError(
					command,
					new Error(`${command} changes the connection's session: use cluster.transaction, cluster.subscribe or cluster.withNode`),
				);
			}
			if (route === Route.dedicated) dedicated = true;
			keys.push(...new driver.Command(name, args).getKeys());
		}
		const slot = this.#slotOfKeys(driver, "PIPELINE", keys);
		const timeoutMs = options.timeoutMs ?? (dedicated ? 0 : this.#settings.commandTimeoutMs);
		const send = async (redis: Redis | Cluster): Promise<[Error | null, unknown][]> => {
			const replies =
				(await replyWithin(
					redis.pipeline(commands as unknown as unknown[][]).exec(),
					timeoutMs,
					() => new RedisTimeoutError(this.name, "PIPELINE", timeoutMs),
				)) ?? [];
			for (const [error] of replies) {
				// A dead connection fails every command: the connection's error. A redirect moves the whole pipeline (#onSlot follows it).
				if (error !== null && (classifyRedisError(error) === "connection" || REDIRECT.test(error.message))) throw error;
			}
			return replies;
		};
		try {
			const replies = dedicated ? await this.#onSlot(slot, send, undefined, "PIPELINE") : await send(cluster);
			return replies.map(([error, value], i) => [error === null ? null : new RedisCommandError(commands[i][0].toUpperCase(), error), value]);
		} catch (error) {
			throw toRedisError(error, this.name, "PIPELINE");
		}
	}

	/**
	 * Subscribes on a dedicated connection, leased for the subscription's life from the pool of
	 * the primary that owns the first channel's slot (so subscriptions spread over the primaries).
	 * Classic pub/sub is cluster-wide: a PUBLISH on any node reaches subscribers on every node.
	 * `unsubscribe()` gives the connection back; a lost connection resubscribes on that node.
	 */
	async subscribe(channels: string | readonly string[], onMessage: MessageHandler, options: SubscribeOptions = {}): Promise<Subscription> {
		const list = typeof channels === "string" ? [channels] : [...channels];
		if (list.length === 0) throw new ConfigError("subscribe", [{ path: "channels", message: "at least one channel (or pattern) is needed" }]);
		const { cluster, driver } = await this.#commandPath();
		const address = await this.#ownerOf(cluster, new driver.Command("get", [list[0]]).getSlot(), "SUBSCRIBE");
		const subscription = await Subscription.open(this.#nodePool(address), list, onMessage, options, (s) => this.#subscriptions.delete(s));
		this.#subscriptions.add(subscription);
		return subscription;
	}

	/** PUBLISH through the command path. The count is the receiving node's subscribers only (Redis Cluster counts per node). */
	publish(channel: string, message: RedisArg): Promise<number> {
		return this.command("publish", channel, message) as Promise<number>;
	}

	/** One pool per node the client has used or found, labelled `node host:port`. */
	pools(): ClientPool[] {
		return [...this.#nodePools].map(([address, pool]) => ({ label: `node ${address}`, pool }));
	}

	/** The node pools' addresses (no credentials). */
	details(): Record<string, unknown> {
		return { mode: "cluster", nodePools: [...this.#nodePools.keys()] };
	}

	/** Stops the command path and every node pool (leases may finish until `timeoutMs`). */
	async close(options?: CloseOptions): Promise<void> {
		closeTimeout(`redis cluster "${this.name}": close`, options);
		this.#closed = true;
		await Promise.all([...this.#subscriptions].map((sub) => sub.unsubscribe()));
		const path = this.#cluster;
		if (path !== undefined) {
			try {
				(await path).cluster.disconnect();
			} catch {}
		}
		await Promise.all([...this.#nodePools.values()].map((pool) => pool.close(options)));
	}

	[Symbol.asyncDispose](): Promise<void> {
		return this.close();
	}

	#commandPath(): Promise<{ cluster: Cluster; driver: IoredisModule }> {
		if (this.#closed) return Promise.reject(toRedisError(new Error("Connection is closed"), this.name, "a command"));
		this.#cluster ??= this.#connect();
		return this.#cluster;
	}

	async #connect(): Promise<{ cluster: Cluster; driver: IoredisModule }> {
		const driver = await loadIoredis();
		const s = this.#settings;
		const cluster = new driver.Cluster(
			this.#seeds.map(({ host, port }) => ({ host, port })),
			{
				retryDelayOnFailover: 100,
				retryDelayOnClusterDown: 100,
				retryDelayOnTryAgain: 100,
				...this.#clusterOptions,
				lazyConnect: true,
				scaleReads: "master",
				redisOptions: {
					username: s.username,
					password: s.password as string | undefined,
					tls: s.tls,
					connectionName: s.connectionName,
					connectTimeout: this.#poolOptions.createTimeoutMs ?? 10_000,
				},
			},
		);
		cluster.on("error", () => {});
		try {
			await cluster.connect();
		} catch (error) {
			cluster.disconnect();
			this.#cluster = undefined;
			throw toRedisError(error, this.name, "CLUSTER SLOTS");
		}
		return { cluster, driver };
	}

	/** The one slot `keys` hash to; REDIS_CROSS_SLOT when they span several. */
	#slotOfKeys(driver: IoredisModule, command: string, keys: readonly (string | Buffer)[]): number {
		const slots = [...new Set(keys.map((key) => new driver.Command("get", [key]).getSlot()))];
		if (slots.length > 1) throw new RedisCrossSlotError(this.name, command, slots);
		if (slots.length === 0) throw new RedisCommandError(command, new Error(`${command} names no key, so no node of the cluster can be chosen for it`));
		return slots[0];
	}

	#nodePool(address: string): Pool<Redis> {
		let pool = this.#nodePools.get(address);
		if (pool !== undefined) return pool;
		const colon = address.lastIndexOf(":");
		const settings: RedisSettings = { ...this.#settings, host: address.slice(0, colon), port: Number(address.slice(colon + 1)), db: 0, sentinel: undefined };
		let connector: RedisConnector | undefined;
		const created = createPool<Redis>({
			...this.#poolOptions,
			name: `${this.name} node ${address}`,
			create: (signal) => (connector as RedisConnector).create(signal),
			destroy: (redis) => connector?.destroy(redis),
			validate: (redis) => (connector as RedisConnector).validate(redis),
			reset: (redis) => (connector as RedisConnector).reset(redis),
			classifyError: classifyRedisError,
		});
		connector = new RedisConnector(settings, created.options.createTimeoutMs, (redis, error) => created.invalidate(redis, error));
		pool = created;
		this.#nodePools.set(address, pool);
		return pool;
	}

	/** The primary ("host:port") that owns `slot` in the slot map, refreshed once when the map has none. */
	async #ownerOf(cluster: Cluster, slot: number, command: string): Promise<string> {
		let address = cluster.slots[slot]?.[0];
		if (address === undefined) {
			await new Promise<void>((resolve) => cluster.refreshSlotsCache(() => resolve()));
			address = cluster.slots[slot]?.[0];
		}
		if (address === undefined) throw new RedisCommandError(command, new Error(`no node of the cluster serves slot ${slot} right now`));
		return address;
	}

	/**
	 * Runs `fn` on a dedicated connection to the primary that owns `slot`. A MOVED or ASK reply
	 * (the slot moved since the map was read) refreshes the map and runs `fn` once more on the
	 * node the reply names.
	 */
	async #onSlot<R>(slot: number, fn: (redis: Redis) => R | Promise<R>, options: AcquireOptions | undefined, command: string): Promise<R> {
		const { cluster } = await this.#commandPath();
		let address = await this.#ownerOf(cluster, slot, command);
		let asking = false;
		for (let attempt = 1; ; attempt++) {
			try {
				const lease = await acquireOpen(this.#nodePool(address), options);
				const run = asking
					? async (redis: Redis) => {
							// ASK: the slot is moving and the key is already on the target, which serves it only after ASKING.
							await redis.call("asking");
							return fn(redis);
						}
					: fn;
				return await runOnLease(lease, run, DEDICATED);
			} catch (error) {
				const redirect = redirectOf(error);
				if (redirect === undefined || attempt >= 2) {
					if (classifyRedisError(error) === "connection") cluster.refreshSlotsCache();
					throw toRedisErrorIfDriver(error, this.name);
				}
				if (redirect.kind === "MOVED") cluster.refreshSlotsCache();
				asking = redirect.kind === "ASK";
				address = redirect.address;
			}
		}
	}
}

/** The node a MOVED/ASK reply points to, in the error or in a transaction's queued errors. */
function redirectOf(error: unknown): { kind: "MOVED" | "ASK"; address: string } | undefined {
	const candidates = [error, ...(((error as { previousErrors?: unknown[] })?.previousErrors as unknown[]) ?? [])];
	for (const candidate of candidates) {
		const match = candidate instanceof Error ? REDIRECT.exec(candidate.message) : null;
		if (match !== null) return { kind: match[1] as "MOVED" | "ASK", address: match[3] };
	}
	return undefined;
}

/** A Redis Cluster client over lifeguard pools. See {@link RedisClusterOptions}. */
export function createRedisClusterClient(options: RedisClusterOptions): RedisClusterClient {
	return new RedisClusterClient(options);
}
