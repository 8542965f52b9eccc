/**
 * What the Firestore client did, by operation kind: counts, failures, latency histograms,
 * failures by gRPC status, and operations in flight. The channel pool's own statistics (core
 * `PoolStats`) say how many channels are open; these say what went through them.
 */
import { Histogram, type HistogramSummary } from "../../core/histogram.ts";

export const FirestoreOperation = {
	get: "get",
	query: "query",
	write: "write",
	batch: "batch",
	transaction: "transaction",
	health: "health",
	/** Driver code run through `withFirestore`. */
	custom: "custom",
} as const;
export type FirestoreOperation = (typeof FirestoreOperation)[keyof typeof FirestoreOperation];

export interface OperationKindStats {
	ok: number;
	failed: number;
	/** Milliseconds, each operation from the call to its result, waiting for a channel included. */
	latencyMs: HistogramSummary;
}

export interface FirestoreOperationStats {
	byKind: Record<FirestoreOperation, OperationKindStats>;
	/** Failures by gRPC status name (`UNAVAILABLE`, `ABORTED`, `DEADLINE_EXCEEDED` for a missed deadline, …). */
	errorsByStatus: Record<string, number>;
	inFlight: number;
}

interface KindCounters {
	ok: number;
	failed: number;
	readonly latency: Histogram;
}

export class OperationStats {
	readonly #kinds = new Map<FirestoreOperation, KindCounters>(
		Object.values(FirestoreOperation).map((kind) => [kind, { ok: 0, failed: 0, latency: new Histogram() }]),
	);
	readonly #errors: Record<string, number> = {};
	inFlight = 0;

	/** One finished operation; `status` is the gRPC status name when it failed. */
	record(kind: FirestoreOperation, ms: number, status: string | undefined): void {
		const counters = this.#kinds.get(kind) as KindCounters;
		counters.latency.record(ms);
		if (status === undefined) counters.ok++;
		else {
			counters.failed++;
			this.#errors[status] = (this.#errors[status] ?? 0) + 1;
		}
	}

	snapshot(): FirestoreOperationStats {
		const byKind = {} as Record<FirestoreOperation, OperationKindStats>;
		for (const [kind, c] of this.#kinds) byKind[kind] = { ok: c.ok, failed: c.failed, latencyMs: c.latency.summary() };
		return { byKind, errorsByStatus: { ...this.#errors }, inFlight: this.inFlight };
	}

	/** Starts a new latency window; counts are cumulative. */
	resetWindow(): void {
		for (const c of this.#kinds.values()) c.latency.reset();
	}
}
