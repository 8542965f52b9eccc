/**
 * A pub/sub subscription on a connection leased for the subscription's whole life. A clean
 * UNSUBSCRIBE gives the connection back to the pool; a failed one destroys it. When the
 * connection dies, the subscription moves to a new one by itself (messages published in the
 * gap are lost, as Redis pub/sub is at most once) and tells `onError`.
 */
import type { Redis } from "ioredis";
import { Backoff } from "../../core/backoff.ts";
import { messageOf } from "../../core/errors.ts";
import type { Lease } from "../../core/lease.ts";
import type { AcquireOptions, Pool } from "../../core/pool.ts";
import { RedisConnectionLostError, RedisTimeoutError, toRedisError } from "./errors.ts";
import { classifyRedisError } from "./faults.ts";
import { acquireOpen } from "./open-lease.ts";
import { replyWithin } from "./reply-deadline.ts";

/** Called for each message; `pattern` is set for pattern subscriptions. A throw or rejection goes to `onError`. */
export type MessageHandler = (message: string, channel: string, pattern?: string) => void | Promise<void>;

export interface SubscribeOptions {
	/** The channels are glob patterns (PSUBSCRIBE). Default false. */
	patterns?: boolean;
	/** Abandons waiting for the first connection. */
	signal?: AbortSignal;
	/** Told when the connection is lost (the subscription then moves to a new one) and when the handler throws. */
	onError?: (error: Error) => void;
}

const RESUBSCRIBE_RETRY_INITIAL_MS = 100;
const RESUBSCRIBE_RETRY_MAX_MS = 2_000;

export class Subscription {
	/** The channels (or patterns) subscribed to. */
	readonly channels: readonly string[];
	readonly patterns: boolean;
	readonly #pool: Pool<Redis>;
	readonly #handler: MessageHandler;
	readonly #onError: ((error: Error) => void) | undefined;
	readonly #onEnd: (subscription: Subscription) => void;
	readonly #backoff = new Backoff(RESUBSCRIBE_RETRY_INITIAL_MS, RESUBSCRIBE_RETRY_MAX_MS);
	#lease: Lease<Redis> | undefined;
	#detach: (() => void) | undefined;
	#active = true;
	#ending: Promise<void> | undefined;

	private constructor(pool: Pool<Redis>, channels: readonly string[], handler: MessageHandler, options: SubscribeOptions, onEnd: (s: Subscription) => void) {
		this.#pool = pool;
		this.channels = channels;
		this.patterns = options.patterns === true;
		this.#handler = handler;
		this.#onError = options.onError;
		this.#onEnd = onEnd;
	}

	/** @internal Leases a connection and subscribes; rejects (and gives the connection back) when SUBSCRIBE fails. */
	static async open(
		pool: Pool<Redis>,
		channels: readonly string[],
		handler: MessageHandler,
		options: SubscribeOptions,
		onEnd: (s: Subscription) => void,
	): Promise<Subscription> {
		const subscription = new Subscription(pool, channels, handler, options, onEnd);
		await subscription.#attach({ signal: options.signal });
		return subscription;
	}

	/** False once unsubscribed. */
	get active(): boolean {
		return this.#active;
	}

	/** The pool's id of the connection the subscription is on; undefined while it is moving to a new one. */
	get connectionId(): number | undefined {
		return this.#lease?.active ? this.#lease.connectionId : undefined;
	}

	/** Leaves the channels and gives the connection back (or destroys it if UNSUBSCRIBE fails). Idempotent. */
	unsubscribe(): Promise<void> {
		this.#ending ??= this.#end();
		return this.#ending;
	}

	get #command(): string {
		return this.patterns ? "PSUBSCRIBE" : "SUBSCRIBE";
	}

	async #attach(options: AcquireOptions): Promise<void> {
		const lease = await acquireOpen(this.#pool, options);
		if (!this.#active) return lease.release();
		const redis = lease.resource;
		const event = this.patterns ? "pmessage" : "message";
		const onMessage = this.patterns
			? (pattern: string, channel: string, message: string) => this.#deliver(message, channel, pattern)
			: (channel: string, message: string) => this.#deliver(message, channel, undefined);
		const onClose = () => this.#lost(lease);
		redis.on(event, onMessage);
		redis.once("close", onClose);
		this.#lease = lease;
		this.#detach = () => {
			redis.off(event, onMessage);
			redis.off("close", onClose);
		};
		try {
			await (this.patterns ? redis.psubscribe(...this.channels) : redis.subscribe(...this.channels));
			this.#backoff.succeed();
		} catch (error) {
			if (this.#lease === lease) this.#drop(lease, error);
			throw toRedisError(error, this.#pool.name, this.#command);
		}
	}

	#drop(lease: Lease<Redis>, error: unknown): void {
		this.#detach?.();
		this.#detach = undefined;
		this.#lease = undefined;
		if (!lease.active) return;
		if (classifyRedisError(error) === "connection") lease.destroy(error);
		else lease.release();
	}

	#lost(lease: Lease<Redis>): void {
		const error = new RedisConnectionLostError(this.#pool.name, this.#command, new Error("the subscription's connection closed"));
		this.#drop(lease, error);
		if (!this.#active) return;
		this.#report(error);
		void this.#resubscribe();
	}

	async #resubscribe(): Promise<void> {
		while (this.#active && !this.#pool.closed) {
			try {
				await this.#attach({});
				return;
			} catch (error) {
				if (!this.#active || this.#pool.closed) return;
				this.#report(error instanceof Error ? error : new Error(messageOf(error)));
				await new Promise((resolve) => setTimeout(resolve, this.#backoff.fail()).unref());
			}
		}
	}

	async #end(): Promise<void> {
		this.#active = false;
		this.#onEnd(this);
		const lease = this.#lease;
		this.#detach?.();
		this.#detach = undefined;
		this.#lease = undefined;
		if (lease === undefined || !lease.active) return;
		const redis = lease.resource;
		const timeoutMs = this.#pool.options.validateTimeoutMs;
		try {
			const leaving = this.patterns ? redis.punsubscribe(...this.channels) : redis.unsubscribe(...this.channels);
			await replyWithin(leaving, timeoutMs, () => new RedisTimeoutError(this.#pool.name, this.patterns ? "PUNSUBSCRIBE" : "UNSUBSCRIBE", timeoutMs));
			lease.release();
		} catch (error) {
			lease.destroy(error);
		}
	}

	#deliver(message: string, channel: string, pattern: string | undefined): void {
		try {
			const done = this.#handler(message, channel, pattern);
			if (done instanceof Promise) done.catch((error: unknown) => this.#report(error));
		} catch (error) {
			// A throw here would unwind through ioredis's reply parser: report it instead.
			this.#report(error);
		}
	}

	#report(error: unknown): void {
		const err = error instanceof Error ? error : new Error(messageOf(error));
		if (this.#onError === undefined) {
			process.emitWarning(`redis pool "${this.#pool.name}": subscription to ${this.channels.join(", ")}: ${err.message} (pass onError to handle this)`, {
				code: "LIFEGUARD_REDIS_SUBSCRIPTION",
			});
			return;
		}
		try {
			this.#onError(err);
		} catch {
			// The user's error handler failing must not break message delivery.
		}
	}
}
