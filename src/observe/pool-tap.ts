import type { PoolEventName, PoolEvents } from "../core/events.ts";
import type { PoolView } from "../manager/client.ts";
import type { ManagedPool, PoolManager } from "../manager/manager.ts";

/** Listeners for pool events, each told which managed pool (id, label, client) the event came from. */
export type PoolTapHandlers = { [E in PoolEventName]?: (pool: ManagedPool, payload: PoolEvents[E][0]) => void };

interface Attached {
	readonly pool: ManagedPool;
	readonly listeners: [PoolEventName, (payload: never) => void][];
}

/**
 * Subscribes to the events of every pool of every client in a manager, knowing for each event
 * which managed pool sent it (pool names alone can repeat across clients). Pools are picked up
 * when a client is added and at every `sync()` (metrics call it on scrape: an HTTP client opens
 * a pool per origin as it goes); pools that left the manager are detached there, after their
 * last events (a removed client's closing connections) were heard.
 */
export class PoolTap {
	readonly #manager: PoolManager;
	readonly #handlers: PoolTapHandlers;
	readonly #attached = new Map<PoolView, Attached>();
	readonly #onAdded = () => this.sync();

	constructor(manager: PoolManager, handlers: PoolTapHandlers) {
		this.#manager = manager;
		this.#handlers = handlers;
		manager.on("poolAdded", this.#onAdded);
		this.sync();
	}

	/** Attaches to pools not seen yet and detaches from pools no longer managed; returns the managed pools. */
	sync(): ManagedPool[] {
		const pools = this.#manager.managedPools();
		const seen = new Set<PoolView>();
		for (const managed of pools) {
			seen.add(managed.pool);
			if (!this.#attached.has(managed.pool)) this.#attach(managed);
		}
		for (const [view, attached] of this.#attached) if (!seen.has(view)) this.#detach(view, attached);
		return pools;
	}

	/** Stops listening to every pool and to the manager. */
	dispose(): void {
		this.#manager.off("poolAdded", this.#onAdded);
		for (const [view, attached] of this.#attached) this.#detach(view, attached);
	}

	#attach(managed: ManagedPool): void {
		const view = managed.pool;
		const listeners: Attached["listeners"] = [];
		if (typeof view.on === "function") {
			for (const [event, handler] of Object.entries(this.#handlers) as [PoolEventName, (pool: ManagedPool, payload: unknown) => void][]) {
				const listener = (payload: unknown) => handler(managed, payload);
				view.on(event, listener);
				listeners.push([event, listener]);
			}
		}
		this.#attached.set(view, { pool: managed, listeners });
	}

	#detach(view: PoolView, attached: Attached): void {
		for (const [event, listener] of attached.listeners) view.off?.(event, listener as never);
		this.#attached.delete(view);
	}
}
