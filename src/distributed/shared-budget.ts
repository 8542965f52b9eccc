import { performance } from "node:perf_hooks";
import type { BudgetedPool, ConnectionBudget } from "../core/connection-budget.ts";
import { BUDGET_SYNC_LUA } from "./budget-script.ts";
import { checkPositiveInteger, distributedConfigError, redisPartProblems } from "./errors.ts";
import { bounded, defaultProcessId, type RedisHandle, type RedisLike, RedisMembership } from "./redis-connection.ts";

export interface SharedBudgetOptions {
	/** A Redis URL (the budget opens its own connection) or an ioredis client (left open on close). */
	redis: string | RedisLike;
	/** What the budget guards (a database, an origin): processes naming the same resource share it. */
	resource: string;
	/** Most connections over every process. */
	limit: number;
	/** Key prefix in Redis. Default "lifeguard". */
	keyPrefix?: string;
	/** A process that stops renewing loses its slots after this long. Default 10 000 ms. */
	ttlMs?: number;
	/** Renewal period. Default ttlMs / 3. */
	renewMs?: number;
	/** While a pool waits for a slot, how often Redis is asked again. Default min(200, ttlMs / 10) ms. */
	pollMs?: number;
	/** Deadline of one Redis call; past it Redis counts as down. Default min(1 000, ttlMs / 4) ms. */
	commandTimeoutMs?: number;
	/** This process's id in Redis. Default host:pid:random. */
	processId?: string;
	/** Processes assumed when Redis was never reached (the static share's divisor). Default `limit` (one slot each). */
	expectedProcesses?: number;
}

export interface SharedBudgetStats {
	resource: string;
	processId: string;
	limit: number;
	/** Slots this process holds in Redis (in use + granted headroom). */
	held: number;
	/** Connections open or being opened under this budget here. */
	used: number;
	/** Slots held above the fair share. */
	borrowed: number;
	/** Slots Redis asked back (another process is owed its share). */
	owed: number;
	/** Callers waiting in the attached pools. */
	waiting: number;
	/** Live processes seen in Redis at the last sync (the last known count while in fallback). */
	processes: number;
	/** This process's fair share (limit ÷ processes). */
	share: number;
	/** True while Redis is unreachable: the process keeps to its static share. */
	fallback: boolean;
	/** What this process may use now. */
	allowed: number;
	syncs: number;
	syncFailures: number;
}

const MIN_TTL_MS = 100;

/**
 * A connection budget shared through Redis by every process that names the same resource. Give
 * it to pools as their `budget` option: a create takes a slot, a closed connection gives it back.
 * Slots are leased with a TTL and renewed while the process lives; see docs/distributed.md.
 */
export class SharedBudget implements ConnectionBudget {
	readonly resource: string;
	readonly limit: number;
	readonly processId: string;
	readonly ttlMs: number;
	readonly #keys: [string, string, string];
	readonly #pollMs: number;
	readonly #commandTimeoutMs: number;
	readonly #membership: RedisMembership;
	readonly #pools: BudgetedPool[] = [];
	#used = 0;
	#granted = 0;
	#owe = 0;
	#processes: number;
	#share = 1;
	#fallback = false;
	#fallbackSince = 0;
	/** Until then (performance.now), a process back from an outage keeps to its static share: the others may not have re-registered yet. */
	#rejoinUntil = 0;
	#grantedAtFailure = 0;
	#everSynced = false;
	#blocked = false;
	#syncing = false;
	/** What `used` was when the sync in flight was sent; no slot is taken until Redis answers (it will overwrite what this process holds). */
	#inFlightUsed: number | undefined;
	#syncAgain = false;
	#pollTimer: NodeJS.Timeout | undefined;
	#soonTimer: NodeJS.Timeout | undefined;
	#closed = false;
	#syncs = 0;
	#syncFailures = 0;

