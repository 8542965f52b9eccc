/**
 * A ComfyUI instance seen as a pool, so the manager, metrics and health endpoints read it like
 * any other: its job slots are the connections (active = jobs running there, max = its
 * concurrency), a successful probe is a created connection and a failed one a create failure,
 * failed health checks are failed validations, job durations are use times and queue waits
 * are wait times.
 */
import { closeCounts, type PoolStats } from "../../core/stats.ts";
import type { BreakerView, PoolView } from "../../manager/client.ts";
import { type ComfyInstance, InstanceState } from "./instance.ts";

/** Points lost per probe failure in a row while down. */
const SCORE_PER_FAILURE = 25;

export function instancePoolView(pool: string, instance: ComfyInstance): PoolView {
	return {
		stats: () => instancePoolStats(pool, instance),
		resetStats: () => {
			instance.jobMs.reset();
			instance.waitMs.reset();
			instance.probeMs.reset();
			// A new window starts its peak from what is held now, as the core pool's does.
			instance.peakBusy = instance.busy;
		},
		// Nothing to retire: slots hold no connection of their own. The socket is the instance's, and its health decides.
		clear: () => {},
	};
}

export function instancePoolStats(pool: string, instance: ComfyInstance): PoolStats {
	const s = instance.stats();
	const up = s.state === InstanceState.up;
	const healthScore = up
		? Math.max(0, 100 - 10 * s.cooldowns)
		: s.state === InstanceState.closed
			? 0
			: Math.max(0, 100 - SCORE_PER_FAILURE * Math.max(2, s.probeFailures));
	return {
		name: `${pool}[${instance.label}]`,
		state: s.state === InstanceState.closed ? "closed" : "open",
		generation: s.socketOpens,
		min: 0,
		max: s.concurrency,
		// A slot held while the instance is down is still held: total counts it, or active would exceed total.
		total: s.running,
		active: s.running,
		idle: 0,
		creating: s.state === InstanceState.probing ? 1 : 0,
		pending: 0,
		peak: { total: s.peakRunning, active: s.peakRunning, pending: 0 },
		created: s.socketOpens,
		createFailures: s.healthFailures,
		destroyed: Math.max(0, s.socketOpens - (up ? 1 : 0)),
		destroyedByReason: closeCounts({ error: Math.max(0, s.socketOpens - (up ? 1 : 0)) }),
		validationFailures: s.healthFailures,
		acquires: { ok: s.dispatched, failed: 0, timeouts: 0, aborted: 0, queueFull: 0, closed: 0 },
		leaks: 0,
		waitMs: instance.waitMs.summary(),
		useMs: s.jobMs,
		createMs: instance.probeMs.summary(),
		reuseRatio: 0,
		utilization: s.concurrency === 0 ? 0 : s.running / s.concurrency,
		healthScore,
		lastCreateError: s.lastError,
	};
}

export function instanceBreaker(instance: ComfyInstance): BreakerView {
	const s = instance.stats();
	const state = s.state === InstanceState.up ? "closed" : s.state === InstanceState.probing ? "halfOpen" : "open";
	return { label: instance.label, state, retryAtMs: s.retryAtMs, failures: s.probeFailures, lastError: s.lastError };
}
