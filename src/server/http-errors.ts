/**
 * How errors reach HTTP callers: a status and a stable code from lifeguard's error codes, the
 * message only when it is lifeguard's own (which never holds a secret), and a generic line for
 * anything else, so a driver's or a bug's text (which may quote a URL) never leaves the process.
 */
import { ErrorCode, LifeguardError, type LifeguardErrorCode } from "../core/errors.ts";

/** Codes the service adds to lifeguard's own, for what only HTTP callers can get wrong. */
export const ServiceErrorCode = {
	BAD_REQUEST: "BAD_REQUEST",
	UNAUTHORIZED: "UNAUTHORIZED",
	NOT_FOUND: "NOT_FOUND",
	SESSION_NOT_FOUND: "SESSION_NOT_FOUND",
	SESSION_LIMIT: "SESSION_LIMIT",
	TRANSACTION_STATE: "TRANSACTION_STATE",
	NOT_SUPPORTED: "NOT_SUPPORTED",
	SHUTTING_DOWN: "SHUTTING_DOWN",
	PAYLOAD_TOO_LARGE: "PAYLOAD_TOO_LARGE",
	INTERNAL: "INTERNAL",
} as const;
export type ServiceErrorCode = (typeof ServiceErrorCode)[keyof typeof ServiceErrorCode];

/** An error the service answers with as it is: its status, code and message are meant for the caller. */
export class HttpError extends Error {
	readonly statusCode: number;
	readonly code: string;
	readonly details: Record<string, unknown> | undefined;
	constructor(statusCode: number, code: string, message: string, details?: Record<string, unknown>) {
		super(message);
		this.name = "HttpError";
		this.statusCode = statusCode;
		this.code = code;
		this.details = details;
	}
}

const STATUS_OF_CODE: Partial<Record<LifeguardErrorCode, number>> = {
	[ErrorCode.POOL_TIMEOUT]: 503,
	[ErrorCode.POOL_QUEUE_FULL]: 503,
	[ErrorCode.POOL_CLOSED]: 503,
	[ErrorCode.ACQUIRE_ABORTED]: 503,
	[ErrorCode.CREATE_FAILED]: 503,
	[ErrorCode.CREATE_TIMEOUT]: 503,
	[ErrorCode.VALIDATION_FAILED]: 503,
	[ErrorCode.CONNECTION_ID_UNKNOWN]: 404,
	[ErrorCode.POOL_NOT_FOUND]: 404,
	[ErrorCode.QUERY_TIMEOUT]: 504,
	[ErrorCode.CONNECTION_LOST]: 502,
	[ErrorCode.QUERY_FAILED]: 400,
	[ErrorCode.LEASE_INVALID]: 409,
	[ErrorCode.CONFIG_INVALID]: 400,
};

/** The JSON body of every error the admin and SQL endpoints send. */
export interface ErrorBody {
	error: { code: string; message: string } & Record<string, unknown>;
}

/** Status and body for any thrown value. */
export function toHttpError(error: unknown): { statusCode: number; body: ErrorBody } {
	if (error instanceof HttpError) {
		return { statusCode: error.statusCode, body: { error: { code: error.code, message: error.message, ...error.details } } };
	}
	if (error instanceof LifeguardError) {
		const extra: Record<string, unknown> = {};
		const sqlState = (error as { sqlState?: unknown }).sqlState;
		if (typeof sqlState === "string") extra.sqlState = sqlState;
		return { statusCode: STATUS_OF_CODE[error.code] ?? 500, body: { error: { code: error.code, message: error.message, ...extra } } };
	}
	const fastify = fastifyClientError(error);
	if (fastify !== undefined) return fastify;
	return { statusCode: 500, body: { error: { code: ServiceErrorCode.INTERNAL, message: "internal error; the service log has the details" } } };
}

/** Fastify's own 4xx errors (validation, body too large, bad JSON): their messages name the problem and quote no secret. */
function fastifyClientError(error: unknown): { statusCode: number; body: ErrorBody } | undefined {
	if (!(error instanceof Error)) return undefined;
	const e = error as Error & { statusCode?: number; code?: string; validation?: unknown };
	if (typeof e.statusCode !== "number" || e.statusCode < 400 || e.statusCode >= 500) return undefined;
	if (e.statusCode === 413) return { statusCode: 413, body: { error: { code: ServiceErrorCode.PAYLOAD_TOO_LARGE, message: e.message } } };
	return { statusCode: e.statusCode, body: { error: { code: ServiceErrorCode.BAD_REQUEST, message: e.message } } };
}
