import { EventEmitter } from "node:events";
import { performance } from "node:perf_hooks";
import { PoolEvent, type PoolEventName, type PoolEvents } from "../core/events.ts";
import { KeyedPool } from "../core/keyed-pool.ts";
import type { PoolOptions } from "../core/options.ts";
import { type CloseOptions, closeTimeout, createPool, Pool } from "../core/pool.ts";
import type { PoolStats } from "../core/stats.ts";
import type { ManagedClient, PoolView } from "./client.ts";
import { RecentErrorRate } from "./error-rate.ts";
import { ManagerClosedError, PoolExistsError, PoolNotFoundError } from "./errors.ts";
import {
	assessBreakers,
	assessPool,
	type ClientHealthReport,
	errorCounts,
	type HealthReport,
	HealthStatus,
	type PoolHealthReport,
	worstStatus,
} from "./health.ts";
import { type Manageable, poolId, toManagedClient } from "./views.ts";

/** The manager's own events, plus every pool event re-emitted (its payload names the pool). */
export interface ManagerEvents extends PoolEvents {
	poolAdded: [{ pool: string }];
	poolRemoved: [{ pool: string }];
	/** A shutdown signal arrived: every pool is being closed. */
	shutdown: [{ signal: NodeJS.Signals }];
	/** Shutdown began (readiness fails from now on); clients close next. */
	shuttingDown: [{}];
}

export interface SignalOptions {
	/** Which signals close the pools. Default SIGTERM and SIGINT. */
	signals?: NodeJS.Signals[];
	/** How long leases may finish before their connections are destroyed. Default 10 000 ms. */
	timeoutMs?: number;
}

export interface PoolManagerOptions {
	/**
	 * Close every pool on SIGTERM / SIGINT, then let the signal do what it would have done
	 * (terminate the process, or reach the application's own handlers). `true` or the details.
	 * Default false.
	 */
	closeOnSignals?: boolean | SignalOptions;
}

const DEFAULT_SIGNALS: NodeJS.Signals[] = ["SIGTERM", "SIGINT"];
const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;
const POOL_EVENTS = new Set<string>(Object.values(PoolEvent));

interface Entry {
	/** What was added: a Pool, a KeyedPool or a ManagedClient. */
	readonly added: Manageable;
	readonly client: ManagedClient;
	/** The event sources the manager's forwarders are attached to. */
	readonly attached: Set<PoolView>;
	/** A keyed pool forwards the events of keys opened later itself. */
	readonly keyed: KeyedPool<unknown, unknown> | undefined;
	readonly errorRates: Map<string, RecentErrorRate>;
	/** Health assessments of each pool (by label) so far, by result. */
	readonly checks: Map<string, HealthCheckCounts>;
}

/** How many health assessments of a pool ended in each result (pass / warn / fail: healthy / degraded / unhealthy). */
export interface HealthCheckCounts {
	pass: number;
	warn: number;
	fail: number;
}

const CHECK_RESULT = { healthy: "pass", degraded: "warn", unhealthy: "fail" } as const;

/** One pool of one client, flattened for reports and metrics. */
export interface ManagedPool {
	/** `orders` for a bare pool, `<client>/<label>` otherwise (`db/primary`). */
	readonly id: string;
	readonly label: string;
	readonly client: ManagedClient;
	readonly pool: PoolView;
}

/** Whether the process should get traffic: `/health/ready` serves this. */
export interface Readiness {
	ready: boolean;
	/** Why not, one line each. */
	reasons: string[];
}

/**
 * Named clients in one place: core pools, keyed pools and every client an adapter returns (SQL,
 * Redis, HTTP...). Look them up by name, read every pool's statistics and health together, hear
 * their events in one place, and close them all at once (on demand or on a shutdown signal).
 * Pool events are re-emitted on the manager, only for events someone listens to.
 */
export class PoolManager extends EventEmitter<ManagerEvents> {
	readonly #entries = new Map<string, Entry>();
	/** Pool events the manager forwards, each with its one forwarding listener. */
	readonly #forwarders = new Map<PoolEventName, (payload: unknown) => void>();
	#signalHandler: ((signal: NodeJS.Signals) => void) | undefined;
	#signals: NodeJS.Signals[] = [];
	#closing: Promise<void> | undefined;
	#shuttingDown = false;

