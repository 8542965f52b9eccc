/**
 * Connection ids for callers that cannot hold an object (workflow engines, HTTP clients). An id
 * names one lease, not a connection: 122 random bits (UUID v4), never reused, and worthless once
 * released. A lease not released within `leaseTimeoutMs` is reclaimed: its connection is closed
 * (never lent again, since the holder may still be using it) and the leak reported.
 */
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import type { Lease } from "../../core/lease.ts";
import type { Pool } from "../../core/pool.ts";
import { ConnectionIdUnknownError } from "./errors.ts";
import type { ConnectionExecutor } from "./executor.ts";

/** Reclaimed ids remembered so that their errors can say so. Bounded: old ones become plain "unknown". */
const RECLAIMED_MEMORY = 1_000;

export interface IdLease<C> {
	readonly id: string;
	readonly lease: Lease<C>;
	readonly pool: Pool<C>;
	readonly executor: ConnectionExecutor<C>;
	readonly acquiredAt: number;
	timer: NodeJS.Timeout | undefined;
}

export class ConnectionIds<C> {
	readonly #open = new Map<string, IdLease<C>>();
	readonly #reclaimedIds = new Set<string>();
	readonly #leaseTimeoutMs: number;
	readonly #onReclaim: (entry: IdLease<C>) => void;
	reclaimed = 0;

	constructor(leaseTimeoutMs: number, onReclaim: (entry: IdLease<C>) => void) {
		this.#leaseTimeoutMs = leaseTimeoutMs;
		this.#onReclaim = onReclaim;
	}

	get size(): number {
		return this.#open.size;
	}

	add(lease: Lease<C>, pool: Pool<C>, executor: ConnectionExecutor<C>): string {
		const id = randomUUID();
		const entry: IdLease<C> = { id, lease, pool, executor, acquiredAt: performance.now(), timer: undefined };
		entry.timer = setTimeout(() => this.#reclaim(entry), this.#leaseTimeoutMs);
		entry.timer.unref();
		this.#open.set(id, entry);
		return id;
	}

	/** The open lease of `id`; throws CONNECTION_ID_UNKNOWN. */
	get(id: string): IdLease<C> {
		const entry = typeof id === "string" ? this.#open.get(id) : undefined;
		if (entry === undefined) throw this.#unknown(id);
		return entry;
	}

	/** Removes `id` (release): later uses of it are CONNECTION_ID_UNKNOWN. */
	take(id: string): IdLease<C> {
		const entry = this.get(id);
		clearTimeout(entry.timer);
		this.#open.delete(id);
		return entry;
	}

	/** Forgets every open id (the client is closing; the pools close their connections). */
	clear(): IdLease<C>[] {
		const entries = [...this.#open.values()];
		for (const entry of entries) clearTimeout(entry.timer);
		this.#open.clear();
		return entries;
	}

	#reclaim(entry: IdLease<C>): void {
		if (this.#open.get(entry.id) !== entry) return;
		this.#open.delete(entry.id);
		this.reclaimed++;
		this.#reclaimedIds.add(entry.id);
		if (this.#reclaimedIds.size > RECLAIMED_MEMORY) this.#reclaimedIds.delete(this.#reclaimedIds.values().next().value as string);
		this.#onReclaim(entry);
	}

	#unknown(id: string): ConnectionIdUnknownError {
		return new ConnectionIdUnknownError(id, this.#reclaimedIds.has(id) ? "reclaimed" : "unknown", this.#leaseTimeoutMs);
	}
}
