/**
 * The Redis client: one core pool of ioredis connections, used two ways. Commands that leave
 * no session state go through the multiplexer (many callers per connection, as ioredis
 * pipelines); everything that needs a connection of its own (blocking reads, WATCH/MULTI,
 * pub/sub, long scripts) leases one from the same pool.
 */
import type { Redis } from "ioredis";
import { durationProblem } from "../../core/duration.ts";
import { ConfigError, type ConfigProblem } from "../../core/errors.ts";
import type { Lease } from "../../core/lease.ts";
import { type AcquireOptions, type CloseOptions, closeTimeout, createPool, type Pool } from "../../core/pool.ts";
import { quoteValue } from "../../core/quote-value.ts";
import type { PoolStats } from "../../core/stats.ts";
import { runOnLease } from "../../core/with-lease.ts";
import type { ClientPool, ManagedClient } from "../../manager/client.ts";
import { raceAbort } from "../kit/abortable.ts";
import { normalizeName, type RedisArg, Route, routeOf } from "./commands.ts";
import { type RedisClientOptions, type RedisSettings, resolveRedisOptions } from "./config.ts";
import { closeNow, RedisConnector } from "./driver.ts";
import { RedisCommandError, RedisConnectionLostError, RedisTimeoutError, toRedisError, toRedisErrorIfDriver } from "./errors.ts";
import { classifyRedisError } from "./faults.ts";
import { Multiplexer } from "./multiplexer.ts";
import { acquireOpen, DEDICATED } from "./open-lease.ts";
import { replyWithin } from "./reply-deadline.ts";
import { type MessageHandler, type SubscribeOptions, Subscription } from "./subscription.ts";
import { type CommandResult, type RedisTransaction, runTransaction, type TransactionOptions, type TransactionOutcome } from "./transaction.ts";

export interface CommandOptions {
	/**
	 * No reply within this: REDIS_TIMEOUT, and the connection is destroyed. A positive number of
	 * milliseconds (0, negative, NaN or a string is CONFIG_INVALID: leave it out for the default).
	 * Default `commandTimeoutMs` (0: none) for non-blocking commands, none for blocking ones.
	 */
	timeoutMs?: number;
	/**
	 * Abandons the call: waiting for a connection, or a command running on a dedicated connection
	 * (BLPOP, XREAD BLOCK…), whose connection is then closed (the only way to stop a blocked command).
	 * The call rejects at once with `signal.reason`.
	 */
	signal?: AbortSignal;
}

/** A command with its options, for `client.command({ name, args, timeoutMs })`. */
export interface CommandRequest extends CommandOptions {
	name: string;
	args?: readonly RedisArg[];
}

/** One command of a pipeline: its name, then its arguments. */
export type PipelineCommand = readonly [name: string, ...args: RedisArg[]];

export interface SetOptions extends CommandOptions {
	/** Expire the key after this many milliseconds (SET … PX). */
	ttlMs?: number;
}

export interface RedisClientStats {
	pool: PoolStats;
	/** Connections the command path holds right now (they count as active in `pool`). */
	shared: number;
	/** Open subscriptions, each on a leased connection. */
	subscriptions: number;
}

export class RedisClient implements ManagedClient {
	readonly name: string;
	readonly kind = "redis" as const;
	/** The core pool under the client: events, `health()`, `stats()`. */
	readonly pool: Pool<Redis>;
	readonly #settings: RedisSettings;
	readonly #connector: RedisConnector;
	readonly #multiplexer: Multiplexer;
	readonly #subscriptions = new Set<Subscription>();