	constructor(options?: PoolManagerOptions) {
		super({ captureRejections: false });
		const untyped = this as EventEmitter;
		untyped.on("newListener", (event: string) => {
			if (POOL_EVENTS.has(event)) this.#forward(event as PoolEventName);
		});
		untyped.on("removeListener", (event: string) => {
			if (POOL_EVENTS.has(event) && untyped.listenerCount(event) === 0) this.#unforward(event as PoolEventName);
		});
		const signals = options?.closeOnSignals;
		if (signals) this.closeOnSignals(signals === true ? undefined : signals);
	}

	/** Creates a pool named `name` and manages it. Throws POOL_EXISTS if the name is taken. */
	create<T>(name: string, options: Omit<PoolOptions<T>, "name">): Pool<T> {
		this.#checkAddable(name);
		const pool = createPool<T>({ ...options, name });
		this.#adopt(pool as Pool<unknown>);
		return pool;
	}

	/**
	 * Manages a core `Pool`, a `KeyedPool` or any `ManagedClient` (the SQL, Redis, HTTP... clients
	 * the adapters return) under its own name, and returns it. Throws POOL_EXISTS if the name is taken.
	 */
	add<T>(pool: Pool<T>): Pool<T>;
	add<K, T>(pool: KeyedPool<K, T>): KeyedPool<K, T>;
	add<C extends ManagedClient>(client: C): C;
	add(client: Manageable): Manageable {
		const view = toManagedClient(client);
		this.#checkAddable(view.name);
		this.#adopt(client, view);
		return client;
	}

	/**
	 * The pool named `name` (what `create()` returned or `add()` was given). Throws POOL_NOT_FOUND,
	 * listing the names it knows, otherwise; for other clients use `client(name)`.
	 */
	get<T = unknown>(name: string): Pool<T> {
		const entry = this.#entries.get(name);
		if (entry === undefined) throw new PoolNotFoundError(name, this.list());
		if (!(entry.added instanceof Pool)) throw new PoolNotFoundError(name, this.list(), entry.client.kind);
		return entry.added as Pool<T>;
	}

	/** The client named `name` exactly as it was added (a Pool, KeyedPool, SqlClient...). Throws POOL_NOT_FOUND otherwise. */
	client<C = ManagedClient>(name: string): C {
		const entry = this.#entries.get(name);
		if (entry === undefined) throw new PoolNotFoundError(name, this.list());
		return entry.added as C;
	}

	has(name: string): boolean {
		return this.#entries.has(name);
	}

	/** Stops managing the client named `name` and closes it. Throws POOL_NOT_FOUND for an unknown name. */
	async remove(name: string, options?: CloseOptions): Promise<void> {
		const entry = this.#entries.get(name);
		if (entry === undefined) throw new PoolNotFoundError(name, this.list());
		closeTimeout(`manager: remove("${name}")`, options);
		this.#entries.delete(name);
		this.emit("poolRemoved", { pool: name });
		try {
			await entry.client.close(options);
		} finally {
			this.#detach(entry);
		}
	}

