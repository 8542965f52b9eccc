/**
 * The WebSocket manager: named or URL-keyed connections up to `maxConnections`, each a
 * {@link WebSocketConnection} with its heartbeat, reconnects and subscriptions, and seed 001's
 * `connect(url)`, `send(url, msg)`, `receive(url)` over them. It is a `ManagedClient`: every
 * connection is one pool (of one) to the manager, metrics and health endpoints.
 */
import { EventEmitter } from "node:events";
import { checkCloseOptions } from "../../core/close-options.ts";
import { durationProblem } from "../../core/duration.ts";
import { ConfigError, type ConfigProblem } from "../../core/errors.ts";
import type { CloseOptions } from "../../core/pool.ts";
import { ClientKind, type ClientPool, type ManagedClient } from "../../manager/client.ts";
import type { CloseInfo } from "./close-info.ts";
import { ConnectionState, type Subscription, WebSocketConnection, type WebSocketConnectionStats } from "./connection.ts";
import { displayUrl } from "./display-url.ts";
import { WebSocketClosedError, WebSocketLimitError, WebSocketNotFoundError, type WebSocketStoppedError } from "./errors.ts";
import { type TakeOptions, timeoutProblem } from "./message-stream.ts";
import {
	checkConnectionOptions,
	type Outgoing,
	resolveConnectionOptions,
	resolveManagerOptions,
	type WebSocketConnectionOptions,
	type WebSocketData,
	type WebSocketManagerOptions,
} from "./options.ts";
import { connectionPoolView } from "./pool-view.ts";

/** A connection to add: its URL, and optionally a name to key it by (default: the URL) and its own options. */
export interface ConnectTarget extends WebSocketConnectionOptions {
	url: string;
	name?: string;
}

export interface ConnectOptions {
	/** How long `connect()` waits for the first open (CREATE_TIMEOUT after; the connection keeps trying). Default: the handshake timeout × 3. */
	timeoutMs?: number;
	signal?: AbortSignal;
}

export interface WebSocketManagerStats {
	name: string;
	maxConnections: number;
	connections: number;
	open: number;
	connecting: number;
	/** Down and waiting for their reconnect timer. */
	waiting: number;
	stopped: number;
	reconnects: number;
	messagesIn: number;
	messagesOut: number;
	bytesIn: number;
	bytesOut: number;
	byKey: Record<string, WebSocketConnectionStats>;
}

export interface WebSocketManagerEvents {
	open: [{ key: string; reconnect: boolean }];
	close: [{ key: string } & CloseInfo];
	reconnecting: [{ key: string; failures: number; delayMs: number }];
	stopped: [{ key: string; error: WebSocketStoppedError }];
}

const CONNECT_KEYS = ["url", "name"] as const;
/** connect()'s default wait, in handshake timeouts: room for a failed attempt and its backoff. */
const CONNECT_WAIT_HANDSHAKES = 3;

export class WebSocketManager extends EventEmitter<WebSocketManagerEvents> implements ManagedClient {
	readonly name: string;
	readonly kind = ClientKind.websocket;
	readonly maxConnections: number;
	readonly #defaults: WebSocketConnectionOptions;
	readonly #connections = new Map<string, WebSocketConnection>();
	#closed = false;

	constructor(options: WebSocketManagerOptions = {}) {
		super();
		const resolved = resolveManagerOptions(options);
		this.name = resolved.name;
		this.maxConnections = resolved.maxConnections;
		this.#defaults = resolved.defaults;
	}