	constructor(options: SharedBudgetOptions) {
		const problems = redisPartProblems("SharedBudget", options, "resource");
		checkPositiveInteger(problems, "limit", options.limit, true);
		checkPositiveInteger(problems, "ttlMs", options.ttlMs, false, MIN_TTL_MS);
		checkPositiveInteger(problems, "renewMs", options.renewMs, false);
		checkPositiveInteger(problems, "pollMs", options.pollMs, false);
		checkPositiveInteger(problems, "commandTimeoutMs", options.commandTimeoutMs, false);
		checkPositiveInteger(problems, "expectedProcesses", options.expectedProcesses, false);
		const ttlMs = options.ttlMs ?? 10_000;
		if (options.renewMs !== undefined && options.renewMs >= ttlMs)
			problems.push({ path: "renewMs", message: `must be below ttlMs (${ttlMs}) or slots lapse between renewals` });
		if (problems.length > 0) throw distributedConfigError(`SharedBudget(${JSON.stringify(options.resource ?? "")})`, problems);
		this.resource = options.resource;
		this.limit = options.limit;
		this.ttlMs = ttlMs;
		this.#pollMs = options.pollMs ?? Math.max(10, Math.min(200, Math.floor(ttlMs / 10)));
		this.#commandTimeoutMs = options.commandTimeoutMs ?? Math.max(50, Math.min(1_000, Math.floor(ttlMs / 4)));
		this.processId = options.processId ?? defaultProcessId();
		const base = `${options.keyPrefix ?? "lifeguard"}:budget:{${options.resource}}`;
		this.#keys = [`${base}:members`, `${base}:held`, `${base}:want`];
		this.#membership = new RedisMembership(options.redis, `lifeguard-budget:${options.resource}`, options.renewMs ?? Math.floor(ttlMs / 3), () => this.#sync());
		this.#processes = options.expectedProcesses ?? options.limit;
	}

	/** Joins the budget in Redis; resolves after the first answer (or the first failure, in fallback). Called by the first pool that attaches. */
	start(): Promise<void> {
		return this.#membership.start();
	}

	// ── ConnectionBudget ───────────────────────────────────────────────────────────────────

	attach(pool: BudgetedPool): void {
		this.#pools.push(pool);
		void this.start();
	}

