/**
 * Options of the WebSocket manager and of each connection, their defaults, and the validation
 * that lists every problem at once.
 */
import { durationProblem } from "../../core/duration.ts";
import { ConfigError, type ConfigProblem } from "../../core/errors.ts";
import type { CloseInfo } from "./close-info.ts";

/** What a message can be: text, bytes, or any other value, sent as JSON. */
export type Outgoing = string | Buffer | ArrayBufferView | ArrayBuffer | Record<string, unknown> | readonly unknown[];

/** A message received: text frames as strings, binary frames as Buffers. */
export type WebSocketData = string | Buffer;

/** What `onOpen` gets: the socket that just opened, before queued sends and before anyone else can send. */
export interface OpenContext {
	/** The connection's key (its name, or its URL). */
	readonly key: string;
	/** False for the first open, true for every reconnect. */
	readonly reconnect: boolean;
	/** Writes straight to this socket (authenticate here: the subscriptions and queued sends come after). */
	send(message: Outgoing): Promise<void>;
}

/** Everything that can be set per connection (and, on the manager, as the default of every connection). */
export interface WebSocketConnectionOptions {
	/** Subprotocols offered in the handshake. */
	protocols?: string | string[];
	/** Extra handshake headers (Authorization…); never shown in errors or statistics. */
	headers?: Record<string, string>;
	/** A handshake that takes longer fails (and is retried). Default 10 000. */
	handshakeTimeoutMs?: number;
	/** A ping this often; 0 disables the heartbeat. Default 10 000. */
	pingIntervalMs?: number;
	/** No pong within this after a ping: the socket is terminated and reconnected. Default 5 000. */
	pongTimeoutMs?: number;
	/** The first reconnect waits up to this (full jitter); each failure doubles the ceiling. Must be > 0. Default 500. */
	reconnectInitialMs?: number;
	/** Ceiling of the reconnect delay. Default 30 000. */
	reconnectMaxMs?: number;
	/** Failed attempts in a row before the connection stops (`reconnect()` starts it again). Default Infinity. */
	maxRetries?: number;
	/** Decides, after each close the owner did not ask for, whether to reconnect. Default {@link defaultShouldReconnect}. */
	shouldReconnect?: (close: CloseInfo) => boolean;
	/** Runs on every open (first and reconnects), before the remembered subscriptions and the queued sends. A throw counts as a failed attempt. */
	onOpen?: (socket: OpenContext) => void | Promise<void>;
	/** Sends held while the connection is down (and not yet written while it is up). Default 1 000. */
	maxQueuedMessages?: number;
	/** Bytes held the same way, including what the socket has not written yet. Default 4 MiB. */
	maxQueuedBytes?: number;
	/** Messages an iterator (`messages()`, `receive()`) buffers before the socket stops reading (backpressure). Default 1 000. */
	receiveHighWaterMark?: number;
	/** Largest message accepted from the server. Default 16 MiB. */
	maxPayloadBytes?: number;
}

export interface WebSocketManagerOptions extends WebSocketConnectionOptions {
	/** Shown in errors, statistics and metrics. Default "websocket". */
	name?: string;
	/** Most connections the manager holds (seed 001's CONNECTION_POOL_WS_MAX). Default 100. */
	maxConnections?: number;
}

export const WEBSOCKET_DEFAULTS = {
	handshakeTimeoutMs: 10_000,
	pingIntervalMs: 10_000,
	pongTimeoutMs: 5_000,
	reconnectInitialMs: 500,
	reconnectMaxMs: 30_000,
	maxRetries: Number.POSITIVE_INFINITY,
	maxQueuedMessages: 1_000,
	maxQueuedBytes: 4 * 1024 * 1024,
	receiveHighWaterMark: 1_000,
	maxPayloadBytes: 16 * 1024 * 1024,
	maxConnections: 100,
} as const;

/** HTTP answers to the handshake that a retry cannot change. */
const REFUSING_STATUSES = new Set([400, 401, 403, 404, 405, 410, 426]);
/** The close code a server uses to say "this client is not welcome" (RFC 6455 §7.4.1). */
export const POLICY_VIOLATION = 1008;

/** Reconnects after any close except a refused handshake (400/401/403/404/405/410/426) or a policy close (1008). */
export function defaultShouldReconnect(close: CloseInfo): boolean {
	if (close.handshakeStatus !== undefined) return !REFUSING_STATUSES.has(close.handshakeStatus);
	return close.code !== POLICY_VIOLATION;
}

export type ResolvedConnectionOptions = Required<Omit<WebSocketConnectionOptions, "protocols" | "headers" | "onOpen">> &
	Pick<WebSocketConnectionOptions, "protocols" | "headers" | "onOpen">;

const CONNECTION_KEYS = [
	"protocols",
	"headers",
	"handshakeTimeoutMs",
	"pingIntervalMs",
	"pongTimeoutMs",
	"reconnectInitialMs",
	"reconnectMaxMs",
	"maxRetries",
	"shouldReconnect",
	"onOpen",
	"maxQueuedMessages",
	"maxQueuedBytes",
	"receiveHighWaterMark",
	"maxPayloadBytes",
] as const;

const DURATIONS = ["handshakeTimeoutMs", "pingIntervalMs", "pongTimeoutMs", "reconnectInitialMs", "reconnectMaxMs"] as const;
const COUNTS = ["maxQueuedMessages", "maxQueuedBytes", "receiveHighWaterMark", "maxPayloadBytes"] as const;