	constructor(options: RedisClientOptions) {
		const { settings, poolOptions, problems } = resolveRedisOptions(options);
		let pool: Pool<Redis> | undefined;
		try {
			pool = createPool<Redis>({
				...poolOptions,
				create: (signal) => this.#connector.create(signal),
				destroy: (redis) => this.#connector.destroy(redis),
				validate: (redis) => this.#connector.validate(redis),
				reset: (redis) => this.#connector.reset(redis),
				classifyError: classifyRedisError,
				// Used with allowExitOnIdle only: an idle connection's socket stops holding the process open.
				ref: (redis) => redis.stream?.ref(),
				unref: (redis) => redis.stream?.unref(),
			});
		} catch (error) {
			if (!(error instanceof ConfigError)) throw error;
			problems.push(...error.problems);
		}
		if (pool === undefined || problems.length > 0) throw configError(poolOptions.name, problems);
		this.pool = pool;
		this.name = pool.name;
		this.#settings = settings;
		this.#multiplexer = new Multiplexer(pool, settings.sharedConnections);
		this.#connector = new RedisConnector(settings, pool.options.createTimeoutMs, (redis, error) => {
			pool.invalidate(redis, error);
			this.#multiplexer.connectionDied(redis, error);
		});
	}

	/** Opens `min` connections; resolves when they are ready (rejects on the first failure with `failFast`). */
	start(): Promise<void> {
		return this.pool.start();
	}

	/**
	 * Runs one command on a shared connection, or on a dedicated one when it blocks (BLPOP,
	 * XREAD BLOCK, …). Commands that change the session (WATCH, MULTI, SELECT, SUBSCRIBE, …)
	 * are refused: use `withConnection`, `transaction` or `subscribe`.
	 */
	command(name: string, ...args: RedisArg[]): Promise<unknown>;
	command(request: CommandRequest): Promise<unknown>;
	command(first: string | CommandRequest, ...args: RedisArg[]): Promise<unknown> {
		if (typeof first === "string") return this.#send(first, args, undefined);
		return this.#send(first.name, first.args ?? [], first);
	}

	/** GET: the value, or null when the key does not exist. */
	get(key: string, options?: CommandOptions): Promise<string | null> {
		return this.#send("get", [key], options) as Promise<string | null>;
	}

	/** SET; with `ttlMs`, SET … PX so the key expires. */
	async set(key: string, value: RedisArg, options?: SetOptions): Promise<void> {
		await this.#send("set", options?.ttlMs === undefined ? [key, value] : [key, value, "PX", options.ttlMs], options);
	}

	/** DEL: how many of the keys existed. */
	del(keys: string | readonly string[], options?: CommandOptions): Promise<number> {
		return this.#send("del", typeof keys === "string" ? [keys] : [...keys], options) as Promise<number>;
	}

	/**
	 * Sends the commands back to back in one round trip and returns each one's `[error, value]`
	 * (a command's error does not stop the others). Blocking commands move the pipeline to a
	 * dedicated connection; session commands are refused, as in `command`.
	 */
	async pipeline(commands: readonly PipelineCommand[], options?: CommandOptions): Promise<CommandResult[]> {
		if (commands.length === 0) return [];
		checkTimeout(options);
		let route: Route = Route.shared;
		for (const [name, ...args] of commands) {
			checkCommand(name, args, undefined);
			const r = routeOf(normalizeName(name), args);
			if (r === Route.session) throw sessionCommandRefused(name);
			if (r === Route.dedicated) route = r;
		}
		const timeoutMs = options?.timeoutMs ?? (route === Route.shared ? this.#settings.commandTimeoutMs : 0);
		const send = async (redis: Redis): Promise<[Error | null, unknown][]> => {
			const replies =
				(await replyWithin(redis.pipeline(commands as unknown as unknown[][]).exec(), timeoutMs, () => this.#timedOut("PIPELINE", timeoutMs))) ?? [];
			// A closed connection fails every command of the pipeline: that is the connection's error, not the commands'.
			for (const [error] of replies) if (error !== null && classifyRedisError(error) === "connection") throw error;
			return replies;
		};
		try {
			const replies = route === Route.shared ? await this.#multiplexer.run(send, options?.signal) : await this.#useDedicated(send, { signal: options?.signal });
			return replies.map(([error, value], i) => [error === null ? null : new RedisCommandError(commands[i][0].toUpperCase(), error), value]);
		} catch (error) {
			if (error instanceof RedisAbortedError) throw error.reason;
			throw toRedisError(error, this.name, "PIPELINE");
		}
	}

	/** Leases a connection of your own (blocking commands, scripts, anything stateful). Release it, or `await using` it. */
	acquire(options?: AcquireOptions): Promise<Lease<Redis>> {
		return acquireOpen(this.pool, options);
	}

	/**
	 * Runs `fn` with a leased connection and gives it back clean (UNWATCH, DISCARD or RESET as
	 * needed). Redis errors come out typed; a connection fault destroys the connection.
	 */
	async withConnection<R>(fn: (redis: Redis) => R | Promise<R>, options?: AcquireOptions): Promise<R> {
		try {
			return await this.#useDedicated(fn, options);
		} catch (error) {
			if (error instanceof RedisAbortedError) throw error.reason;
			throw toRedisErrorIfDriver(error, this.name);
		}
	}

	/**
	 * WATCHes `options.watch`, runs `fn` (read on `tx`, queue writes with `tx.queue`), then sends
	 * MULTI … EXEC. `committed: false` when a watched key changed in every attempt. A throw in
	 * `fn` sends nothing; the connection goes back unwatched either way.
	 */
	transaction<R>(fn: (tx: RedisTransaction) => R | Promise<R>, options: TransactionOptions = {}): Promise<TransactionOutcome<R>> {
		const attempts = options.attempts ?? 1;
		if (!Number.isInteger(attempts) || attempts < 1) {
			return Promise.reject(new ConfigError("transaction", [{ path: "attempts", message: `must be an integer >= 1, got ${String(attempts)}` }]));
		}
		return this.withConnection((redis) => runTransaction(redis, this.name, fn, options), { signal: options.signal });
	}

	/**
	 * Subscribes on a connection leased for the subscription's life; `onMessage` gets each
	 * message. `unsubscribe()` gives the connection back after a clean UNSUBSCRIBE.
	 */
	async subscribe(channels: string | readonly string[], onMessage: MessageHandler, options: SubscribeOptions = {}): Promise<Subscription> {
		const list = typeof channels === "string" ? [channels] : [...channels];
		if (list.length === 0) throw new ConfigError("subscribe", [{ path: "channels", message: "at least one channel (or pattern) is needed" }]);
		const subscription = await Subscription.open(this.pool, list, onMessage, options, (s) => this.#subscriptions.delete(s));
		this.#subscriptions.add(subscription);
		return subscription;
	}

	/** The client's one pool, labelled `primary`. */
	pools(): ClientPool[] {
		return [{ label: "primary", pool: this.pool }];
	}

	stats(): RedisClientStats {
		return { pool: this.pool.stats(), shared: this.#multiplexer.held, subscriptions: this.#subscriptions.size };
	}

	/** Ends the subscriptions, lets commands in flight finish (until `timeoutMs`), and closes every connection. */
	async close(options?: CloseOptions): Promise<void> {
		closeTimeout(`redis client "${this.name}": close`, options);
		this.#multiplexer.close();
		this.#connector.close();
		await Promise.all([...this.#subscriptions].map((s) => s.unsubscribe()));
		await this.pool.close(options);
	}

	/** `close()` with the default timeout, for `await using redis = createRedisClient(…)`. */
	[Symbol.asyncDispose](): Promise<void> {
		return this.close();
	}

	async #send(name: string, args: readonly RedisArg[], options: CommandOptions | undefined): Promise<unknown> {
		checkCommand(name, args, options);
		const route = routeOf(normalizeName(name), args);
		if (route === Route.session) throw sessionCommandRefused(name);
		const timeoutMs = options?.timeoutMs ?? (route === Route.shared ? this.#settings.commandTimeoutMs : 0);
		const send = (redis: Redis) => replyWithin(redis.call(name, ...args), timeoutMs, () => this.#timedOut(name.toUpperCase(), timeoutMs));
		try {
			return route === Route.shared ? await this.#multiplexer.run(send, options?.signal) : await this.#useDedicated(send, { signal: options?.signal });
		} catch (error) {
			if (error instanceof RedisAbortedError) throw error.reason;
			throw toRedisError(error, this.name, name.toUpperCase());
		}
	}

	/** Runs `fn` on a leased connection: released after, destroyed when `fn` fails with a connection fault. */
	async #useDedicated<R>(fn: (redis: Redis) => R | Promise<R>, options: AcquireOptions | undefined): Promise<R> {
		const lease = await acquireOpen(this.pool, options);
		const signal = options?.signal;
		return runOnLease(lease, (redis) => (signal === undefined ? fn(redis) : closedOnAbort(redis, fn, signal)), DEDICATED);
	}

	#timedOut(command: string, timeoutMs: number): RedisTimeoutError {
		return new RedisTimeoutError(this.name, command, timeoutMs);
	}
}

/**
 * Runs `fn` on the leased connection; when `signal` aborts first, the connection is closed (a
 * blocked BLPOP cannot be withdrawn any other way) and the call rejects at once with the reason.
 */
function closedOnAbort<R>(redis: Redis, fn: (redis: Redis) => R | Promise<R>, signal: AbortSignal): Promise<R> {
	signal.throwIfAborted();
	return raceAbort(
		Promise.resolve().then(() => fn(redis)),
		signal,
		() => {
			closeNow(redis);
			return new RedisAbortedError(signal.reason);
		},
	);
}

/** A dedicated command its signal aborted: its connection was closed. A connection fault for the lease, the signal's reason for the caller. */
class RedisAbortedError extends RedisConnectionLostError {
	readonly reason: unknown;
	constructor(reason: unknown) {
		super("", "a command", reason);
		this.reason = reason;
	}
}

/** Refuses what Redis cannot take, before anything is sent: arguments other than strings, numbers and Buffers (`undefined` and objects would go out as "" and "[object Object]"), and a bad timeout. */
function checkCommand(name: unknown, args: readonly unknown[], options: CommandOptions | undefined): void {
	const problems: ConfigProblem[] = [];
	if (typeof name !== "string" || name === "") problems.push({ path: "name", message: `must be a command name, got ${quoteValue(name)}` });
	for (let i = 0; i < args.length; i++) {
		const arg = args[i];
		if (typeof arg === "string" || Buffer.isBuffer(arg)) continue;
		if (typeof arg === "number" && Number.isFinite(arg)) continue;
		problems.push({
			path: `args[${i}]`,
			message: `is ${quoteValue(arg)}: Redis takes strings, finite numbers and Buffers (serialize objects with JSON.stringify; leave out what is undefined)`,
		});
	}
	if (problems.length > 0) throw new ConfigError(`redis ${typeof name === "string" ? name.toUpperCase() : "command"}`, problems);
	checkTimeout(options);
}

function checkTimeout(options: CommandOptions | undefined): void {
	if (options?.timeoutMs === undefined) return;
	const problem = durationProblem(options.timeoutMs);
	if (problem !== undefined) throw new ConfigError("redis command", [{ path: "timeoutMs", message: `${problem} (leave it out for the default)` }]);
}

function sessionCommandRefused(name: string): RedisCommandError {
	const command = name.toUpperCase();
	return new RedisCommandError(
		command,
		new Error(
			`${command} changes the connection's session, so it cannot run on a shared connection; use client.transaction (WATCH/MULTI), client.subscribe, or client.withConnection`,
		),
	);
}

function configError(name: unknown, problems: ConfigProblem[]): ConfigError {
	return new ConfigError(`createRedisClient(${typeof name === "string" ? JSON.stringify(name) : ""})`, problems);
}

/** A Redis client over a lifeguard pool. See {@link RedisClientOptions} for the options and their defaults. */
export function createRedisClient(options: RedisClientOptions = {}): RedisClient {
	return new RedisClient(options);
}
