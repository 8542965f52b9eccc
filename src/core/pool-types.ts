/**
 * The types `Pool`'s methods take and return, and the checks of per-call options, kept out of
 * pool.ts so that the pool file is its policy. pool.ts re-exports them.
 */

import { checkCloseOptions } from "./close-options.ts";
import { type DurationRules, durationProblem } from "./duration.ts";
import { ConfigError, ErrorCode, LifeguardError } from "./errors.ts";
import type { ResolvedPoolOptions } from "./options.ts";
import type { Pool } from "./pool.ts";
import { quoteValue } from "./quote-value.ts";

export interface AcquireOptions {
	/** Abandons the wait when aborted (rejects with ACQUIRE_ABORTED). */
	signal?: AbortSignal;
	/** Overrides `acquireTimeoutMs` for this call. */
	timeoutMs?: number;
	/** 0 (default) is the most urgent; must be below `priorityLevels`. */
	priority?: number;
}

export interface CloseOptions {
	/** How long leases may run before their connections are destroyed. Default 30 000 ms. */
	timeoutMs?: number;
}

export interface ConnectionHealth {
	connectionId: number;
	state: "idle" | "active" | "busy";
	score: number;
	/** Smoothed validation round trip; NaN until the connection has been validated. */
	latencyMs: number;
	ageMs: number;
	uses: number;
	faults: number;
}

export interface PoolHealth {
	score: number;
	connections: ConnectionHealth[];
}

/**
 * How a keyed pool shares one connection budget among its per-key pools. @internal
 */
export interface PoolBudget {
	/** Asks for one connection slot; false when the global budget is spent. */
	tryReserve(): boolean;
	/** Gives a slot back (a connection closed or a create failed). */
	release(): void;
	/** The pool has waiters it cannot create for because the budget is spent. */
	blocked(pool: Pool<unknown>): void;
	/** A connection went idle: the budget may take it for another key's waiter. */
	idle(pool: Pool<unknown>): void;
	/** True while the budget wants slots back: a returning connection is closed rather than reused. */
	overdrawn?(): boolean;
	/** The pool may hold nothing now (no connection, no waiter): the keyed pool may forget it. */
	empty(pool: Pool<unknown>): void;
	/** A new resource arrived; false when another key's pool holds it already (a factory returning one object twice). */
	claim(resource: unknown): boolean;
	/** A resource the pool claimed is closed. */
	unclaim(resource: unknown): void;
}

const CLOSE_TIMEOUT_MS = 30_000;
/** Infinity waits for as long as it takes; 0 is refused: it used to time out at once, which nobody means. */
const ACQUIRE_TIMEOUT_RULES: DurationRules = { allowInfinity: true };
const CLOSE_TIMEOUT_RULES: DurationRules = { allowInfinity: true, allowZero: true };

/** Options that must take the slow path: an aborted signal, a priority to check, a timeout to refuse. */
export function fastPathAllowed(options: AcquireOptions): boolean {
	return (
		options.signal?.aborted !== true &&
		options.priority === undefined &&
		(options.timeoutMs === undefined || durationProblem(options.timeoutMs, ACQUIRE_TIMEOUT_RULES) === undefined)
	);
}

/** A caller's own `timeoutMs` and `priority` checked (the pool's defaults were checked at construction); CONFIG_INVALID or undefined. */
export function acquireOptionsError(name: string, options: AcquireOptions, priorityLevels: number): ConfigError | undefined {
	const subject = `pool "${name}": acquire`;
	const timeoutProblem = options.timeoutMs === undefined ? undefined : durationProblem(options.timeoutMs, ACQUIRE_TIMEOUT_RULES);
	if (timeoutProblem !== undefined) return new ConfigError(subject, [{ path: "timeoutMs", message: timeoutProblem }]);
	const priority = options.priority ?? 0;
	if (!Number.isInteger(priority) || priority < 0 || priority >= priorityLevels) {
		return new ConfigError(subject, [
			{ path: "priority", message: `must be an integer from 0 to ${priorityLevels - 1} (priorityLevels), got ${quoteValue(priority)}` },
		]);
	}
	return undefined;
}

/** The sizes `resize(sizes)` asks for, checked like the options (CONFIG_INVALID lists every problem). */
export function resizeTarget(
	name: string,
	sizes: { min?: number; max?: number; reason?: string },
	from: { min: number; max: number },
): { min: number; max: number } {
	const subject = `pool "${name}": resize`;
	if (sizes === null || typeof sizes !== "object") throw new ConfigError(subject, [{ path: "sizes", message: "expected an object { min?, max? }" }]);
	const problems: { path: string; message: string }[] = [];
	const size = (key: "min" | "max", floor: number): number => {
		const v = sizes[key];
		if (v === undefined) return from[key];
		if (typeof v !== "number" || !Number.isInteger(v) || v < floor) {
			problems.push({ path: key, message: `must be an integer >= ${floor}, got ${quoteValue(v)}` });
			return from[key];
		}
		return v;
	};
	const to = { min: size("min", 0), max: size("max", 1) };
	if (problems.length === 0 && to.min > to.max) problems.push({ path: "min", message: `min (${to.min}) is greater than max (${to.max})` });
	if (sizes.reason !== undefined && typeof sizes.reason !== "string") problems.push({ path: "reason", message: "must be a string" });
	if (problems.length > 0) throw new ConfigError(subject, problems);
	return to;
}

/** The deadline `close(options)` gives leases; throws CONFIG_INVALID for a bad one (0 destroys them at once, Infinity waits). @internal */
export function closeTimeout(subject: string, options: CloseOptions | undefined): number {
	const timeoutMs = options?.timeoutMs === undefined ? CLOSE_TIMEOUT_MS : options.timeoutMs;
	const problem = durationProblem(timeoutMs, CLOSE_TIMEOUT_RULES);
	checkCloseOptions(subject, options, problem);
	return timeoutMs;
}

/** Create errors that retrying cannot fix (the adapter says so through the error's code). */
export function isPermanentCreateError(error: unknown): boolean {
	return error instanceof LifeguardError && (error.code === ErrorCode.DRIVER_MISSING || error.code === ErrorCode.CONFIG_INVALID);
}

/** The options without functions, for the poolCreated event. */
export function describeOptions<T>(o: ResolvedPoolOptions<T>): Record<string, unknown> {
	return Object.fromEntries(Object.entries(o).filter(([k, v]) => typeof v !== "function" && k !== "budget"));
}