	tryReserve(): boolean {
		if (this.#closed || this.#used >= this.allowed) return false;
		this.#used++;
		return true;
	}

	release(): void {
		if (this.#used > 0) this.#used--;
		if (this.#owe > 0) {
			this.#owe--;
			// Paid back: the slot stops being ours here, not only once Redis hears of it.
			if (this.#granted > 0) this.#granted--;
			// The slot is someone else's: tell Redis now rather than at the next renewal.
			this.#syncSoon();
		}
		if (this.#blocked && this.#used < this.allowed) this.#wakeAll();
	}

	blocked(): void {
		if (this.#closed) return;
		if (!this.#blocked) {
			this.#blocked = true;
			this.#syncSoon();
		}
		this.#armPoll();
	}

	overdrawn(): boolean {
		return this.#owe > 0 || this.#used > this.allowed;
	}

	// ── state ──────────────────────────────────────────────────────────────────────────────

	/** What this process may use now: its grant from Redis, or its static share in fallback. */
	get allowed(): number {
		if (this.#inFlightUsed !== undefined) return Math.min(this.#inFlightUsed, this.#ownLimit());
		return this.#ownLimit();
	}

	#ownLimit(): number {
		const staticShare = Math.max(1, Math.floor(this.limit / Math.max(1, this.#processes)));
		if (!this.#fallback) return performance.now() < this.#rejoinUntil ? Math.min(this.#granted, staticShare) : this.#granted;
		// For one TTL the others may still hold what Redis granted them; grow only after their leases lapsed too.
		if (performance.now() - this.#fallbackSince < this.ttlMs) return Math.min(staticShare, Math.max(1, this.#grantedAtFailure));
		return staticShare;
	}

	get fallback(): boolean {
		return this.#fallback;
	}

	stats(): SharedBudgetStats {
		const waiting = this.#pools.reduce((sum, p) => sum + p.pending(), 0);
		return {
			resource: this.resource,
			processId: this.processId,
			limit: this.limit,
			held: this.#fallback ? this.#used : this.#granted,
			used: this.#used,
			borrowed: Math.max(0, (this.#fallback ? this.#used : this.#granted) - this.#share),
			owed: this.#owe,
			waiting,
			processes: this.#processes,
			share: this.#share,
			fallback: this.#fallback,
			allowed: this.allowed,
			syncs: this.#syncs,
			syncFailures: this.#syncFailures,
		};
	}

	/** Leaves the budget: stops renewing and removes this process from Redis (its slots free at once). */
	async close(): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		clearTimeout(this.#pollTimer);
		clearTimeout(this.#soonTimer);
		// When Redis does not answer, the TTL frees the slots.
		await this.#membership.stop(this.#commandTimeoutMs, (redis) => this.#eval(redis, 0, 0, true));
	}

	async [Symbol.asyncDispose](): Promise<void> {
		await this.close();
	}

	// ── Redis ──────────────────────────────────────────────────────────────────────────────

	#eval(redis: RedisLike, used: number, want: number, leave: boolean): Promise<unknown> {
		const [members, held, wanted] = this.#keys;
		return redis.eval(BUDGET_SYNC_LUA, 3, members, held, wanted, this.processId, this.ttlMs, this.limit, used, want, leave ? "1" : "0");
	}

	#syncSoon(): void {
		if (this.#soonTimer !== undefined || this.#closed) return;
		this.#soonTimer = setTimeout(() => {
			this.#soonTimer = undefined;
			void this.#sync();
		}, 0);
		this.#soonTimer.unref();
	}

	#armPoll(): void {
		if (this.#pollTimer !== undefined || this.#closed) return;
		this.#pollTimer = setTimeout(() => {
			this.#pollTimer = undefined;
			const waiting = this.#pools.some((p) => p.pending() > 0);
			this.#blocked = waiting;
			if (!waiting) return;
			void this.#sync();
			// A wake may free a slot locally too (fallback share grew after one TTL).
			this.#wakeAll();
			this.#armPoll();
		}, this.#pollMs);
		this.#pollTimer.unref();
	}

	async #sync(): Promise<void> {
		if (this.#closed || this.#membership.handle === undefined) return;
		if (this.#syncing) {
			this.#syncAgain = true;
			return;
		}
		this.#syncing = true;
		try {
			do {
				this.#syncAgain = false;
				await this.#syncOnce();
			} while (this.#syncAgain && !this.#closed);
		} finally {
			this.#syncing = false;
		}
	}

	async #syncOnce(): Promise<void> {
		const handle = await (this.#membership.handle as Promise<RedisHandle>);
		const pending = this.#pools.reduce((sum, p) => sum + p.pending(), 0);
		const used = this.#used;
		const want = Math.min(this.limit, used + pending);
		let reply: unknown;
		this.#inFlightUsed = used;
		try {
			reply = await bounded(this.#eval(handle.redis, used, want, false), this.#commandTimeoutMs);
		} catch {
			this.#inFlightUsed = undefined;
			this.#syncFailures++;
			this.#enterFallback();
			return;
		}
		this.#inFlightUsed = undefined;
		if (this.#closed) return;
		const [granted, owe, processes, share, , known] = (reply as number[]).map(Number) as [number, number, number, number, number, number];
		// Back after an outage or a lapse: Redis may have lost everyone's entries, so hold to the last static share for one TTL.
		if (this.#everSynced && (this.#fallback || known === 0)) this.#rejoinUntil = performance.now() + this.ttlMs;
		this.#syncs++;
		this.#everSynced = true;
		this.#fallback = false;
		// Creates that started while Redis answered are already counted in `used`; the grant covers what it was told.
		this.#granted = granted;
		this.#owe = owe;
		// During the rejoin window the last known count stays the divisor: the new count may miss processes not yet back.
		if (performance.now() >= this.#rejoinUntil) this.#processes = processes;
		else this.#processes = Math.max(this.#processes, processes);
		this.#share = share;
		if (this.#owe > 0) this.#payBack();
		if (this.#used < this.allowed) this.#wakeAll();
	}

	/** Closes idle connections to pay what Redis asked back; busy ones pay on return (`overdrawn`). */
	#payBack(): void {
		for (const pool of this.#pools) {
			while (this.#owe > 0 && pool.evictIdle()) {}
		}
	}

	#enterFallback(): void {
		if (this.#fallback) return;
		this.#fallback = true;
		this.#fallbackSince = performance.now();
		this.#grantedAtFailure = this.#everSynced ? this.#granted : 0;
		this.#owe = 0;
		// Above the static share: give back as connections come back (`overdrawn`), idle ones now.
		for (const pool of this.#pools) {
			while (this.#used > this.allowed && pool.evictIdle()) {}
		}
	}

	#wakeAll(): void {
		for (const pool of this.#pools) pool.wake();
	}
}

/** A budget shared through Redis; see {@link SharedBudget}. */
export function createSharedBudget(options: SharedBudgetOptions): SharedBudget {
	return new SharedBudget(options);
}
