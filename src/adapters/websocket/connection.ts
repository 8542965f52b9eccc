/**
 * One managed WebSocket: it opens, keeps a heartbeat, and after every close its owner did not
 * ask for decides (`shouldReconnect`) whether to come back, after a full-jitter backoff. The
 * remembered subscriptions are re-sent on every open; sends made while it is down wait in a
 * bounded queue. Every socket of its life feeds the same events and iterators.
 */
import { EventEmitter } from "node:events";
import { performance } from "node:perf_hooks";
import type { RawData, WebSocket } from "ws";
import { messageOf } from "../../core/errors.ts";
import { Histogram, type HistogramSummary } from "../../core/histogram.ts";
import { type CloseInfo, handshakeStatusOf } from "./close-info.ts";
import { displayUrl } from "./display-url.ts";
import {
	StopReason,
	WebSocketClosedError,
	WebSocketOpenTimeoutError,
	WebSocketQueueFullError,
	WebSocketSendFailedError,
	WebSocketStoppedError,
} from "./errors.ts";
import { Heartbeat } from "./heartbeat.ts";
import { loadWs } from "./load-ws.ts";
import { MessageStream, type TakeOptions, timeoutProblem } from "./message-stream.ts";
import { type OpenContext, type Outgoing, POLICY_VIOLATION, type ResolvedConnectionOptions, type WebSocketData } from "./options.ts";
import { fullJitterDelay } from "./reconnect-backoff.ts";

export const ConnectionState = {
	/** Registered, not started. */
	idle: "idle",
	/** A handshake (or the `onOpen` hook and subscriptions) in progress. */
	connecting: "connecting",
	open: "open",
	/** Down, a reconnect timer running. */
	waiting: "waiting",
	/** Down for good until `reconnect()`: refused, a policy close, `shouldReconnect` said no, or retries ran out. */
	stopped: "stopped",
	/** Closed by its owner. */
	closed: "closed",
} as const;
export type ConnectionState = (typeof ConnectionState)[keyof typeof ConnectionState];

/** A socket that stays open shorter than this counts as a failure, so a server that accepts then drops at once meets a growing backoff. */
const STABLE_AFTER_MS = 5_000;
/** How long `close()` waits for the server's close frame before terminating the socket. */
const CLOSE_GRACE_MS = 2_000;

export interface WebSocketConnectionStats {
	key: string;
	/** The URL without credentials or query. */
	url: string;
	state: ConnectionState;
	/** Successful opens, the first included. */
	opens: number;
	/** Opens after the first. */
	reconnects: number;
	/** Handshakes that failed, and sockets that closed within 5 s of opening. */
	failedAttempts: number;
	/** Failures in a row right now (what the backoff grows with). */
	failures: number;
	messagesIn: number;
	messagesOut: number;
	bytesIn: number;
	bytesOut: number;
	/** Sends waiting in the queue. */
	queued: number;
	/** The most sends waiting at once since the last `resetStats()`. */
	peakQueued: number;
	queuedBytes: number;
	subscriptions: number;
	/** True while a consumer is behind and the socket is not being read. */
	paused: boolean;
	/** The last heartbeat round trip (ms), and the window's summary. */
	rttMs: { last: number | undefined; summary: HistogramSummary };
	/** Handshake durations of successful opens. */
	handshakeMs: HistogramSummary;
	heartbeatTimeouts: number;
	lastClose: { code: number; reason: string; handshakeStatus: number | undefined; atMs: number } | undefined;
	/** Set while stopped: why. */
	stopReason: StopReason | undefined;
	/** Why the last attempt or socket ended (no URL, no credentials), until the next open. */
	lastError: string | undefined;
}

export interface ConnectionEvents {
	open: [{ key: string; reconnect: boolean }];
	message: [data: WebSocketData, binary: boolean];
	close: [CloseInfo];
	reconnecting: [{ key: string; failures: number; delayMs: number }];
	stopped: [WebSocketStoppedError];
}

/** A remembered subscription: re-sent on every open until `unsubscribe()`. */
export interface Subscription {
	readonly message: Outgoing;
	/** Forgets the subscription, and sends `message` (the server's unsubscribe) if given and the socket is open. */
	unsubscribe(message?: Outgoing): Promise<void>;
}