	/**
	 * Adds a connection (or returns the one already under that key) and starts it, without
	 * waiting for it to open. Past `maxConnections`: POOL_QUEUE_FULL.
	 */
	add(target: string | ConnectTarget): WebSocketConnection {
		if (this.#closed) throw new WebSocketClosedError(this.name);
		const { url, name, ...own } = typeof target === "string" ? { url: target } : target;
		const key = name ?? url;
		const existing = this.#connections.get(key);
		if (existing !== undefined) {
			if (existing.isFor(url)) return existing;
			// Handing back the connection to another URL would send this caller's messages to the wrong server.
			throw new ConfigError(`websocket manager "${this.name}": connect(${JSON.stringify(key.includes("://") ? displayUrl(key) : key)})`, [
				{
					path: "name",
					message: "is already the name of a connection to another URL (not shown: it may hold a token); disconnect it first or pick another name",
				},
			]);
		}
		const problems: ConfigProblem[] = [];
		if (typeof url !== "string" || !/^wss?:\/\//i.test(url))
			problems.push({ path: "url", message: "must be a ws:// or wss:// URL (not shown: it may hold a token)" });
		else {
			try {
				if (new URL(url).hash !== "") problems.push({ path: "url", message: "must not have a #fragment (the handshake refuses it)" });
			} catch {
				problems.push({ path: "url", message: "is not a valid URL (not shown: it may hold a token)" });
			}
		}
		if (name !== undefined && (typeof name !== "string" || name.length === 0)) problems.push({ path: "name", message: "must be a non-empty string" });
		checkConnectionOptions(own as Record<string, unknown>, "", problems, CONNECT_KEYS);
		if (problems.length > 0) throw new ConfigError(`websocket manager "${this.name}": connect(${name === undefined ? "" : JSON.stringify(name)})`, problems);
		if (this.#connections.size >= this.maxConnections) throw new WebSocketLimitError(this.name, this.maxConnections);
		const connection = new WebSocketConnection(key, url, resolveConnectionOptions(this.#defaults, own));
		this.#connections.set(key, connection);
		this.#forward(connection);
		connection.start();
		return connection;
	}

	/** Adds the connection and resolves when it is open (seed 001's `connect(url)`). */
	async connect(target: string | ConnectTarget, options: ConnectOptions = {}): Promise<WebSocketConnection> {
		const badTimeout = timeoutProblem(`websocket manager "${this.name}": connect()`, options.timeoutMs);
		if (badTimeout !== undefined) throw badTimeout;
		const connection = this.add(target);
		const handshake = (typeof target === "object" ? target.handshakeTimeoutMs : undefined) ?? this.#defaults.handshakeTimeoutMs ?? 10_000;
		await connection.opened({ timeoutMs: options.timeoutMs ?? handshake * CONNECT_WAIT_HANDSHAKES, signal: options.signal });
		return connection;
	}

	/** The connection under `key` (its name or URL); POOL_NOT_FOUND when there is none. */
	get(key: string): WebSocketConnection {
		const connection = this.#connections.get(key);
		if (connection === undefined) throw new WebSocketNotFoundError(this.name, key.includes("://") ? displayUrl(key) : key);
		return connection;
	}

	has(key: string): boolean {
		return this.#connections.has(key);
	}

	/** The connections, in the order they were added. */
	connections(): WebSocketConnection[] {
		return [...this.#connections.values()];
	}

	/** Sends on the connection under `key`; queued while it is down (see {@link WebSocketConnection.send}). */
	send(key: string, message: Outgoing): Promise<void> {
		try {
			return this.get(key).send(message);
		} catch (error) {
			return Promise.reject(error);
		}
	}

	/** The next message of the connection under `key`. */
	async receive(key: string, options?: TakeOptions): Promise<WebSocketData> {
		return this.get(key).receive(options);
	}

	/** An async iterator over the messages of the connection under `key`. */
	messages(key: string): AsyncIterableIterator<WebSocketData> {
		return this.get(key).messages();
	}

	/** Subscribes on the connection under `key`: `message` is re-sent after every reconnect. */
	async subscribe(key: string, message: Outgoing): Promise<Subscription> {
		return this.get(key).subscribe(message);
	}

	/** Closes the connection under `key` and forgets it (its slot is free at once). */
	async disconnect(key: string, code?: number, reason?: string): Promise<void> {
		const connection = this.get(key);
		this.#connections.delete(key);
		await connection.close(code, reason);
	}

	stats(): WebSocketManagerStats {
		const out: WebSocketManagerStats = {
			name: this.name,
			maxConnections: this.maxConnections,
			connections: this.#connections.size,
			open: 0,
			connecting: 0,
			waiting: 0,
			stopped: 0,
			reconnects: 0,
			messagesIn: 0,
			messagesOut: 0,
			bytesIn: 0,
			bytesOut: 0,
			byKey: {},
		};
		for (const connection of this.#connections.values()) {
			const s = connection.stats();
			if (s.state === ConnectionState.open) out.open++;
			else if (s.state === ConnectionState.connecting) out.connecting++;
			else if (s.state === ConnectionState.waiting) out.waiting++;
			else if (s.state === ConnectionState.stopped) out.stopped++;
			out.reconnects += s.reconnects;
			out.messagesIn += s.messagesIn;
			out.messagesOut += s.messagesOut;
			out.bytesIn += s.bytesIn;
			out.bytesOut += s.bytesOut;
			out.byKey[s.key] = s;
		}
		return out;
	}

	/** Each connection as a pool of one, labelled with its name (or its URL without credentials and query). */
	pools(): ClientPool[] {
		return this.connections().map((connection) => ({ label: connection.label, pool: connectionPoolView(this.name, connection) }));
	}

	details(): Record<string, unknown> {
		const { byKey, ...totals } = this.stats();
		return { ...totals, connections: Object.values(byKey) };
	}

	/** Resolves when every connection added so far is open (rejects when one stops). */
	async start(): Promise<void> {
		await Promise.all(this.connections().map((c) => c.opened()));
	}

	/** Closes every connection (close frame 1001 "going away"); later calls to add/connect throw POOL_CLOSED. */
	async close(options?: CloseOptions): Promise<void> {
		const timeoutMs = options?.timeoutMs;
		checkCloseOptions(`websocket manager "${this.name}": close()`, options, timeoutMs === undefined ? undefined : durationProblem(timeoutMs));
		this.#closed = true;
		const all = this.connections();
		this.#connections.clear();
		const closing = Promise.all(all.map((c) => c.close(1001, "client shutting down")));
		if (timeoutMs === undefined) {
			await closing;
			return;
		}
		let timer: NodeJS.Timeout | undefined;
		await Promise.race([closing, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
		clearTimeout(timer);
	}

	[Symbol.asyncDispose](): Promise<void> {
		return this.close();
	}

	#forward(connection: WebSocketConnection): void {
		const key = connection.key;
		connection.on("open", (e) => this.emit("open", e));
		connection.on("close", (info) => this.emit("close", { key, ...info }));
		connection.on("reconnecting", (e) => this.emit("reconnecting", e));
		connection.on("stopped", (error) => this.emit("stopped", { key, error }));
	}
}

/** A WebSocket manager; see {@link WebSocketManagerOptions} for the options and their defaults. */
export function createWebSocketManager(options: WebSocketManagerOptions = {}): WebSocketManager {
	return new WebSocketManager(options);
}