/** Checks one connection's options (over the manager's defaults); pushes a problem per bad key, under `prefix`. */
export function checkConnectionOptions(raw: Record<string, unknown>, prefix: string, problems: ConfigProblem[], extraKeys: readonly string[] = []): void {
	for (const key of Object.keys(raw)) {
		if (!(CONNECTION_KEYS as readonly string[]).includes(key) && !extraKeys.includes(key)) {
			problems.push({ path: `${prefix}${key}`, message: "unknown option (options are camelCase with units, e.g. pingIntervalMs)" });
		}
	}
	for (const key of DURATIONS) {
		const v = raw[key];
		// 0 means "off" for the handshake deadline and the heartbeat; a reconnect delay of 0 would stay 0 however
		// often it doubles (a reconnect loop against a failing server). Past 2^31-1 a Node timer fires after 1 ms.
		const allowZero = key !== "reconnectInitialMs" && key !== "reconnectMaxMs";
		const problem = v === undefined ? undefined : durationProblem(v, { allowZero });
		if (problem !== undefined) problems.push({ path: `${prefix}${key}`, message: problem });
	}
	for (const key of COUNTS) {
		const v = raw[key];
		if (v !== undefined && !(Number.isInteger(v) && (v as number) >= 1))
			problems.push({ path: `${prefix}${key}`, message: `must be an integer >= 1, got ${JSON.stringify(v)}` });
	}
	const retries = raw.maxRetries;
	if (retries !== undefined && !(retries === Number.POSITIVE_INFINITY || (Number.isInteger(retries) && (retries as number) >= 0))) {
		problems.push({ path: `${prefix}maxRetries`, message: `must be an integer >= 0 or Infinity, got ${JSON.stringify(retries)}` });
	}
	for (const key of ["shouldReconnect", "onOpen"] as const) {
		if (raw[key] !== undefined && typeof raw[key] !== "function")
			problems.push({ path: `${prefix}${key}`, message: `must be a function, got ${typeof raw[key]}` });
	}
	const initial = raw.reconnectInitialMs;
	const max = raw.reconnectMaxMs;
	if (typeof initial === "number" && typeof max === "number" && initial > max) {
		problems.push({ path: `${prefix}reconnectInitialMs`, message: `(${initial}) is greater than reconnectMaxMs (${max})` });
	}
	if (raw.pongTimeoutMs === 0 && raw.pingIntervalMs !== 0)
		problems.push({ path: `${prefix}pongTimeoutMs`, message: "must be > 0 while the heartbeat is on (pingIntervalMs > 0)" });
	if (raw.headers !== undefined && (typeof raw.headers !== "object" || raw.headers === null)) {
		problems.push({ path: `${prefix}headers`, message: "must be an object of header names to values" });
	}
}

/** The manager's options with defaults filled in; one ConfigError listing every problem. */
export function resolveManagerOptions(options: WebSocketManagerOptions): { name: string; maxConnections: number; defaults: WebSocketConnectionOptions } {
	const problems: ConfigProblem[] = [];
	if (typeof options !== "object" || options === null) throw new ConfigError("createWebSocketManager", [{ path: "options", message: "expected an object" }]);
	const { name = "websocket", maxConnections = WEBSOCKET_DEFAULTS.maxConnections, ...defaults } = options;
	if (typeof name !== "string" || name.length === 0) problems.push({ path: "name", message: "must be a non-empty string" });
	if (!Number.isInteger(maxConnections) || maxConnections < 1)
		problems.push({ path: "maxConnections", message: `must be an integer >= 1, got ${JSON.stringify(maxConnections)}` });
	checkConnectionOptions(defaults as Record<string, unknown>, "", problems);
	if (problems.length > 0) throw new ConfigError(`createWebSocketManager(${JSON.stringify(String(name))})`, problems);
	return { name, maxConnections, defaults };
}

/** One connection's options: its own over the manager's defaults over the built-in ones. */
export function resolveConnectionOptions(defaults: WebSocketConnectionOptions, own: WebSocketConnectionOptions): ResolvedConnectionOptions {
	const merged = { ...defaults, ...own };
	return {
		...merged,
		handshakeTimeoutMs: merged.handshakeTimeoutMs ?? WEBSOCKET_DEFAULTS.handshakeTimeoutMs,
		pingIntervalMs: merged.pingIntervalMs ?? WEBSOCKET_DEFAULTS.pingIntervalMs,
		pongTimeoutMs: merged.pongTimeoutMs ?? WEBSOCKET_DEFAULTS.pongTimeoutMs,
		reconnectInitialMs: merged.reconnectInitialMs ?? WEBSOCKET_DEFAULTS.reconnectInitialMs,
		reconnectMaxMs: merged.reconnectMaxMs ?? Math.max(WEBSOCKET_DEFAULTS.reconnectMaxMs, merged.reconnectInitialMs ?? 0),
		maxRetries: merged.maxRetries ?? WEBSOCKET_DEFAULTS.maxRetries,
		shouldReconnect: merged.shouldReconnect ?? defaultShouldReconnect,
		maxQueuedMessages: merged.maxQueuedMessages ?? WEBSOCKET_DEFAULTS.maxQueuedMessages,
		maxQueuedBytes: merged.maxQueuedBytes ?? WEBSOCKET_DEFAULTS.maxQueuedBytes,
		receiveHighWaterMark: merged.receiveHighWaterMark ?? WEBSOCKET_DEFAULTS.receiveHighWaterMark,
		maxPayloadBytes: merged.maxPayloadBytes ?? WEBSOCKET_DEFAULTS.maxPayloadBytes,
	};
}