interface Attempt {
	socket: WebSocket;
	startedAt: number;
	ready: boolean;
	readyAt: number;
	error: string | undefined;
	heartbeatTimeout: boolean;
	replaced: boolean;
	heartbeat: Heartbeat | undefined;
}

interface QueuedSend {
	data: string | Buffer;
	bytes: number;
	resolve(): void;
	reject(error: unknown): void;
}

interface OpenWaiter {
	resolve(): void;
	reject(error: unknown): void;
}

export class WebSocketConnection extends EventEmitter<ConnectionEvents> {
	/** Its name, or its URL when it has none. */
	readonly key: string;
	/** What errors and statistics show: the name, or the URL without credentials and query. */
	readonly label: string;
	readonly #url: string;
	readonly #options: ResolvedConnectionOptions;
	#state: ConnectionState = ConnectionState.idle;
	#attempt: Attempt | undefined;
	#timer: NodeJS.Timeout | undefined;
	#failures = 0;
	#stopError: WebSocketStoppedError | undefined;
	#lastFailure: string | undefined;
	readonly #openWaiters = new Set<OpenWaiter>();
	#queue: QueuedSend[] = [];
	#queuedBytes = 0;
	/** The most sends queued at once in this statistics window. */
	#peakQueued = 0;
	readonly #subscriptions = new Set<{ message: Outgoing }>();
	readonly #streams = new Set<MessageStream<WebSocketData>>();
	#receiver: MessageStream<WebSocketData> | undefined;
	#paused = false;
	#opens = 0;
	#failedAttempts = 0;
	#messagesIn = 0;
	#messagesOut = 0;
	#bytesIn = 0;
	#bytesOut = 0;
	#heartbeatTimeouts = 0;
	#lastRtt: number | undefined;
	readonly #rtt = new Histogram();
	readonly #handshake = new Histogram();
	#lastClose: WebSocketConnectionStats["lastClose"];

	constructor(key: string, url: string, options: ResolvedConnectionOptions, label?: string) {
		super();
		this.key = key;
		this.#url = url;
		this.#options = options;
		this.label = label ?? (key === url ? displayUrl(url) : key);
	}

	/** @internal Whether this connection was added for `url` (compared whole; the URL itself stays private: it may hold a token). */
	isFor(url: string): boolean {
		return this.#url === url;
	}

	get state(): ConnectionState {
		return this.#state;
	}

	/** True when the socket is open and ready (hook and subscriptions done). */
	get isOpen(): boolean {
		return this.#state === ConnectionState.open;
	}

