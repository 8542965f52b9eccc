import { EventEmitter } from "node:events";
import { messageOf } from "./errors.ts";

/**
 * An EventEmitter that knows, per event, whether anyone listens (`watching[event]`, a plain
 * property read), so that hot paths build a payload only for listeners; and whose `emitSafely`
 * turns a listener's throw into a process warning, so that a buggy listener cannot interrupt the
 * state change around the emit (a lost connection, an unsettled waiter). @internal
 */
export class WatchedEmitter<Events extends Record<keyof Events, unknown[]>> extends EventEmitter<Events> {
	/** Who listens, by event name; kept current by newListener/removeListener. */
	readonly watching: Record<keyof Events, boolean>;
	readonly #label: string;

	/** `events`: the names to watch; `label`: who emits, for the warning (e.g. `pool "orders"`). */
	constructor(events: readonly (keyof Events & string)[], label: string) {
		super({ captureRejections: false });
		this.watching = Object.fromEntries(events.map((e) => [e, false])) as Record<keyof Events, boolean>;
		this.#label = label;
		this.#watchListeners();
	}

	/** Also re-arms the bookkeeping of who listens, which this call would otherwise remove. */
	override removeAllListeners(event?: Parameters<EventEmitter<Events>["removeAllListeners"]>[0]): this {
		// Node tells "all events" from "the event named undefined" by the argument count.
		if (event === undefined) super.removeAllListeners();
		else super.removeAllListeners(event);
		if (event === undefined || event === "newListener" || event === "removeListener") this.#watchListeners();
		const untyped = this as EventEmitter;
		for (const name of Object.keys(this.watching)) this.watching[name as keyof Events] = untyped.listenerCount(name) > 0;
		this.watchChanged();
		return this;
	}

	/** Emits to the listeners; a listener's throw becomes a `LIFEGUARD_LISTENER_ERROR` warning. */
	emitSafely(event: keyof Events & string, ...payload: unknown[]): void {
		try {
			(this as EventEmitter).emit(event, ...payload);
		} catch (error) {
			process.emitWarning(`${this.#label}: a "${event}" listener threw: ${messageOf(error)}`, {
				code: "LIFEGUARD_LISTENER_ERROR",
				detail: error instanceof Error ? error.stack : undefined,
			});
		}
	}

	/** Called after `watching` changed; subclasses derive their own flags from it. */
	protected watchChanged(): void {}

	#watchListeners(): void {
		const untyped = this as EventEmitter;
		untyped.on("newListener", (event: string) => {
			if (!(event in this.watching)) return;
			this.watching[event as keyof Events] = true;
			this.watchChanged();
		});
		untyped.on("removeListener", (event: string) => {
			if (!(event in this.watching)) return;
			this.watching[event as keyof Events] = untyped.listenerCount(event) > 0;
			this.watchChanged();
		});
	}
}