	/** Names of the managed clients, in the order they were added. */
	list(): string[] {
		return [...this.#entries.keys()];
	}

	/** Every managed client as a `ManagedClient` (core and keyed pools through their views), in the order they were added. */
	clients(): ManagedClient[] {
		return [...this.#entries.values()].map((e) => e.client);
	}

	/** Every pool of every client, in the order the clients were added. */
	pools(): PoolView[] {
		return this.managedPools().map((p) => p.pool);
	}

	/** Every pool of every client with its id, label and client: what metrics and the admin API walk. */
	managedPools(): ManagedPool[] {
		const all: ManagedPool[] = [];
		for (const entry of this.#entries.values()) {
			for (const { label, pool } of entry.client.pools()) {
				this.#attach(entry, pool);
				all.push({ id: poolId(entry.client, label), label, client: entry.client, pool });
			}
		}
		return all;
	}

	/** Every pool's statistics, keyed by pool id (`orders`, `db/primary`, `db/replica[0]`). */
	stats(): Record<string, PoolStats> {
		const all: Record<string, PoolStats> = {};
		for (const { id, pool } of this.managedPools()) all[id] = pool.stats();
		return all;
	}

	/** Starts a new statistics window in every pool (exported counters keep counting). */
	resetStats(): void {
		for (const pool of this.pools()) pool.resetStats();
	}

	/** Starts every client (warms `min`); resolves when all are ready. */
	async start(): Promise<void> {
		await Promise.all(this.clients().map((client) => client.start()));
	}

	/**
	 * Health of every client and pool, and overall: the worst status of the pools and breakers
	 * (healthy when there are none), each with its reasons. See ./health.ts for the thresholds.
	 * A pool's error rate covers roughly the last minute.
	 */
	health(): HealthReport {
		const clients: Record<string, ClientHealthReport> = {};
		const pools: Record<string, PoolHealthReport> = {};
		const reasons: string[] = [];
		let errors = 0;
		let operations = 0;
		const now = performance.now();
		for (const entry of this.#entries.values()) {
			const client = entry.client;
			const report: ClientHealthReport = { name: client.name, kind: client.kind, status: HealthStatus.healthy, reasons: [], pools: {}, breakers: [] };
			const statuses: HealthStatus[] = [];
			for (const { label, pool } of client.pools()) {
				this.#attach(entry, pool);
				const id = poolId(client, label);
				const stats = pool.stats();
				let rate = entry.errorRates.get(label);
				if (rate === undefined) entry.errorRates.set(label, (rate = new RecentErrorRate()));
				const assessed = assessPool(stats, rate.read(stats, now));
				let checks = entry.checks.get(label);
				if (checks === undefined) entry.checks.set(label, (checks = { pass: 0, warn: 0, fail: 0 }));
				checks[CHECK_RESULT[assessed.status]]++;
				const counts = errorCounts(stats);
				errors += counts.errors;
				operations += counts.operations;
				pools[id] = assessed;
				report.pools[label] = { ...assessed, id };
				statuses.push(assessed.status);
				for (const reason of assessed.reasons) report.reasons.push(label === client.name ? reason : `${label}: ${reason}`);
			}
			report.breakers = client.breakers?.() ?? [];
			const breakers = assessBreakers(report.breakers);
			statuses.push(breakers.status);
			report.reasons.push(...breakers.reasons);
			report.status = worstStatus(statuses);
			if (report.status !== HealthStatus.healthy) for (const reason of report.reasons) reasons.push(`${client.name}: ${reason}`);
			clients[client.name] = report;
		}
		const status = worstStatus(Object.values(clients).map((c) => c.status));
		const errorRate = operations === 0 ? 0 : Math.min(1, errors / operations);
		return { status, reasons, errorRate, shuttingDown: this.#shuttingDown, clients, pools };
	}

	/** Health assessments (`health()` calls) of every pool so far by result, keyed by pool id; counters, they never go down. */
	healthChecks(): Record<string, HealthCheckCounts> {
		const all: Record<string, HealthCheckCounts> = {};
		for (const entry of this.#entries.values()) {
			for (const [label, counts] of entry.checks) all[poolId(entry.client, label)] = { ...counts };
		}
		return all;
	}

	/**
	 * Whether the process should get traffic: not while shutting down, nor while a pool is
	 * below its `min` or closed. Touches no backend.
	 */
	readiness(): Readiness {
		const reasons: string[] = [];
		if (this.#shuttingDown) reasons.push("shutting down");
		for (const { id, pool } of this.managedPools()) {
			const stats = pool.stats();
			if (stats.state !== "open") reasons.push(`${id}: pool is ${stats.state}`);
			else if (stats.total < stats.min) reasons.push(`${id}: ${stats.total} of min ${stats.min} connections open`);
		}
		return { ready: reasons.length === 0, reasons };
	}

	/** True from the moment shutdown begins (`beginShutdown()`, `close()`, a signal). */
	get shuttingDown(): boolean {
		return this.#shuttingDown;
	}

	/**
	 * Marks the manager as shutting down without closing anything yet: readiness fails from now
	 * on, so a load balancer stops sending traffic while work in flight continues. Idempotent.
	 */
	beginShutdown(): void {
		if (this.#shuttingDown) return;
		this.#shuttingDown = true;
		this.emit("shuttingDown", {});
	}

	/**
	 * Closes every client in parallel under one deadline: leases may finish until `timeoutMs`,
	 * then their connections are destroyed. The manager takes no new clients afterwards. Idempotent.
	 */
	close(options?: CloseOptions): Promise<void> {
		try {
			// Checked before any client starts closing: each client's own refusal would be lost in allSettled.
			closeTimeout("manager: close", options);
		} catch (error) {
			return Promise.reject(error);
		}
		if (this.#closing === undefined) {
			// Assigned before any client starts closing: a close() from a listener during this one gets the same promise.
			let done: () => void = () => {};
			this.#closing = new Promise<void>((resolve) => (done = resolve));
			this.beginShutdown();
			this.#stopHandlingSignals();
			// Clients that guard the others' resources (closesLast: a shared budget) close once those have drained.
			const clients = this.clients();
			const last = clients.filter((client) => isClosingLast(client));
			void Promise.allSettled(clients.filter((client) => !isClosingLast(client)).map((client) => client.close(options)))
				.then(() => Promise.allSettled(last.map((client) => client.close(options))))
				.finally(done);
		}
		return this.#closing;
	}

	get closed(): boolean {
		return this.#closing !== undefined;
	}

	/**
	 * On the first of `signals`, closes every client (leases get `timeoutMs`), then re-raises the
	 * signal so it does what it would have done without the manager: terminate the process, or
	 * reach the application's own handlers if it has any. A second signal during the close hits
	 * the default behaviour at once. Calling it again replaces the previous settings.
	 * For the full sequence (not-ready first, servers drained, exit) see `installShutdown()`.
	 */
	closeOnSignals(options?: SignalOptions): this {
		this.#stopHandlingSignals();
		const timeoutMs = options?.timeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
		this.#signals = options?.signals ?? DEFAULT_SIGNALS;
		const handler = (signal: NodeJS.Signals) => {
			this.#stopHandlingSignals();
			this.emit("shutdown", { signal });
			const reraise = () => {
				// Someone else handles this signal: they decide what it does; raising it again would run their handler twice.
				if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
			};
			this.close({ timeoutMs }).then(reraise, reraise);
		};
		this.#signalHandler = handler;
		for (const signal of this.#signals) process.on(signal, handler);
		return this;
	}

	async [Symbol.asyncDispose](): Promise<void> {
		await this.close();
	}

	#stopHandlingSignals(): void {
		const handler = this.#signalHandler;
		if (handler === undefined) return;
		for (const signal of this.#signals) process.off(signal, handler);
		this.#signalHandler = undefined;
	}

	#checkAddable(name: string): void {
		if (this.#closing !== undefined) throw new ManagerClosedError(name);
		if (this.#entries.has(name)) throw new PoolExistsError(name);
	}

	#adopt(added: Manageable, client = toManagedClient(added)): void {
		const keyed = added instanceof KeyedPool ? added : undefined;
		const entry: Entry = { added, client, attached: new Set(), keyed, errorRates: new Map(), checks: new Map() };
		this.#entries.set(client.name, entry);
		if (keyed !== undefined) {
			for (const [event, forward] of this.#forwarders) keyed.on(event, forward as never);
		} else {
			for (const { pool } of client.pools()) this.#attach(entry, pool);
		}
		this.emit("poolAdded", { pool: client.name });
	}

	/** Attaches the current forwarders to a pool seen for the first time (clients open pools later: new origins, keys). */
	#attach(entry: Entry, pool: PoolView): void {
		if (entry.keyed !== undefined || entry.attached.has(pool) || typeof pool.on !== "function") return;
		entry.attached.add(pool);
		for (const [event, forward] of this.#forwarders) pool.on(event, forward);
	}

	#detach(entry: Entry): void {
		for (const [event, forward] of this.#forwarders) {
			if (entry.keyed !== undefined) entry.keyed.off(event, forward as never);
			for (const pool of entry.attached) pool.off?.(event, forward);
		}
	}

	/** Starts re-emitting `event` from every pool; pools build event payloads only while someone listens. */
	#forward(event: PoolEventName): void {
		if (this.#forwarders.has(event)) return;
		const forward = (payload: unknown) => (this as EventEmitter).emit(event, payload);
		this.#forwarders.set(event, forward);
		for (const entry of this.#entries.values()) {
			if (entry.keyed !== undefined) entry.keyed.on(event, forward as never);
			for (const pool of entry.attached) pool.on?.(event, forward);
		}
	}

	#unforward(event: PoolEventName): void {
		const forward = this.#forwarders.get(event);
		if (forward === undefined) return;
		this.#forwarders.delete(event);
		for (const entry of this.#entries.values()) {
			if (entry.keyed !== undefined) entry.keyed.off(event, forward as never);
			for (const pool of entry.attached) pool.off?.(event, forward);
		}
	}
}

let processManager: PoolManager | undefined;

/** The process-wide manager, created on first use (without signal handling; call `closeOnSignals()` on it to add it). */
export function defaultManager(): PoolManager {
	processManager ??= new PoolManager();
	return processManager;
}

function isClosingLast(client: Manageable): boolean {
	return (client as { closesLast?: unknown }).closesLast === true;
}