	/** Starts the first attempt (idempotent). */
	start(): void {
		if (this.#state === ConnectionState.idle) void this.#connect();
	}

	/** Resolves when the connection is open; rejects when it stops or closes, or after `timeoutMs` (it keeps trying). */
	opened(options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<void> {
		// Checked first, so a bad deadline is found while the connection happens to be open, not later when it is not.
		const badTimeout = timeoutProblem(`websocket "${this.label}": opened()`, options.timeoutMs);
		if (badTimeout !== undefined) return Promise.reject(badTimeout);
		if (this.#state === ConnectionState.open) return Promise.resolve();
		if (this.#state === ConnectionState.closed) return Promise.reject(new WebSocketClosedError(this.label));
		if (this.#state === ConnectionState.stopped && this.#stopError !== undefined) return Promise.reject(this.#stopError);
		const { timeoutMs, signal } = options;
		if (signal?.aborted) return Promise.reject(signal.reason);
		return new Promise<void>((resolve, reject) => {
			let timer: NodeJS.Timeout | undefined;
			const done = () => {
				this.#openWaiters.delete(waiter);
				if (timer !== undefined) clearTimeout(timer);
				signal?.removeEventListener("abort", onAbort);
			};
			const waiter: OpenWaiter = {
				resolve: () => {
					done();
					resolve();
				},
				reject: (error) => {
					done();
					reject(error);
				},
			};
			const onAbort = () => waiter.reject(signal?.reason);
			signal?.addEventListener("abort", onAbort, { once: true });
			if (timeoutMs !== undefined) timer = setTimeout(() => waiter.reject(new WebSocketOpenTimeoutError(this.label, timeoutMs, this.#lastFailure)), timeoutMs);
			this.#openWaiters.add(waiter);
		});
	}

	/**
	 * Sends a message (strings as text, bytes as binary, anything else as JSON). While the
	 * connection is down it waits in the queue; past `maxQueuedMessages` / `maxQueuedBytes` it
	 * is refused (POOL_QUEUE_FULL). Resolves once written to the socket.
	 */
	send(message: Outgoing): Promise<void> {
		if (this.#state === ConnectionState.closed) return Promise.reject(new WebSocketClosedError(this.label));
		if (this.#state === ConnectionState.stopped && this.#stopError !== undefined) return Promise.reject(this.#stopError);
		const data = encode(message);
		const bytes = typeof data === "string" ? Buffer.byteLength(data) : data.byteLength;
		const socket = this.#attempt?.socket;
		const writable = this.#state === ConnectionState.open && this.#queue.length === 0 && socket !== undefined;
		const unwritten = writable ? socket.bufferedAmount : this.#queuedBytes;
		if (unwritten + bytes > this.#options.maxQueuedBytes || (!writable && this.#queue.length >= this.#options.maxQueuedMessages)) {
			return Promise.reject(new WebSocketQueueFullError(this.label, this.#queue.length, unwritten, this.#state));
		}
		if (writable) return this.#write(socket, data, bytes);
		return new Promise<void>((resolve, reject) => {
			this.#queue.push({ data, bytes, resolve, reject });
			this.#queuedBytes += bytes;
			if (this.#queue.length > this.#peakQueued) this.#peakQueued = this.#queue.length;
		});
	}

	/** Sends `message` now (when open) and again after every reconnect, until `unsubscribe()`. */
	async subscribe(message: Outgoing): Promise<Subscription> {
		if (this.#state === ConnectionState.closed) throw new WebSocketClosedError(this.label);
		// Each call is its own entry, even for an equal message: unsubscribing one leaves the other.
		const entry = { message };
		this.#subscriptions.add(entry);
		const subscription: Subscription = {
			message,
			unsubscribe: async (unsubscribeMessage?: Outgoing) => {
				this.#subscriptions.delete(entry);
				if (unsubscribeMessage !== undefined && this.#state === ConnectionState.open) await this.send(unsubscribeMessage);
			},
		};
		const socket = this.#attempt?.socket;
		if (this.#state === ConnectionState.open && socket !== undefined) {
			const data = encode(message);
			await this.#write(socket, data, typeof data === "string" ? Buffer.byteLength(data) : data.byteLength);
		}
		return subscription;
	}

	/** A new iterator over the messages from now on; `break` out of `for await` to stop it. */
	messages(): AsyncIterableIterator<WebSocketData> {
		const stream = this.#openStream();
		// A full receive() buffer that held the socket lets go now that someone else reads.
		this.#applyPressure();
		return stream;
	}

	/**
	 * The next message (seed 001's `receive(url)`). Messages arriving between calls are kept
	 * (up to the high-water mark, then the socket stops reading), from the first call on.
	 */
	async receive(options: TakeOptions = {}): Promise<WebSocketData> {
		if (this.#receiver === undefined) {
			if (this.#state === ConnectionState.closed) throw new WebSocketClosedError(this.label);
			if (this.#state === ConnectionState.stopped && this.#stopError !== undefined) throw this.#stopError;
			this.#receiver = this.#openStream(true);
		}
		const result = await this.#receiver.take(options);
		if (result.done) throw this.#stopError ?? new WebSocketClosedError(this.label);
		return result.value;
	}

	/**
	 * Reconnects now: after it stopped (refused, retries ran out), while it waits for its
	 * backoff, or to replace an open socket. The failure count starts again from zero.
	 */
	reconnect(): void {
		if (this.#state === ConnectionState.closed) throw new WebSocketClosedError(this.label);
		this.#failures = 0;
		this.#stopError = undefined;
		if (this.#state === ConnectionState.connecting) return;
		if (this.#timer !== undefined) clearTimeout(this.#timer);
		this.#timer = undefined;
		const current = this.#attempt;
		if (current !== undefined) {
			current.replaced = true;
			current.socket.terminate();
		}
		void this.#connect();
	}

	/** Closes for good: queued sends and waiting receivers fail with POOL_CLOSED, iterators end. */
	close(code = 1000, reason = ""): Promise<void> {
		if (this.#state === ConnectionState.closed) return Promise.resolve();
		this.#state = ConnectionState.closed;
		if (this.#timer !== undefined) clearTimeout(this.#timer);
		this.#timer = undefined;
		const error = new WebSocketClosedError(this.label);
		this.#failQueue(error);
		for (const waiter of [...this.#openWaiters]) waiter.reject(error);
		for (const stream of [...this.#streams]) stream.end();
		const attempt = this.#attempt;
		if (attempt === undefined) return Promise.resolve();
		attempt.heartbeat?.stop();
		const socket = attempt.socket;
		if (socket.readyState === socket.CLOSED) return Promise.resolve();
		return new Promise<void>((resolve) => {
			const timer = setTimeout(() => socket.terminate(), CLOSE_GRACE_MS);
			socket.once("close", () => {
				clearTimeout(timer);
				resolve();
			});
			if (socket.readyState === socket.OPEN) socket.close(code, reason);
			else socket.terminate();
		});
	}

	stats(): WebSocketConnectionStats {
		return {
			key: this.key === this.#url ? this.label : this.key,
			url: displayUrl(this.#url),
			state: this.#state,
			opens: this.#opens,
			reconnects: Math.max(0, this.#opens - 1),
			failedAttempts: this.#failedAttempts,
			failures: this.#failures,
			messagesIn: this.#messagesIn,
			messagesOut: this.#messagesOut,
			bytesIn: this.#bytesIn,
			bytesOut: this.#bytesOut,
			queued: this.#queue.length,
			peakQueued: this.#peakQueued,
			queuedBytes: this.#queuedBytes,
			subscriptions: this.#subscriptions.size,
			paused: this.#paused,
			rttMs: { last: this.#lastRtt, summary: this.#rtt.summary() },
			handshakeMs: this.#handshake.summary(),
			heartbeatTimeouts: this.#heartbeatTimeouts,
			lastClose: this.#lastClose,
			stopReason: this.#stopError?.reason,
			lastError: this.#lastFailure,
		};
	}

	/** Starts a new window for the round-trip and handshake histograms; counters keep counting. */
	resetStats(): void {
		this.#rtt.reset();
		this.#handshake.reset();
		this.#peakQueued = this.#queue.length;
	}

	// ── one attempt: handshake, hook, subscriptions, queue ─────────────────────────────────

	async #connect(): Promise<void> {
		this.#state = ConnectionState.connecting;
		let WebSocketClass: Awaited<ReturnType<typeof loadWs>>;
		try {
			WebSocketClass = await loadWs();
		} catch (error) {
			this.#lastFailure = messageOf(error);
			for (const waiter of [...this.#openWaiters]) waiter.reject(error);
			this.#failQueue(error);
			this.#state = ConnectionState.stopped;
			return;
		}
		if (this.#state !== ConnectionState.connecting) return;
		const o = this.#options;
		let socket: WebSocket;
		try {
			socket = new WebSocketClass(this.#url, o.protocols, {
				handshakeTimeout: o.handshakeTimeoutMs > 0 ? o.handshakeTimeoutMs : undefined,
				headers: o.headers,
				maxPayload: o.maxPayloadBytes,
				followRedirects: false,
			});
		} catch (error) {
			// ws refuses some URLs and headers before any I/O, and its message may quote the URL: say what, not which.
			const detail = `the connection could not be set up (${error instanceof Error ? error.name : "error"}: check the URL and headers)`;
			this.#lastFailure = detail;
			this.#failures++;
			this.#failedAttempts++;
			const info: CloseInfo = {
				code: 1006,
				reason: "",
				handshakeStatus: undefined,
				wasOpen: false,
				heartbeatTimeout: false,
				error: detail,
				failures: this.#failures,
			};
			return this.#stop(StopReason.declined, info);
		}
		const attempt: Attempt = {
			socket,
			startedAt: performance.now(),
			ready: false,
			readyAt: 0,
			error: undefined,
			heartbeatTimeout: false,
			replaced: false,
			heartbeat: undefined,
		};
		this.#attempt = attempt;
		socket.on("open", () => void this.#opened(attempt));
		socket.on("message", (data, isBinary) => this.#received(data, isBinary));
		socket.on("error", (error) => {
			attempt.error ??= error.message;
		});
		socket.on("close", (code, reason) => this.#closed(attempt, code, reason.toString()));
	}

	async #opened(attempt: Attempt): Promise<void> {
		const { socket } = attempt;
		this.#handshake.record(performance.now() - attempt.startedAt);
		if (this.#paused) socket.pause();
		const context: OpenContext = {
			key: this.key,
			reconnect: this.#opens > 0,
			send: (message) => {
				const data = encode(message);
				return this.#write(socket, data, typeof data === "string" ? Buffer.byteLength(data) : data.byteLength);
			},
		};
		try {
			await this.#options.onOpen?.(context);
			// A subscribe() made while these are being sent joins them: loop until none is left unsent.
			const sent = new Set<{ message: Outgoing }>();
			for (let next = [...this.#subscriptions]; next.length > 0; next = [...this.#subscriptions].filter((e) => !sent.has(e))) {
				for (const entry of next) {
					sent.add(entry);
					await context.send(entry.message);
				}
			}
		} catch (error) {
			attempt.error ??= `onOpen or a subscription failed: ${messageOf(error)}`;
			socket.terminate();
			return;
		}
		if (this.#attempt !== attempt || socket.readyState !== socket.OPEN || this.#state !== ConnectionState.connecting) return;
		attempt.ready = true;
		attempt.readyAt = performance.now();
		const reconnect = this.#opens > 0;
		this.#opens++;
		this.#lastFailure = undefined;
		this.#state = ConnectionState.open;
		attempt.heartbeat = new Heartbeat(
			socket,
			this.#options.pingIntervalMs,
			this.#options.pongTimeoutMs,
			(ms) => {
				this.#lastRtt = ms;
				this.#rtt.record(ms);
			},
			() => {
				attempt.heartbeatTimeout = true;
				attempt.error ??= `no pong within ${this.#options.pongTimeoutMs} ms`;
				this.#heartbeatTimeouts++;
				socket.terminate();
			},
		);
		if (!this.#paused) attempt.heartbeat.start();
		this.#flush(socket);
		for (const waiter of [...this.#openWaiters]) waiter.resolve();
		this.emit("open", { key: this.key, reconnect });
	}

	#closed(attempt: Attempt, code: number, reason: string): void {
		attempt.heartbeat?.stop();
		if (this.#attempt === attempt) this.#attempt = undefined;
		const stable = attempt.ready && performance.now() - attempt.readyAt >= STABLE_AFTER_MS;
		if (stable) this.#failures = 0;
		else if (!attempt.replaced) {
			this.#failures++;
			this.#failedAttempts++;
		}
		const handshakeStatus = handshakeStatusOf(attempt.error);
		const info: CloseInfo = {
			code,
			reason,
			handshakeStatus,
			wasOpen: attempt.ready,
			heartbeatTimeout: attempt.heartbeatTimeout,
			error: attempt.error,
			failures: this.#failures,
		};
		this.#lastClose = { code, reason, handshakeStatus, atMs: Date.now() };
		this.#lastFailure =
			attempt.error ?? (handshakeStatus === undefined ? `closed with ${code}${reason === "" ? "" : ` ${reason}`}` : `handshake ${handshakeStatus}`);
		this.emit("close", info);
		if (this.#state === ConnectionState.closed || attempt.replaced) return;
		const stop = this.#stopReason(info);
		if (stop !== undefined) return this.#stop(stop, info);
		const delayMs = fullJitterDelay(this.#failures, this.#options.reconnectInitialMs, this.#options.reconnectMaxMs);
		this.#state = ConnectionState.waiting;
		this.#timer = setTimeout(() => {
			this.#timer = undefined;
			void this.#connect();
		}, delayMs);
		this.emit("reconnecting", { key: this.key, failures: this.#failures, delayMs });
	}

	#stopReason(info: CloseInfo): StopReason | undefined {
		let again: boolean;
		try {
			again = this.#options.shouldReconnect(info);
		} catch {
			again = false;
		}
		if (!again) {
			if (info.handshakeStatus !== undefined) return StopReason.refused;
			return info.code === POLICY_VIOLATION ? StopReason.policy : StopReason.declined;
		}
		return this.#failures > this.#options.maxRetries ? StopReason.retriesExhausted : undefined;
	}

	#stop(reason: StopReason, info: CloseInfo): void {
		this.#state = ConnectionState.stopped;
		const detail =
			reason === StopReason.refused
				? `the server refused the handshake with HTTP ${info.handshakeStatus}`
				: reason === StopReason.retriesExhausted
					? `${info.failures} attempts failed in a row (maxRetries ${this.#options.maxRetries}); last: ${this.#lastFailure}`
					: `closed with ${info.code}${info.reason === "" ? "" : ` "${info.reason}"`}`;
		const error = new WebSocketStoppedError(this.label, reason, info.code, info.handshakeStatus, detail);
		this.#stopError = error;
		this.#failQueue(error);
		for (const waiter of [...this.#openWaiters]) waiter.reject(error);
		for (const stream of [...this.#streams]) stream.end(error);
		this.emit("stopped", error);
	}

	// ── data ───────────────────────────────────────────────────────────────────────────────

	#write(socket: WebSocket, data: string | Buffer, bytes: number): Promise<void> {
		return new Promise<void>((resolve, reject) => {
			socket.send(data, (error) => {
				if (error) return reject(new WebSocketSendFailedError(this.label, error));
				this.#messagesOut++;
				this.#bytesOut += bytes;
				resolve();
			});
		});
	}

	#flush(socket: WebSocket): void {
		const queue = this.#queue;
		this.#queue = [];
		this.#queuedBytes = 0;
		for (const item of queue) this.#write(socket, item.data, item.bytes).then(item.resolve, item.reject);
	}

	#failQueue(error: unknown): void {
		const queue = this.#queue;
		this.#queue = [];
		this.#queuedBytes = 0;
		for (const item of queue) item.reject(error);
	}

	#received(raw: RawData, binary: boolean): void {
		const bytes = Array.isArray(raw) ? Buffer.concat(raw) : Buffer.isBuffer(raw) ? raw : Buffer.from(raw);
		const data: WebSocketData = binary ? bytes : bytes.toString("utf8");
		this.#messagesIn++;
		this.#bytesIn += bytes.byteLength;
		for (const stream of this.#streams) stream.push(data);
		this.emit("message", data, binary);
	}

	/**
	 * `forReceive`: receive()'s buffer, which has no end the caller can call. Once full it holds
	 * the socket only while it is the connection's one reader; with messages() iterators open it
	 * drops what it cannot keep (the next receive() after the kept ones says how many), so a
	 * receive() called once and then given up on cannot stall the iterators.
	 */
	#openStream(forReceive = false): MessageStream<WebSocketData> {
		const stream = new MessageStream<WebSocketData>(
			this.label,
			this.#options.receiveHighWaterMark,
			() => this.#applyPressure(),
			(s) => {
				this.#streams.delete(s);
				if (this.#receiver === s) this.#receiver = undefined;
				this.#applyPressure();
			},
			forReceive ? () => this.#streams.size > 1 : undefined,
		);
		if (this.#state === ConnectionState.closed) stream.end();
		else if (this.#state === ConnectionState.stopped && this.#stopError !== undefined) stream.end(this.#stopError);
		else this.#streams.add(stream);
		return stream;
	}

	#applyPressure(): void {
		let full = false;
		for (const stream of this.#streams) full ||= stream.full;
		if (full === this.#paused) return;
		this.#paused = full;
		const attempt = this.#attempt;
		if (attempt === undefined) return;
		if (full) {
			attempt.socket.pause();
			attempt.heartbeat?.pause();
		} else {
			attempt.socket.resume();
			attempt.heartbeat?.resume();
		}
	}
}

function encode(message: Outgoing): string | Buffer {
	if (typeof message === "string") return message;
	if (Buffer.isBuffer(message)) return message;
	if (message instanceof ArrayBuffer) return Buffer.from(message);
	if (ArrayBuffer.isView(message)) return Buffer.from(message.buffer, message.byteOffset, message.byteLength);
	return JSON.stringify(message);
}
