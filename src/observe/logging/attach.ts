import { messageOf } from "../../core/errors.ts";
import { CloseReason } from "../../core/events.ts";
import type { KeyedPool } from "../../core/keyed-pool.ts";
import { Pool } from "../../core/pool.ts";
import type { BreakerView, ManagedClient, PoolView } from "../../manager/client.ts";
import type { ManagedPool } from "../../manager/manager.ts";
import { PoolManager } from "../../manager/manager.ts";
import { PoolTap } from "../pool-tap.ts";
import { type Logger, loggerFromEnv } from "./logger.ts";

export interface AttachLoggerOptions {
	/** Where to log. Default: the JSON logger `LIFEGUARD_LOG_LEVEL` asks for, else nothing (quiet). */
	logger?: Logger;
	/** Log one stats line per pool this often (seed 001's "pool stats every 60 s"). Default 0: off. */
	statsIntervalMs?: number;
	/** How often breakers are checked for transitions and new pools (origins, keys) picked up. Default 1 000 ms. */
	pollMs?: number;
}

export interface LoggerHandle {
	/** True when something is logged (a logger was given or LIFEGUARD_LOG_LEVEL set). */
	readonly active: boolean;
	/** Stops logging: listeners and timers removed. */
	detach(): void;
}

const QUIET_CLOSE = new Set<string>([CloseReason.idle, CloseReason.lifetime, CloseReason.stale, CloseReason.poolClosed, CloseReason.destroyed]);

/**
 * Logs the life of every pool of a manager, a pool, a keyed pool or a client by subscribing
 * to their events (no option of theirs changes): connections opened and closed with their
 * reason (debug; warn for errors, unhealthy and leaked), failed creates with the backoff,
 * leaks with the borrower's stack, timed-out acquires, pools ready and closed, circuit-breaker
 * transitions, and opt-in periodic stats lines. Quiet unless a logger is given or
 * `LIFEGUARD_LOG_LEVEL` is set. Every string is redacted before it reaches the logger.
 */
export function attachLogger<K, T>(target: PoolManager | Pool<T> | KeyedPool<K, T> | ManagedClient, options: AttachLoggerOptions = {}): LoggerHandle {
	const logger = options.logger ?? loggerFromEnv();
	if (logger === undefined) return { active: false, detach: () => {} };
	let manager: PoolManager;
	if (target instanceof PoolManager) manager = target;
	else {
		manager = new PoolManager();
		manager.add(target as never);
	}
	const opened = new Map<PoolView, Set<number>>();
	const failures = new Map<PoolView, number>();
	const breakerStates = new Map<string, BreakerView["state"]>();
	const fields = (p: ManagedPool) => ({ pool: p.id, client: p.client.name, kind: p.client.kind });
	const openedOf = (p: ManagedPool) => {
		let set = opened.get(p.pool);
		if (set === undefined) opened.set(p.pool, (set = new Set()));
		return set;
	};

	const tap = new PoolTap(manager, {
		connectionReady: (p, e) => {
			openedOf(p).add(e.connectionId);
			failures.set(p.pool, 0);
			logger.debug({ ...fields(p), connectionId: e.connectionId, durationMs: round(e.durationMs) }, "connection opened");
		},
		connectionClosed: (p, e) => {
			const wasOpen = openedOf(p).delete(e.connectionId);
			const error = e.error === undefined ? undefined : messageOf(e.error);
			if (!wasOpen && e.reason === CloseReason.error) {
				const consecutive = (failures.get(p.pool) ?? 0) + 1;
				failures.set(p.pool, consecutive);
				logger.warn(
					{ ...fields(p), connectionId: e.connectionId, error, consecutiveFailures: consecutive, ...backoffOf(p.pool, consecutive) },
					"connection create failed",
				);
				checkBreakers();
				return;
			}
			const line = { ...fields(p), connectionId: e.connectionId, reason: e.reason, ...(error !== undefined ? { error } : {}) };
			if (QUIET_CLOSE.has(e.reason)) logger.debug(line, "connection closed");
			else logger.warn(line, "connection closed");
		},
		leakDetected: (p, e) =>
			logger.warn({ ...fields(p), connectionId: e.connectionId, heldMs: round(e.heldMs), stack: e.stack }, "connection leak: held past leakDetectionMs"),
		acquireFailed: (p, e) => {
			const line = { ...fields(p), reason: e.reason, durationMs: round(e.durationMs), error: messageOf(e.error) };
			if (e.reason === "timeout" || e.reason === "createError" || e.reason === "queueFull") logger.warn(line, "acquire failed");
			else logger.debug(line, "acquire failed");
			checkBreakers();
		},
		poolReady: (p) => logger.info(fields(p), "pool ready"),
		poolClosed: (p) => logger.info(fields(p), "pool closed"),
	});

	const checkBreakers = () => {
		for (const client of manager.clients()) {
			for (const breaker of client.breakers?.() ?? []) {
				const key = `${client.name}\u0000${breaker.label}`;
				const before = breakerStates.get(key);
				breakerStates.set(key, breaker.state);
				if (before === undefined || before === breaker.state) continue;
				const line = {
					client: client.name,
					kind: client.kind,
					breaker: breaker.label,
					from: before,
					to: breaker.state,
					failures: breaker.failures,
					lastError: breaker.lastError,
				};
				if (breaker.state === "open") logger.warn(line, "circuit breaker opened");
				else logger.info(line, breaker.state === "closed" ? "circuit breaker closed" : "circuit breaker half-open");
			}
		}
	};
	checkBreakers();
	const poll = setInterval(() => {
		// A closed manager whose pools are all closed has nothing left to say.
		if (manager.closed && manager.pools().every((pool) => pool.stats().state === "closed")) return detach();
		tap.sync();
		checkBreakers();
	}, options.pollMs ?? 1_000);
	poll.unref();

	let stats: NodeJS.Timeout | undefined;
	if ((options.statsIntervalMs ?? 0) > 0) {
		stats = setInterval(() => {
			for (const p of tap.sync()) {
				const s = p.pool.stats();
				logger.info(
					{
						...fields(p),
						total: s.total,
						active: s.active,
						idle: s.idle,
						creating: s.creating,
						pending: s.pending,
						max: s.max,
						utilization: round(s.utilization),
						waitP99Ms: round(s.waitMs.p99),
						useP99Ms: round(s.useMs.p99),
						acquires: s.acquires.ok,
						timeouts: s.acquires.timeouts,
						createFailures: s.createFailures,
						healthScore: s.healthScore,
					},
					"pool stats",
				);
			}
		}, options.statsIntervalMs);
		stats.unref();
	}

	function detach(): void {
		clearInterval(poll);
		clearInterval(stats);
		tap.dispose();
	}
	return { active: true, detach };
}

/** The next create attempt's backoff bound, for core pools whose retry options are readable. */
function backoffOf(view: PoolView, consecutive: number): { nextRetryWithinMs?: number } {
	if (!(view instanceof Pool)) return {};
	const { createRetryInitialMs, createRetryMaxMs } = view.options;
	return { nextRetryWithinMs: Math.min(createRetryMaxMs, createRetryInitialMs * 2 ** Math.min(consecutive - 1, 30)) };
}

function round(n: number): number {
	return Number.isFinite(n) ? Math.round(n * 100) / 100 : n;
}
