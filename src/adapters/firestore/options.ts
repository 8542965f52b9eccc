/**
 * The options of `createFirestoreClient`: the driver's settings, the channel pool's bounds and
 * lifecycle (passed to the core), the health check and the operations' deadline. Every problem
 * is reported at once.
 */
import type { Firestore, Settings } from "@google-cloud/firestore";
import { durationProblem } from "../../core/duration.ts";
import { ConfigError, type ConfigProblem } from "../../core/errors.ts";
import type { PoolOptions } from "../../core/options.ts";
import { quoteValue } from "../../core/quote-value.ts";

/** The core pool options a Firestore client passes through (creating, validating and closing channels is the adapter's). */
export type FirestorePoolOptions = Omit<
	PoolOptions<Firestore>,
	"create" | "destroy" | "validate" | "afterCreate" | "reset" | "classifyError" | "ref" | "unref"
>;

/** A health check: read one document (missing is fine), or list the root collections. */
export type FirestoreHealthCheck = { document: string } | "listCollections";

export interface FirestoreClientOptions extends FirestorePoolOptions {
	/** The driver's settings for every channel (`projectId`, `databaseId`, credentials, …). `FIRESTORE_EMULATOR_HOST` is honoured as the driver does. */
	settings?: Settings;
	/** What a health check does. Default `{ document: "__lifeguard__/health" }` (one cheap read). */
	healthCheck?: FirestoreHealthCheck;
	/** Deadline of a health check. Default 2 000 ms. */
	healthTimeoutMs?: number;
	/** Default deadline of an operation, waiting for a channel included. Default 10 000 ms. */
	operationTimeoutMs?: number;
	/** Operations in flight on one channel before another is opened (Firestore's own per-channel limit is 100). Default 100. */
	maxInFlightPerChannel?: number;
}

export interface FirestoreSettings {
	driverSettings: Settings;
	healthCheck: FirestoreHealthCheck;
	healthTimeoutMs: number;
	operationTimeoutMs: number;
	maxInFlightPerChannel: number;
	pool: FirestorePoolOptions;
}

/** The seed's numbers: min 2, max 10, idle 300 s, health every 60 s. */
export const FIRESTORE_DEFAULTS = {
	name: "firestore",
	min: 2,
	max: 10,
	idleTimeoutMs: 300_000,
	healthCheckIntervalMs: 60_000,
	validateAfterIdleMs: 60_000,
	healthTimeoutMs: 2_000,
	operationTimeoutMs: 10_000,
	maxInFlightPerChannel: 100,
	healthDocument: "__lifeguard__/health",
} as const;

export function resolveFirestoreOptions(options: FirestoreClientOptions): FirestoreSettings {
	const { settings, healthCheck, healthTimeoutMs, operationTimeoutMs, maxInFlightPerChannel, ...pool } = options;
	const problems: ConfigProblem[] = [];
	const health = healthCheck ?? { document: FIRESTORE_DEFAULTS.healthDocument };
	if (
		health !== "listCollections" &&
		(typeof health !== "object" || health === null || typeof health.document !== "string" || health.document.split("/").length % 2 !== 0)
	) {
		problems.push({
			path: "healthCheck",
			message: `must be "listCollections" or { document: "collection/id" } (an even number of path segments), got ${quoteValue(health)}`,
		});
	}
	const durations = {
		healthTimeoutMs: healthTimeoutMs ?? FIRESTORE_DEFAULTS.healthTimeoutMs,
		operationTimeoutMs: operationTimeoutMs ?? FIRESTORE_DEFAULTS.operationTimeoutMs,
	};
	for (const [path, value] of Object.entries(durations)) {
		const problem = durationProblem(value);
		if (problem !== undefined) problems.push({ path, message: problem });
	}
	const perChannel = maxInFlightPerChannel ?? FIRESTORE_DEFAULTS.maxInFlightPerChannel;
	if (!Number.isInteger(perChannel) || perChannel < 1)
		problems.push({ path: "maxInFlightPerChannel", message: `must be an integer >= 1, got ${quoteValue(perChannel)}` });
	if (settings !== undefined && (typeof settings !== "object" || settings === null))
		problems.push({ path: "settings", message: `must be the driver's Settings object, got ${quoteValue(settings)}` });
	if (problems.length > 0) throw new ConfigError(`createFirestoreClient(${JSON.stringify(pool.name ?? FIRESTORE_DEFAULTS.name)})`, problems);
	return {
		driverSettings: settings ?? {},
		healthCheck: health,
		healthTimeoutMs: durations.healthTimeoutMs,
		operationTimeoutMs: durations.operationTimeoutMs,
		maxInFlightPerChannel: perChannel,
		pool: {
			name: FIRESTORE_DEFAULTS.name,
			min: FIRESTORE_DEFAULTS.min,
			max: FIRESTORE_DEFAULTS.max,
			idleTimeoutMs: FIRESTORE_DEFAULTS.idleTimeoutMs,
			healthCheckIntervalMs: FIRESTORE_DEFAULTS.healthCheckIntervalMs,
			validateAfterIdleMs: FIRESTORE_DEFAULTS.validateAfterIdleMs,
			validateTimeoutMs: durations.healthTimeoutMs,
			...definedOnly(pool),
		},
	};
}

function definedOnly<T extends object>(value: T): Partial<T> {
	return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
