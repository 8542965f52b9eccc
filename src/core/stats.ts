import { CloseReason } from "./events.ts";
import { Histogram, type HistogramSummary } from "./histogram.ts";

/** One pool's statistics at a moment. Counters are cumulative; histograms and peaks cover the window since `resetStats()`. */
export interface PoolStats {
	name: string;
	state: "open" | "closing" | "closed";
	generation: number;
	min: number;
	max: number;
	/** Connections open or being opened: active + idle + creating + pool-internal work (validation, reset). */
	total: number;
	active: number;
	idle: number;
	creating: number;
	pending: number;
	peak: { total: number; active: number; pending: number };
	created: number;
	createFailures: number;
	destroyed: number;
	destroyedByReason: Record<CloseReason, number>;
	validationFailures: number;
	acquires: { ok: number; failed: number; timeouts: number; aborted: number; queueFull: number; closed: number };
	leaks: number;
	/**
	 * Durations in milliseconds. Every lease is timed while the pool serves fewer than 10 000
	 * acquires per second (always with `validate` or leak detection); above that, 1 acquire in N
	 * on average (N a power of two), because reading the clock costs as much as the acquire itself.
	 * `count` is the number of timed samples.
	 */
	waitMs: HistogramSummary;
	useMs: HistogramSummary;
	createMs: HistogramSummary;
	/** Share of successful acquires served by an existing connection rather than a new one (0-1). */
	reuseRatio: number;
	/** active / max (0-1). */
	utilization: number;
	/** Pool health 0-100. */
	healthScore: number;
	lastCreateError: string | undefined;
}

/** Connections closed by reason, every reason listed (in {@link CloseReason}'s order): 0 but for those given. */
export function closeCounts(given: Partial<Record<CloseReason, number>> = {}): Record<CloseReason, number> {
	const counts = {} as Record<CloseReason, number>;
	for (const reason of Object.values(CloseReason)) counts[reason] = given[reason] ?? 0;
	return counts;
}

/** The mutable counters behind PoolStats; the pool bumps these on its hot path. */
export class PoolCounters {
	created = 0;
	createFailures = 0;
	destroyed = 0;
	destroyedByReason = closeCounts();
	validationFailures = 0;
	acquiredOk = 0;
	/** Acquires served by a connection created for them (the rest reused an existing one). */
	lentFresh = 0;
	timeouts = 0;
	aborted = 0;
	queueFull = 0;
	closedRejects = 0;
	leaks = 0;
	peakTotal = 0;
	peakActive = 0;
	peakPending = 0;
	readonly wait = new Histogram();
	readonly use = new Histogram();
	readonly create = new Histogram();

	get acquireFailed(): number {
		return this.timeouts + this.aborted + this.queueFull + this.closedRejects;
	}

	/** Starts a new statistics window: histograms and peaks; cumulative counters are kept. */
	resetWindow(total: number, active: number, pending: number): void {
		this.wait.reset();
		this.use.reset();
		this.create.reset();
		this.peakTotal = total;
		this.peakActive = active;
		this.peakPending = pending;
	}
}

/** What only the pool knows at the moment of a snapshot; the rest comes from its counters. */
export type PoolGauges = Pick<
	PoolStats,
	"name" | "state" | "generation" | "min" | "max" | "total" | "active" | "idle" | "creating" | "pending" | "healthScore" | "lastCreateError"
>;

/** One pool's statistics: its gauges now, plus copies of its counters (a snapshot never changes after). */
export function statsSnapshot(gauges: PoolGauges, c: PoolCounters): PoolStats {
	const acquires = c.acquiredOk;
	return {
		...gauges,
		peak: { total: c.peakTotal, active: c.peakActive, pending: c.peakPending },
		created: c.created,
		createFailures: c.createFailures,
		destroyed: c.destroyed,
		destroyedByReason: { ...c.destroyedByReason },
		validationFailures: c.validationFailures,
		acquires: { ok: acquires, failed: c.acquireFailed, timeouts: c.timeouts, aborted: c.aborted, queueFull: c.queueFull, closed: c.closedRejects },
		leaks: c.leaks,
		waitMs: c.wait.summary(),
		useMs: c.use.summary(),
		createMs: c.create.summary(),
		reuseRatio: acquires === 0 ? 0 : (acquires - c.lentFresh) / acquires,
		// A max of 0 is a driver's "no limit" (MongoDB's maxPoolSize), never a core pool's.
		utilization: gauges.max === 0 ? 0 : gauges.active / gauges.max,
	};
}
