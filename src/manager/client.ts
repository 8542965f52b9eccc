import type { PoolEvents } from "../core/events.ts";
import type { CloseOptions, Pool } from "../core/pool.ts";

/**
 * The kinds of client the adapters hand out. Metrics label every pool with its client's kind;
 * a user's own client may name any other kind.
 */
export const ClientKind = {
	pool: "pool",
	keyed: "keyed",
	postgres: "postgres",
	mysql: "mysql",
	sqlite: "sqlite",
	redis: "redis",
	http: "http",
	llm: "llm",
	comfyui: "comfyui",
	websocket: "websocket",
	mongodb: "mongodb",
	firestore: "firestore",
} as const;
export type ClientKind = (typeof ClientKind)[keyof typeof ClientKind] | (string & {});

/**
 * What the manager, metrics, health endpoints and the service read of one pool: a core `Pool` is one.
 * `on`/`off` are optional: when present (a core `Pool` has them) the manager forwards the pool's
 * events and the logger and metrics subscribe to them.
 */
export type PoolView = Pick<Pool<unknown>, "stats" | "resetStats" | "clear"> & {
	on?<E extends keyof PoolEvents>(event: E, listener: (...args: PoolEvents[E]) => void): unknown;
	off?<E extends keyof PoolEvents>(event: E, listener: (...args: PoolEvents[E]) => void): unknown;
};

/** One pool of a client, with its label inside the client: `primary`, `replica[0]`, an origin, an instance. */
export interface ClientPool {
	readonly label: string;
	readonly pool: PoolView;
}

/** A circuit breaker's state as reported by clients that have them (HTTP origins, LLM deployments, ComfyUI instances). */
export interface BreakerView {
	/** What the breaker guards: an origin, a deployment, an instance. */
	readonly label: string;
	readonly state: "closed" | "open" | "halfOpen";
	/** When an open breaker lets the next probe through (epoch ms), if open. */
	readonly retryAtMs?: number;
	readonly failures: number;
	readonly lastError?: string;
}

/**
 * The small interface every client an adapter returns implements, so the manager, metrics,
 * health endpoints, config loader, shutdown and the service treat them alike without knowing
 * their kind (the SQL client with its primary and replicas, the Redis client, an HTTP client
 * with a pool per origin, an LLM client, a ComfyUI pool, a WebSocket manager...).
 */
export interface ManagedClient {
	readonly name: string;
	readonly kind: ClientKind;
	/** The client's pools as they are now (a keyed client lists one per live key). */
	pools(): ClientPool[];
	/** Circuit breakers, for clients that have them. */
	breakers?(): BreakerView[];
	/** Kind-specific details for the admin API and dashboard (JSON-serialisable, no secrets). */
	details?(): Record<string, unknown>;
	/** Warms the client (opens `min` connections, prewarms origins); resolves when ready. */
	start(): Promise<void>;
	/** Stops taking work, lets work in flight finish until `timeoutMs`, then closes everything. */
	close(options?: CloseOptions): Promise<void>;
	/**
	 * The manager closes this client only after every other client's close has settled: it guards
	 * what they hold (a shared budget's slots must stay taken while their connections drain, or
	 * another process could open connections beyond the budget meanwhile).
	 */
	readonly closesLast?: boolean;
	[Symbol.asyncDispose](): Promise<void>;
}
