import { performance } from "node:perf_hooks";
import { RateLimitedError, RequestAbortedError } from "../resilience/errors.ts";
import { checkPositiveInteger, distributedConfigError, redisPartProblems } from "./errors.ts";
import { LocalWindow } from "./local-window.ts";
import { RATE_LUA } from "./rate-script.ts";
import { bounded, defaultProcessId, type RedisHandle, type RedisLike, RedisMembership } from "./redis-connection.ts";

export interface SharedRateLimitOptions {
	/** A Redis URL (its own connection) or an ioredis client (left open on close). */
	redis: string | RedisLike;
	/** Names the limit in Redis: processes with the same name share it. */
	name: string;
	/** Most requests per key per window over every process (an LLM key's RPM). */
	requestsPerWindow?: number;
	/** Most tokens per key per window over every process (TPM). */
	tokensPerWindow?: number;
	/** The sliding window. Default 60 000 ms. */
	windowMs?: number;
	/** Default "lifeguard". */
	keyPrefix?: string;
	/** Membership TTL, for the process count of the fallback share. Default 10 000 ms. */
	ttlMs?: number;
	/** Deadline of one Redis call. Default 500 ms. */
	commandTimeoutMs?: number;
	processId?: string;
	/** Processes assumed when Redis was never reached. Default: the requests limit (1 request each). */
	expectedProcesses?: number;
}

export interface TakeOptions {
	/** Tokens this call spends (estimated; add the real usage later with `record`). Default 0. */
	tokens?: number;
	/** How long the call may wait for room. Default 30 000 ms; refused at once with RATE_LIMITED when the wait would pass it. */
	timeoutMs?: number;
	signal?: AbortSignal;
}

/** How one `take` was admitted. */
export interface RateAdmission {
	/** "redis": the shared log admitted it; "local": the static share did, Redis being unreachable (or not yet trusted after an outage). */
	source: "redis" | "local";
	/** Redis TIME (ms since the epoch) at which the script admitted it; undefined for a local admission. */
	redisTimeMs: number | undefined;
}

export interface SharedRateLimitStats {
	name: string;
	processId: string;
	fallback: boolean;
	processes: number;
	/** Calls admitted (through Redis or the local share). */
	allowed: number;
	/** Of those, admitted by the local static share while Redis was unreachable. */
	allowedLocally: number;
	refused: number;
	waited: number;
}

/**
 * Requests and tokens per key per window, shared by every process through Redis (a sliding log
 * on Redis TIME). While Redis is down each process keeps to a static share of each limit
 * (limit ÷ last known processes, at least 1) and does so for one more window after it is back,
 * since Redis never saw what was spent meanwhile.
 */
export class SharedRateLimit {
	readonly name: string;
	readonly processId: string;
	readonly requestsPerWindow: number;
	readonly tokensPerWindow: number;
	readonly windowMs: number;
	readonly #prefix: string;
	readonly #ttlMs: number;
	readonly #commandTimeoutMs: number;
	readonly #local = new Map<string, LocalWindow>();
	readonly #membership: RedisMembership;
	#processes: number;
	#fallback = false;
	#everJoined = false;
	#localUntil = 0;
	#allowed = 0;
	#allowedLocally = 0;
	#refused = 0;
	#waited = 0;
	#closed = false;

	constructor(options: SharedRateLimitOptions) {
		const problems = redisPartProblems("SharedRateLimit", options, "name");
		checkPositiveInteger(problems, "requestsPerWindow", options.requestsPerWindow, false);
		checkPositiveInteger(problems, "tokensPerWindow", options.tokensPerWindow, false);
		checkPositiveInteger(problems, "windowMs", options.windowMs, false, 10);
		checkPositiveInteger(problems, "ttlMs", options.ttlMs, false, 100);
		checkPositiveInteger(problems, "commandTimeoutMs", options.commandTimeoutMs, false);
		checkPositiveInteger(problems, "expectedProcesses", options.expectedProcesses, false);
		if (options.requestsPerWindow === undefined && options.tokensPerWindow === undefined)
			problems.push({ path: "requestsPerWindow", message: "give requestsPerWindow, tokensPerWindow or both" });
		if (problems.length > 0) throw distributedConfigError(`SharedRateLimit(${JSON.stringify(options.name ?? "")})`, problems);
		this.name = options.name;
		this.requestsPerWindow = options.requestsPerWindow ?? 0;
		this.tokensPerWindow = options.tokensPerWindow ?? 0;
		this.windowMs = options.windowMs ?? 60_000;
		this.#ttlMs = options.ttlMs ?? 10_000;
		this.#commandTimeoutMs = options.commandTimeoutMs ?? 500;
		this.processId = options.processId ?? defaultProcessId();
		this.#prefix = `${options.keyPrefix ?? "lifeguard"}:rate:${options.name}`;
		this.#processes = options.expectedProcesses ?? Math.max(1, this.requestsPerWindow || this.tokensPerWindow);
		this.#membership = new RedisMembership(options.redis, `lifeguard-rate:${options.name}`, Math.floor(this.#ttlMs / 3), () => this.#join());
		void this.#membership.start();
	}

