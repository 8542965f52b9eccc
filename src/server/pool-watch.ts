/**
 * What the dashboard shows over time: a sample of every pool each second (connections by state,
 * wait p50/p99, utilization, health score, errors), kept for five minutes, and each pool's recent
 * events. Pools that can be listened to (core pools) are; only low-rate events are taken (never
 * `acquired`/`released`, which would make the pool time every lease).
 */
import { LifeguardError } from "../core/errors.ts";
import type { PoolStats } from "../core/stats.ts";
import type { PoolView } from "../manager/client.ts";
import type { ServedClients } from "./served-clients.ts";

export interface PoolSample {
	active: number;
	idle: number;
	creating: number;
	pending: number;
	waitP50Ms: number;
	waitP99Ms: number;
	utilization: number;
	healthScore: number;
	/** Failed acquires and failed creates so far (cumulative). */
	errors: number;
}

export interface WatchedEvent {
	at: string;
	event: string;
	connectionId?: number;
	reason?: string;
	durationMs?: number;
	message?: string;
}

const WATCHED_EVENTS = ["connectionCreated", "connectionReady", "connectionClosed", "poolCleared", "acquireFailed", "leakDetected"] as const;
const EVENTS_KEPT = 100;

type Listenable = { on(event: string, listener: (payload: Record<string, unknown>) => void): unknown };

export class PoolWatch {
	readonly #served: ServedClients;
	readonly #everyMs: number;
	readonly #keep: number;
	readonly #times: number[] = [];
	readonly #samples = new Map<string, PoolSample[]>();
	readonly #events = new Map<string, WatchedEvent[]>();
	readonly #listened = new WeakSet<object>();
	#timer: NodeJS.Timeout | undefined;

	constructor(served: ServedClients, options?: { everyMs?: number; keep?: number }) {
		this.#served = served;
		this.#everyMs = options?.everyMs ?? 1_000;
		this.#keep = options?.keep ?? 300;
	}

	start(): void {
		if (this.#timer !== undefined) return;
		this.sample();
		this.#timer = setInterval(() => this.sample(), this.#everyMs);
		this.#timer.unref();
	}

	stop(): void {
		clearInterval(this.#timer);
		this.#timer = undefined;
	}

	/** Takes one sample of every pool now. */
	sample(): void {
		const at = Date.now();
		const index = this.#times.length;
		this.#times.push(at);
		for (const { id: name, pool } of this.#served.pools()) {
			this.#listen(name, pool);
			let series = this.#samples.get(name);
			if (series === undefined) this.#samples.set(name, (series = []));
			// A pool that appeared later has holes before it: null-free series are what uPlot wants, so earlier points repeat its first.
			const sample = sampleOf(pool.stats());
			while (series.length < index) series.push(sample);
			series.push(sample);
		}
		if (this.#times.length > this.#keep) {
			this.#times.shift();
			for (const series of this.#samples.values()) if (series.length > this.#times.length) series.shift();
		}
	}

	/** Sample times (epoch ms) and each pool's samples, aligned with them. */
	history(): { times: number[]; pools: Record<string, PoolSample[]> } {
		return { times: [...this.#times], pools: Object.fromEntries([...this.#samples].map(([name, s]) => [name, [...s]])) };
	}

	events(pool: string): WatchedEvent[] {
		return [...(this.#events.get(pool) ?? [])];
	}

	#listen(name: string, view: PoolView): void {
		const pool = view as unknown as Partial<Listenable>;
		if (typeof pool.on !== "function" || this.#listened.has(view)) return;
		this.#listened.add(view);
		const log: WatchedEvent[] = [];
		this.#events.set(name, log);
		for (const event of WATCHED_EVENTS) {
			pool.on.call(view, event, (payload) => {
				const error = payload.error as Error | undefined;
				log.push({
					at: new Date().toISOString(),
					event,
					...(typeof payload.connectionId === "number" ? { connectionId: payload.connectionId } : {}),
					...(typeof payload.reason === "string" ? { reason: payload.reason } : {}),
					...(typeof payload.durationMs === "number" ? { durationMs: Math.round(payload.durationMs * 10) / 10 } : {}),
					// lifeguard's messages never hold secrets; a driver's might, so only the name of anything else.
					...(error === undefined ? {} : { message: error instanceof LifeguardError ? error.message : error.name }),
				});
				if (log.length > EVENTS_KEPT) log.shift();
			});
		}
	}
}

function sampleOf(s: PoolStats): PoolSample {
	return {
		active: s.active,
		idle: s.idle,
		creating: s.creating,
		pending: s.pending,
		waitP50Ms: s.waitMs.p50,
		waitP99Ms: s.waitMs.p99,
		utilization: s.utilization,
		healthScore: s.healthScore,
		errors: s.acquires.failed + s.createFailures,
	};
}
