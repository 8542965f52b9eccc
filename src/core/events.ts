/**
 * The pool's life as named events, after MongoDB's connection-pool monitoring spec (CMAP).
 * Names and reasons are data, defined once here.
 */
export const PoolEvent = {
	poolCreated: "poolCreated",
	poolReady: "poolReady",
	poolCleared: "poolCleared",
	poolClosed: "poolClosed",
	connectionCreated: "connectionCreated",
	connectionReady: "connectionReady",
	connectionClosed: "connectionClosed",
	acquireStarted: "acquireStarted",
	acquireFailed: "acquireFailed",
	acquired: "acquired",
	released: "released",
	leakDetected: "leakDetected",
	poolResized: "poolResized",
} as const;
export type PoolEventName = (typeof PoolEvent)[keyof typeof PoolEvent];

/** Why a connection was closed. */
export const CloseReason = {
	idle: "idle",
	stale: "stale",
	error: "error",
	lifetime: "lifetime",
	unhealthy: "unhealthy",
	leaked: "leaked",
	destroyed: "destroyed",
	poolClosed: "poolClosed",
} as const;
export type CloseReason = (typeof CloseReason)[keyof typeof CloseReason];

/** Why an acquire failed. */
export const AcquireFailReason = {
	timeout: "timeout",
	poolClosed: "poolClosed",
	createError: "createError",
	aborted: "aborted",
	queueFull: "queueFull",
} as const;
export type AcquireFailReason = (typeof AcquireFailReason)[keyof typeof AcquireFailReason];

export interface PoolEvents {
	poolCreated: [{ pool: string; options: Record<string, unknown> }];
	poolReady: [{ pool: string }];
	poolCleared: [{ pool: string; generation: number }];
	poolClosed: [{ pool: string }];
	connectionCreated: [{ pool: string; connectionId: number }];
	connectionReady: [{ pool: string; connectionId: number; durationMs: number }];
	connectionClosed: [{ pool: string; connectionId: number; reason: CloseReason; error?: unknown }];
	acquireStarted: [{ pool: string }];
	acquireFailed: [{ pool: string; reason: AcquireFailReason; durationMs: number; error: Error }];
	acquired: [{ pool: string; connectionId: number; durationMs: number }];
	released: [{ pool: string; connectionId: number }];
	leakDetected: [{ pool: string; connectionId: number; heldMs: number; stack: string | undefined }];
	/** `min`/`max` changed at run time (`pool.resize`); `reason` says who and why ("manual", "adaptive: …"). */
	poolResized: [{ pool: string; from: { min: number; max: number }; to: { min: number; max: number }; reason: string }];
}
