import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Redis } from "ioredis";
import { loadIoredis } from "../adapters/redis/load.ts";

const READY_TIMEOUT_MS = 2_000;

/** The commands the shared budget and rate limiter send. */
export type RedisLike = Pick<Redis, "eval" | "quit" | "disconnect">;

/** A Redis the distributed parts own (from a URL) or borrow (the caller's client, left open on close). */
export interface RedisHandle {
	readonly redis: RedisLike;
	readonly owned: boolean;
}

/**
 * Opens ioredis for a URL so that commands fail fast while Redis is down (no offline queue, one
 * try): the budget must fall back at once rather than wait on a queue, and reconnects on its own.
 */
export async function openRedis(target: string | RedisLike, name: string): Promise<RedisHandle> {
	if (typeof target !== "string") return { redis: target, owned: false };
	const { Redis } = await loadIoredis();
	const redis = new Redis(target, {
		connectionName: name,
		enableOfflineQueue: false,
		maxRetriesPerRequest: 0,
		retryStrategy: (times) => Math.min(100 * times, 1_000),
		lazyConnect: false,
	});
	// Connection errors are reported through the budget's fallback state, not as unhandled 'error' events.
	redis.on("error", () => {});
	// Without an offline queue a command sent before the connection is up fails: wait for it (bounded; down is fallback).
	await new Promise<void>((resolve) => {
		const timer = setTimeout(resolve, READY_TIMEOUT_MS);
		timer.unref();
		redis.once("ready", () => {
			clearTimeout(timer);
			resolve();
		});
	});
	return { redis, owned: true };
}

/** Runs one command, bounded: a Redis that does not answer counts as down. */
export function bounded<T>(work: Promise<T>, timeoutMs: number): Promise<T> {
	let timer: NodeJS.Timeout | undefined;
	const deadline = new Promise<never>((_, reject) => {
		timer = setTimeout(() => reject(new Error(`no answer from Redis within ${timeoutMs} ms`)), timeoutMs);
		timer.unref();
	});
	return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

/** Redacts a Redis URL's credentials for errors and stats. */
export function redisLabel(target: string | RedisLike): string {
	if (typeof target !== "string") return "(client)";
	try {
		const url = new URL(target);
		return `${url.protocol}//${url.host}${url.pathname === "/" ? "" : url.pathname}`;
	} catch {
		return "(invalid url)";
	}
}

/** A process id unique across hosts and restarts (host, pid, random), for members that were given none. */
export function defaultProcessId(): string {
	return `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;
}

/**
 * Closes a part's Redis: sends its leave step, if it has one (bounded; when Redis does not answer
 * the member's TTL removes it instead), then disconnects a connection the part opened itself.
 */
export async function closeRedis(handle: Promise<RedisHandle> | undefined, timeoutMs: number, leave?: (redis: RedisLike) => Promise<unknown>): Promise<void> {
	if (handle === undefined) return;
	const { redis, owned } = await handle;
	if (leave !== undefined) {
		try {
			await bounded(leave(redis), timeoutMs);
		} catch {
			// Redis down: the TTL does what leaving would have done.
		}
	}
	if (owned) redis.disconnect();
}

/**
 * A distributed part's presence in Redis (the shard map's heartbeat, the budget's renewal, the
 * rate limit's join): `start()` opens the part's connection and runs `beat` at once, then every
 * `everyMs` on a timer that does not keep the process alive; `stop()` ends it and closes the
 * connection (see {@link closeRedis}). `handle` stays undefined until `start()`.
 */
export class RedisMembership {
	readonly #target: string | RedisLike;
	readonly #connectionName: string;
	readonly #everyMs: number;
	readonly #beat: () => Promise<void>;
	#handle: Promise<RedisHandle> | undefined;
	#timer: NodeJS.Timeout | undefined;
	#first: Promise<void> | undefined;

	constructor(target: string | RedisLike, connectionName: string, everyMs: number, beat: () => Promise<void>) {
		this.#target = target;
		this.#connectionName = connectionName;
		this.#everyMs = everyMs;
		this.#beat = beat;
	}

	get handle(): Promise<RedisHandle> | undefined {
		return this.#handle;
	}

	/** Opens the connection and starts beating, the first call only; resolves with the first beat. */
	start(): Promise<void> {
		if (this.#first === undefined) {
			this.#handle = openRedis(this.#target, this.#connectionName);
			this.#first = this.#beat();
			this.#timer = setInterval(() => void this.#beat(), this.#everyMs);
			this.#timer.unref();
		}
		return this.#first;
	}

	/** Stops beating, sends `leave` if given (bounded by `timeoutMs`) and closes a connection it opened. */
	stop(timeoutMs: number, leave?: (redis: RedisLike) => Promise<unknown>): Promise<void> {
		clearInterval(this.#timer);
		return closeRedis(this.#handle, timeoutMs, leave);
	}
}
