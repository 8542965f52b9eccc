/**
 * Every error lifeguard throws extends {@link LifeguardError} and carries a stable `code`.
 * Codes are data: match on `err.code`, never on the message.
 */
export const ErrorCode = {
	POOL_TIMEOUT: "POOL_TIMEOUT",
	POOL_CLOSED: "POOL_CLOSED",
	POOL_QUEUE_FULL: "POOL_QUEUE_FULL",
	ACQUIRE_ABORTED: "ACQUIRE_ABORTED",
	CREATE_FAILED: "CREATE_FAILED",
	CREATE_TIMEOUT: "CREATE_TIMEOUT",
	VALIDATION_FAILED: "VALIDATION_FAILED",
	CONFIG_INVALID: "CONFIG_INVALID",
	LEASE_INVALID: "LEASE_INVALID",
	POOL_EXISTS: "POOL_EXISTS",
	POOL_NOT_FOUND: "POOL_NOT_FOUND",
	CONNECTION_ID_UNKNOWN: "CONNECTION_ID_UNKNOWN",
	QUERY_TIMEOUT: "QUERY_TIMEOUT",
	CONNECTION_LOST: "CONNECTION_LOST",
	QUERY_FAILED: "QUERY_FAILED",
	DRIVER_MISSING: "DRIVER_MISSING",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * Every code a LifeguardError can carry, by who declares it: the core's {@link ErrorCode} here;
 * each adapter adds its own `as const` codes by declaration merging, next to them:
 *
 * ```ts
 * declare module "../../core/errors.ts" {
 *   interface LifeguardErrorCodes { llm: LlmErrorCode }
 * }
 * ```
 *
 * so `err.code` of any lifeguard error is typed as the union of the codes that exist, and a
 * subclass narrows it to its own set with `declare readonly code: LlmErrorCode`.
 */
export interface LifeguardErrorCodes {
	core: ErrorCode;
}
export type LifeguardErrorCode = LifeguardErrorCodes[keyof LifeguardErrorCodes];

/**
 * Marks lifeguard errors across copies of the package (two versions in one dependency tree, a
 * bundled copy): `instanceof` compares classes, and each copy has its own. The registry symbol
 * is the same in every copy (undici brands its errors the same way).
 */
const ERROR_BRAND = Symbol.for("lifeguard.error");

export class LifeguardError extends Error {
	readonly code: LifeguardErrorCode;
	constructor(code: LifeguardErrorCode, message: string, options?: { cause?: unknown }) {
		super(message, options);
		this.code = code;
		this.name = new.target.name;
		// The names of the classes it is an instance of, so that each subclass answers instanceof for its own name.
		const lineage: string[] = [];
		for (let c: unknown = new.target; typeof c === "function" && c !== Error; c = Object.getPrototypeOf(c)) lineage.push((c as { name: string }).name);
		Object.defineProperty(this, ERROR_BRAND, { value: lineage });
	}

	/** True for errors of this class from any copy of lifeguard, not only this one. */
	static override [Symbol.hasInstance](value: unknown): boolean {
		// biome-ignore lint/complexity/noThisInStatic: `this` is the class right of instanceof (a subclass too), not this one
		if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
		if (typeof value !== "object" || value === null) return false;
		const lineage = (value as { [ERROR_BRAND]?: unknown })[ERROR_BRAND];
		// biome-ignore lint/complexity/noThisInStatic: `this` is the class right of instanceof (a subclass too), not this one
		return Array.isArray(lineage) && lineage.includes(this.name);
	}
}

/** The pool's state at the moment an acquire failed: what "pool exhausted" errors never say. */
export interface PoolStateSnapshot {
	size: number;
	idle: number;
	inUse: number;
	creating: number;
	waiters: number;
	max: number;
	lastCreateError?: string;
}

function describeState(s: PoolStateSnapshot): string {
	const last = s.lastCreateError ? `; last create error: ${s.lastCreateError}` : "";
	return `size ${s.size}/${s.max}, idle ${s.idle}, in use ${s.inUse}, creating ${s.creating}, waiters ${s.waiters}${last}`;
}

export class PoolTimeoutError extends LifeguardError {
	readonly pool: string;
	readonly waitedMs: number;
	readonly state: PoolStateSnapshot;
	constructor(pool: string, waitedMs: number, state: PoolStateSnapshot, cause?: unknown) {
		const hint = state.lastCreateError
			? "the backend is failing: check that it is reachable"
			: "raise max, shorten how long leases are held, or look for leaked leases (leakDetectionMs)";
		super(
			ErrorCode.POOL_TIMEOUT,
			`pool "${pool}": no connection after ${Math.round(waitedMs)} ms (${describeState(state)}); ${hint}`,
			cause === undefined ? undefined : { cause },
		);
		this.pool = pool;
		this.waitedMs = waitedMs;
		this.state = state;
	}
}

export class PoolClosedError extends LifeguardError {
	constructor(pool: string) {
		super(ErrorCode.POOL_CLOSED, `pool "${pool}" is closed or closing: it takes no new work`);
	}
}

export class QueueFullError extends LifeguardError {
	constructor(pool: string, maxWaiters: number, state: PoolStateSnapshot) {
		super(
			ErrorCode.POOL_QUEUE_FULL,
			`pool "${pool}": ${maxWaiters} callers are already waiting (maxWaiters), rejected at once (${describeState(state)}); shed load or raise maxWaiters`,
		);
	}
}

export class AcquireAbortedError extends LifeguardError {
	constructor(pool: string, reason: unknown) {
		super(ErrorCode.ACQUIRE_ABORTED, `pool "${pool}": acquire aborted by its signal`, { cause: reason });
	}
}

export class CreateTimeoutError extends LifeguardError {
	constructor(pool: string, ms: number) {
		super(
			ErrorCode.CREATE_TIMEOUT,
			`pool "${pool}": creating a connection took longer than createTimeoutMs (${ms} ms); the backend accepts but does not answer`,
		);
	}
}

export class CreateFailedError extends LifeguardError {
	constructor(pool: string, cause: unknown) {
		super(ErrorCode.CREATE_FAILED, `pool "${pool}": could not create a connection: ${messageOf(cause)}`, { cause });
	}
}

export class ValidationFailedError extends LifeguardError {
	constructor(pool: string, cause?: unknown) {
		super(
			ErrorCode.VALIDATION_FAILED,
			`pool "${pool}": connection failed validation${cause === undefined ? "" : `: ${messageOf(cause)}`}`,
			cause === undefined ? undefined : { cause },
		);
	}
}

export class LeaseError extends LifeguardError {
	constructor(message: string) {
		super(ErrorCode.LEASE_INVALID, message);
	}
}

export interface ConfigProblem {
	/** Dotted path of the offending key, e.g. `pools.orders.max`. */
	path: string;
	message: string;
	/** Where the value came from: `code`, a file name, an environment variable. */
	source?: string;
}

/** One error that lists every configuration problem at once. */
export class ConfigError extends LifeguardError {
	readonly problems: ConfigProblem[];
	constructor(subject: string, problems: ConfigProblem[]) {
		const lines = problems.map((p) => `  - ${p.path}: ${p.message}${p.source ? ` (from ${p.source})` : ""}`);
		super(ErrorCode.CONFIG_INVALID, `${subject}: ${problems.length} invalid option${problems.length === 1 ? "" : "s"}\n${lines.join("\n")}`);
		this.problems = problems;
	}
}

export function messageOf(err: unknown): string {
	if (err instanceof Error) return err.message || err.name;
	return String(err);
}
