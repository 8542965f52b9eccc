/**
 * Optimistic transactions: WATCH keys, read them on the same connection, queue writes, and
 * send MULTI … EXEC in one go. EXEC fails as a whole (committed: false) when a watched key
 * changed; the transaction can run again up to `attempts` times.
 */
import type { Redis } from "ioredis";
import type { RedisArg } from "./commands.ts";
import { RedisCommandError, toRedisError } from "./errors.ts";

/** A pipeline's or transaction's answer per command: the command's error (the others still ran) or its value. */
export type CommandResult = [error: RedisCommandError | null, value: unknown];

export interface TransactionOptions {
	/** Keys to WATCH before `fn` runs: EXEC is refused if any of them changes before it. */
	watch?: readonly string[];
	/** Runs of `fn` when EXEC is refused because a watched key changed. Default 1. */
	attempts?: number;
	/** Abandons waiting for a connection. */
	signal?: AbortSignal;
}

export type TransactionOutcome<R> =
	| { committed: true; value: R; results: CommandResult[]; attempts: number }
	| { committed: false; value: R; attempts: number };

/** What `fn` gets: the dedicated connection for reads, and a queue of writes for MULTI/EXEC. */
export class RedisTransaction {
	/** The transaction's own connection. Reads here see the watched keys; writes here are not part of the MULTI. */
	readonly redis: Redis;
	readonly #pool: string;
	readonly #queued: [string, ...RedisArg[]][] = [];

	/** @internal */
	constructor(redis: Redis, pool: string) {
		this.redis = redis;
		this.#pool = pool;
	}

	/** Runs a command now on the transaction's connection (a read of a watched key, typically). */
	async command(name: string, ...args: RedisArg[]): Promise<unknown> {
		try {
			return await this.redis.call(name, ...args);
		} catch (error) {
			throw toRedisError(error, this.#pool, name.toUpperCase());
		}
	}

	/** Queues a command for the MULTI/EXEC sent after `fn` returns. */
	queue(name: string, ...args: RedisArg[]): this {
		this.#queued.push([name, ...args]);
		return this;
	}

	/** @internal The commands queued so far (the cluster client checks their slots before EXEC). */
	get queued(): readonly (readonly [string, ...RedisArg[]])[] {
		return this.#queued;
	}

	/** @internal MULTI … EXEC; null when a watched key changed. Nothing queued: nothing sent. */
	async commit(): Promise<CommandResult[] | null> {
		if (this.#queued.length === 0) return [];
		let replies: [Error | null, unknown][] | null;
		try {
			replies = await this.redis.multi(this.#queued).exec();
		} catch (error) {
			throw toRedisError(error, this.#pool, "EXEC");
		}
		if (replies === null) return null;
		return replies.map(([error, value], i) => [error === null ? null : new RedisCommandError(this.#queued[i][0].toUpperCase(), error), value]);
	}
}

/** Runs `fn` on `redis` until EXEC commits or the attempts are spent. */
export async function runTransaction<R>(
	redis: Redis,
	pool: string,
	fn: (tx: RedisTransaction) => R | Promise<R>,
	options: TransactionOptions,
	beforeCommit?: (tx: RedisTransaction) => void,
): Promise<TransactionOutcome<R>> {
	const attempts = options.attempts ?? 1;
	for (let attempt = 1; ; attempt++) {
		if (options.watch !== undefined && options.watch.length > 0) await redis.watch(...options.watch);
		const tx = new RedisTransaction(redis, pool);
		const value = await fn(tx);
		beforeCommit?.(tx);
		const results = await tx.commit();
		if (results !== null) return { committed: true, value, results, attempts: attempt };
		if (attempt >= attempts) return { committed: false, value, attempts: attempt };
	}
}
