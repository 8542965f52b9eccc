/**
 * The Firestore adapter's typed errors, each naming the operation and collection, and the one
 * place that decides whether a gRPC failure is the channel's fault (retire it) or the caller's.
 */
import { LifeguardError, messageOf } from "../../core/errors.ts";

export const FirestoreErrorCode = {
	/** The backend refused or failed the operation; `grpcStatus` says how. */
	FIRESTORE_OPERATION_FAILED: "FIRESTORE_OPERATION_FAILED",
	/** The operation did not finish within its `timeoutMs`. */
	FIRESTORE_TIMEOUT: "FIRESTORE_TIMEOUT",
} as const;
export type FirestoreErrorCode = (typeof FirestoreErrorCode)[keyof typeof FirestoreErrorCode];

// Registers these codes as LifeguardError codes (see LifeguardErrorCodes in the core).
declare module "../../core/errors.ts" {
	interface LifeguardErrorCodes {
		firestore: FirestoreErrorCode;
	}
}

/** gRPC status codes by number, as the driver's errors carry them in `code`. */
export const GRPC_STATUS: Record<number, string> = {
	0: "OK",
	1: "CANCELLED",
	2: "UNKNOWN",
	3: "INVALID_ARGUMENT",
	4: "DEADLINE_EXCEEDED",
	5: "NOT_FOUND",
	6: "ALREADY_EXISTS",
	7: "PERMISSION_DENIED",
	8: "RESOURCE_EXHAUSTED",
	9: "FAILED_PRECONDITION",
	10: "ABORTED",
	11: "OUT_OF_RANGE",
	12: "UNIMPLEMENTED",
	13: "INTERNAL",
	14: "UNAVAILABLE",
	15: "DATA_LOSS",
	16: "UNAUTHENTICATED",
};

/** Statuses that say the channel cannot reach the backend: the channel is retired and a new one opened. */
const CHANNEL_FAULTS = new Set(["UNAVAILABLE", "DEADLINE_EXCEEDED", "INTERNAL", "CANCELLED"]);

/** The gRPC status name of a driver error (`UNAVAILABLE`), or `UNKNOWN` when it has none. */
export function grpcStatusOf(error: unknown): string {
	if (error instanceof FirestoreTimeoutError) return "DEADLINE_EXCEEDED";
	if (error instanceof FirestoreOperationError) return error.grpcStatus;
	const code = (error as { code?: unknown } | null)?.code;
	return typeof code === "number" ? (GRPC_STATUS[code] ?? "UNKNOWN") : "UNKNOWN";
}

/** True when the error means the channel is broken rather than the request wrong. */
export function isChannelFault(error: unknown): boolean {
	if (error instanceof FirestoreTimeoutError) return true;
	const code = (error as { code?: unknown } | null)?.code;
	return typeof code === "number" && CHANNEL_FAULTS.has(GRPC_STATUS[code] ?? "");
}

/** The backend failed `operation` on `collection` (FIRESTORE_OPERATION_FAILED); `grpcStatus` and `grpcCode` say how. */
export class FirestoreOperationError extends LifeguardError {
	readonly operation: string;
	readonly collection: string;
	readonly grpcCode: number | undefined;
	/** `NOT_FOUND`, `ALREADY_EXISTS`, `ABORTED`, `UNAVAILABLE`, … */
	readonly grpcStatus: string;
	constructor(client: string, operation: string, collection: string, cause: unknown) {
		const code = (cause as { code?: unknown } | null)?.code;
		const grpcCode = typeof code === "number" ? code : undefined;
		const grpcStatus = grpcStatusOf(cause);
		super(
			FirestoreErrorCode.FIRESTORE_OPERATION_FAILED,
			`firestore client "${client}": ${operation} on "${collection}" failed (${grpcStatus}): ${messageOf(cause)}`,
			{ cause },
		);
		this.operation = operation;
		this.collection = collection;
		this.grpcCode = grpcCode;
		this.grpcStatus = grpcStatus;
	}
}

/** `operation` on `collection` did not finish within `timeoutMs` (FIRESTORE_TIMEOUT). A write may still be applied. */
export class FirestoreTimeoutError extends LifeguardError {
	readonly operation: string;
	readonly collection: string;
	readonly timeoutMs: number;
	/** `cause` is the pool's timeout when no channel could be had in time (it says why: the last create error). */
	constructor(client: string, operation: string, collection: string, timeoutMs: number, cause?: unknown) {
		const why =
			cause === undefined
				? "a write may still be applied; the channel was retired in case it is the one stuck"
				: `no channel could be had in time: ${messageOf(cause)}`;
		super(
			FirestoreErrorCode.FIRESTORE_TIMEOUT,
			`firestore client "${client}": ${operation} on "${collection}" did not finish within ${timeoutMs} ms (timeoutMs); ${why}`,
			cause === undefined ? undefined : { cause },
		);
		this.operation = operation;
		this.collection = collection;
		this.timeoutMs = timeoutMs;
	}
}