	/** Waits until `key` may make one call spending `tokens`; RATE_LIMITED at once when the wait would pass the deadline. */
	async take(key: string, options: TakeOptions = {}): Promise<RateAdmission> {
		const tokens = options.tokens ?? 0;
		const timeoutMs = options.timeoutMs ?? 30_000;
		const deadline = performance.now() + timeoutMs;
		let waited = false;
		for (;;) {
			if (options.signal?.aborted) throw new RequestAbortedError(options.signal.reason);
			const { wait, admission } = await this.#tryTake(key, tokens);
			if (admission !== undefined) {
				this.#allowed++;
				if (admission.source === "local") this.#allowedLocally++;
				if (waited) this.#waited++;
				return admission;
			}
			const remaining = deadline - performance.now();
			const kind = this.tokensPerWindow > 0 && tokens > 0 && (wait < 0 || this.requestsPerWindow === 0) ? "tokens" : "requests";
			if (wait < 0 || wait > remaining) {
				this.#refused++;
				throw new RateLimitedError(key, kind, wait < 0 ? Number.POSITIVE_INFINITY : wait, remaining);
			}
			waited = true;
			await pause(wait, options.signal);
		}
	}

	/** Adds tokens spent after the fact (the usage a response reported) without waiting. */
	async record(key: string, tokens: number): Promise<void> {
		if (!(tokens > 0)) return;
		const now = performance.now();
		this.#window(key).add(now, tokens);
		try {
			await this.#call(key, "record", tokens);
		} catch {
			// Counted locally; the fallback share covers it.
		}
	}

	get fallback(): boolean {
		return this.#fallback;
	}

	stats(): SharedRateLimitStats {
		return {
			name: this.name,
			processId: this.processId,
			fallback: this.#fallback,
			processes: this.#processes,
			allowed: this.#allowed,
			allowedLocally: this.#allowedLocally,
			refused: this.#refused,
			waited: this.#waited,
		};
	}

	async close(): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		await this.#membership.stop(this.#commandTimeoutMs);
	}

	async [Symbol.asyncDispose](): Promise<void> {
		await this.close();
	}

	#window(key: string): LocalWindow {
		let w = this.#local.get(key);
		if (w === undefined) {
			w = new LocalWindow(this.windowMs);
			this.#local.set(key, w);
		}
		return w;
	}

	/** The admission when taken; otherwise the wait in ms, -1 when it can never fit. */
	async #tryTake(key: string, tokens: number): Promise<{ wait: number; admission?: RateAdmission }> {
		const now = performance.now();
		const local = this.#window(key);
		const share = (limit: number) => (limit === 0 ? 0 : Math.max(1, Math.floor(limit / Math.max(1, this.#processes))));
		const localWait = () => local.waitFor(performance.now(), share(this.requestsPerWindow), share(this.tokensPerWindow), tokens);
		let reply: number[];
		try {
			// While Redis may not know what was spent during an outage, the local share must allow it too.
			if (now < this.#localUntil) {
				const w = localWait();
				if (w !== 0) return { wait: w };
			}
			reply = await this.#call(key, "take", tokens);
		} catch {
			const w = localWait();
			if (w !== 0) return { wait: w };
			local.add(performance.now(), tokens);
			return { wait: 0, admission: { source: "local", redisTimeMs: undefined } };
		}
		const [allowed, retry, , , , redisTimeMs] = reply as [number, number, number, number, number, number];
		if (allowed === 1) {
			local.add(performance.now(), tokens);
			return { wait: 0, admission: { source: "redis", redisTimeMs } };
		}
		return { wait: retry < 0 ? -1 : Math.max(1, retry) };
	}

	/** Joins, or renews this process's membership (every third of the TTL). */
	async #join(): Promise<void> {
		try {
			await this.#call("", "join", 0);
		} catch {
			// #call has entered fallback; the next take sees it.
		}
	}

	async #call(key: string, mode: "take" | "record" | "join", tokens: number): Promise<number[]> {
		// Started in the constructor.
		const handle = await (this.#membership.handle as Promise<RedisHandle>);
		const keys = [`${this.#prefix}:{${key}}:requests`, `${this.#prefix}:{${key}}:tokens`, `${this.#prefix}:members`];
		try {
			const reply = (await bounded(
				handle.redis.eval(RATE_LUA, 3, ...keys, this.windowMs, this.requestsPerWindow, this.tokensPerWindow, tokens, this.processId, this.#ttlMs, mode),
				this.#commandTimeoutMs,
			)) as number[];
			if (this.#fallback || !this.#everJoined) {
				// Back (or first contact): what this process spent locally is unknown to Redis for one window.
				if (this.#fallback) this.#localUntil = performance.now() + this.windowMs;
				this.#fallback = false;
			}
			this.#everJoined = true;
			const processes = Number(reply[4]);
			this.#processes = performance.now() < this.#localUntil ? Math.max(this.#processes, processes) : processes;
			return reply.map(Number);
		} catch (error) {
			this.#fallback = true;
			throw error;
		}
	}
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
	return new Promise((resolve, reject) => {
		const timer = setTimeout(done, ms);
		function done() {
			signal?.removeEventListener("abort", onAbort);
			resolve();
		}
		function onAbort() {
			clearTimeout(timer);
			reject(new RequestAbortedError(signal?.reason));
		}
		signal?.addEventListener("abort", onAbort, { once: true });
	});
}

export function createSharedRateLimit(options: SharedRateLimitOptions): SharedRateLimit {
	return new SharedRateLimit(options);
}
