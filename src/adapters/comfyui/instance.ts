/**
 * One ComfyUI instance as the pool sees it: its HTTP side, one WebSocket with a client id of
 * its own (fresh for every socket: a reused id goes deaf when the old socket's close makes the
 * server forget it), a heartbeat (the server sends none), health from /system_stats, and when
 * anything fails, out of rotation and probed back in with backoff.
 */
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import type { Dispatcher } from "undici";
import type { WebSocket } from "ws";
import { messageOf } from "../../core/errors.ts";
import { Histogram, type HistogramSummary } from "../../core/histogram.ts";
import { Heartbeat } from "../websocket/heartbeat.ts";
import { loadWs } from "../websocket/load-ws.ts";
import { ComfyUIInstanceError } from "./errors.ts";
import { ComfyHttp } from "./http.ts";
import { type ComfyMessage, MessageType, type Preview, parseBinary, parseText, queueRemainingOf } from "./messages.ts";
import type { ResolvedInstance, ResolvedPoolOptions } from "./options.ts";

export const InstanceState = {
	/** Out of rotation; a probe is scheduled. */
	down: "down",
	/** A probe (system_stats, then the socket) is running. */
	probing: "probing",
	up: "up",
	closed: "closed",
} as const;
export type InstanceState = (typeof InstanceState)[keyof typeof InstanceState];

/** What follows one prompt on an instance: the pool's attempt. */
export interface PromptTracker {
	onMessage(message: ComfyMessage): void;
	onPreview(preview: Preview): void;
	/** The socket that carried this prompt's events is gone (its client id with it): poll from now on. */
	onSocketLost(): void;
}

export interface ComfyUIInstanceStats {
	name: string;
	state: InstanceState;
	/** ComfyUI's queue_remaining as last reported (every client's prompts). */
	queueDepth: number;
	/** Jobs of this pool on the instance now. */
	running: number;
	/** The most jobs of this pool on the instance at once. */
	peakRunning: number;
	concurrency: number;
	dispatched: number;
	completed: number;
	failed: number;
	/** Job durations on this instance (submit to outputs). */
	jobMs: HistogramSummary;
	vramFreeBytes: number | undefined;
	vramTotalBytes: number | undefined;
	socketOpens: number;
	socketReconnects: number;
	healthChecks: number;
	healthFailures: number;
	/** Probes that failed in a row right now. */
	probeFailures: number;
	/** When the next probe runs (epoch ms), while down. */
	retryAtMs: number | undefined;
	/** Workflows this instance is cooling down for. */
	cooldowns: number;
	lastError: string | undefined;
}

interface SystemStats {
	devices?: { vram_free?: number; vram_total?: number }[];
}

export class ComfyInstance {
	readonly label: string;
	readonly http: ComfyHttp;
	readonly concurrency: number;
	readonly trackers = new Map<string, PromptTracker>();
	/** Prompts moved elsewhere while this instance could not be reached: deleted here when it answers again, so none runs twice. */
	readonly abandoned = new Set<string>();
	/** Workflow key → epoch ms until which this instance is not chosen for it. */
	readonly cooldowns = new Map<string, number>();
	readonly jobMs = new Histogram();
	readonly waitMs = new Histogram();
	readonly probeMs = new Histogram();
	state: InstanceState = InstanceState.down;
	/** The id the current socket was opened with; prompts are posted with it. */
	clientId = "";
	/** Bumped with every new socket, so an attempt knows whether its prompt's socket is still the current one. */
	socketGeneration = 0;
	queueRemaining = 0;
	/** Slots taken by the pool's jobs. */
	busy = 0;
	/** The most slots taken at once (what the pool view reports as its peak). */
	peakBusy = 0;
	dispatched = 0;
	completed = 0;
	failed = 0;
	/** The prompt executing now, as this socket last heard: previews and `executing` without a prompt_id belong to it. */
	current: string | undefined;
	readonly #resolved: ResolvedInstance;
	readonly #options: ResolvedPoolOptions;
	readonly #onChange: () => void;
	#socket: WebSocket | undefined;
	/** The socket whose handshake is under way, so that close() can end it rather than leave it to its handshake timeout. */
	#opening: WebSocket | undefined;
	#heartbeat: Heartbeat | undefined;
	#probeTimer: NodeJS.Timeout | undefined;
	#healthTimer: NodeJS.Timeout | undefined;
	#probeFailures = 0;
	#retryAtMs: number | undefined;
	#socketOpens = 0;
	#healthChecks = 0;
	#healthFailures = 0;
	#vramFree: number | undefined;
	#vramTotal: number | undefined;
	#lastError: string | undefined;

	constructor(resolved: ResolvedInstance, options: ResolvedPoolOptions, dispatcher: () => Promise<Dispatcher>, onChange: () => void) {
		this.#resolved = resolved;
		this.#options = options;
		this.#onChange = onChange;
		this.label = resolved.label;
		this.concurrency = resolved.concurrency;
		this.http = new ComfyHttp(resolved.label, resolved.base, resolved.headers, options.requestTimeoutMs, dispatcher);
	}

	get available(): boolean {
		return this.state === InstanceState.up && this.busy < this.concurrency;
	}

	/** Queued work there as the strategy sees it: ComfyUI's own queue, or ours when it has not reported yet. */
	get load(): number {
		return Math.max(this.queueRemaining, this.busy);
	}

	coolingFor(workflowKey: string, now = Date.now()): boolean {
		const until = this.cooldowns.get(workflowKey);
		if (until === undefined) return false;
		if (until > now) return true;
		this.cooldowns.delete(workflowKey);
		return false;
	}

	coolDown(workflowKey: string): void {
		if (this.#options.cooldownMs > 0) this.cooldowns.set(workflowKey, Date.now() + this.#options.cooldownMs);
	}

	/** Starts probing (idempotent). */
	start(): void {
		if (this.state === InstanceState.down && this.#probeTimer === undefined) void this.#probe();
	}

	/** An HTTP call for a job failed at the network or with a 5xx: the instance is taken out and probed. */
	reportFailure(error: unknown): void {
		if (this.state === InstanceState.up) this.#down(error);
	}

	stats(): ComfyUIInstanceStats {
		const now = Date.now();
		let cooling = 0;
		for (const until of this.cooldowns.values()) if (until > now) cooling++;
		return {
			name: this.label,
			state: this.state,
			queueDepth: this.queueRemaining,
			running: this.busy,
			peakRunning: this.peakBusy,
			concurrency: this.concurrency,
			dispatched: this.dispatched,
			completed: this.completed,
			failed: this.failed,
			jobMs: this.jobMs.summary(),
			vramFreeBytes: this.#vramFree,
			vramTotalBytes: this.#vramTotal,
			socketOpens: this.#socketOpens,
			socketReconnects: Math.max(0, this.#socketOpens - 1),
			healthChecks: this.#healthChecks,
			healthFailures: this.#healthFailures,
			probeFailures: this.#probeFailures,
			retryAtMs: this.state === InstanceState.down ? this.#retryAtMs : undefined,
			cooldowns: cooling,
			lastError: this.#lastError,
		};
	}

	close(): void {
		this.state = InstanceState.closed;
		this.#clearTimers();
		this.#dropSocket();
		// Its error and close listeners reject the probe, which sees the instance closed and stops.
		this.#opening?.terminate();
		this.#opening = undefined;
	}

	// ── probe, socket, health ──────────────────────────────────────────────────────────────

	async #probe(): Promise<void> {
		this.#probeTimer = undefined;
		if (this.state === InstanceState.closed) return;
		this.state = InstanceState.probing;
		const started = performance.now();
		try {
			await this.#checkHealth();
			await this.#openSocket();
		} catch (error) {
			this.#down(error);
			return;
		}
		// Closed while the socket opened: it must not outlive the pool.
		if ((this.state as InstanceState) !== InstanceState.probing) return this.#dropSocket();
		this.probeMs.record(performance.now() - started);
		this.state = InstanceState.up;
		this.#probeFailures = 0;
		this.#lastError = undefined;
		this.#scheduleHealth();
		this.#forgetAbandoned();
		this.#onChange();
	}

	#forgetAbandoned(): void {
		if (this.abandoned.size === 0) return;
		const ids = [...this.abandoned];
		this.abandoned.clear();
		this.http.send({ method: "POST", path: "/queue", json: { delete: ids } }).catch(() => {
			for (const id of ids) this.abandoned.add(id);
		});
	}

	async #checkHealth(): Promise<void> {
		this.#healthChecks++;
		try {
			const stats = await this.http.json<SystemStats>({ method: "GET", path: "/system_stats" });
			const device = stats.devices?.[0];
			this.#vramFree = typeof device?.vram_free === "number" ? device.vram_free : undefined;
			this.#vramTotal = typeof device?.vram_total === "number" ? device.vram_total : undefined;
		} catch (error) {
			this.#healthFailures++;
			throw error;
		}
	}

	#scheduleHealth(): void {
		if (this.#options.healthCheckIntervalMs === 0) return;
		this.#healthTimer = setTimeout(() => {
			this.#healthTimer = undefined;
			this.#checkHealth().then(
				() => {
					if (this.state === InstanceState.up) this.#scheduleHealth();
				},
				(error) => this.reportFailure(error),
			);
		}, this.#options.healthCheckIntervalMs);
		this.#healthTimer.unref();
	}

	async #openSocket(): Promise<void> {
		const WebSocketClass = await loadWs("comfyui");
		const clientId = randomUUID().replaceAll("-", "");
		const base = this.#resolved.base;
		const url = `${base.protocol === "https:" ? "wss" : "ws"}://${base.host}${base.pathname.replace(/\/+$/, "")}/ws?clientId=${clientId}`;
		const socket = new WebSocketClass(url, {
			headers: this.#resolved.headers,
			handshakeTimeout: this.#options.requestTimeoutMs,
			rejectUnauthorized: this.#resolved.verifyTls,
			followRedirects: false,
		});
		// The server's first status message can arrive in the same tick as the open: listen before it.
		socket.on("message", (data, isBinary) => this.#received(data as Buffer, isBinary));
		this.#opening = socket;
		try {
			await new Promise<void>((resolve, reject) => {
				socket.once("open", resolve);
				socket.once("error", (error) => reject(new ComfyUIInstanceError(this.label, "opening the WebSocket", undefined, error)));
				socket.once("close", () => reject(new ComfyUIInstanceError(this.label, "opening the WebSocket", undefined)));
			});
		} finally {
			if (this.#opening === socket) this.#opening = undefined;
		}
		socket.on("error", () => {});
		this.#socket = socket;
		this.clientId = clientId;
		this.socketGeneration++;
		this.current = undefined;
		this.#socketOpens++;
		socket.on("close", () => {
			if (this.#socket === socket) this.#down(new ComfyUIInstanceError(this.label, "the WebSocket", undefined, new Error("closed")));
		});
		if (this.#options.pingIntervalMs > 0) {
			this.#heartbeat = new Heartbeat(
				socket,
				this.#options.pingIntervalMs,
				this.#options.pongTimeoutMs,
				() => {},
				() => {
					if (this.#socket === socket)
						this.#down(new ComfyUIInstanceError(this.label, `the heartbeat (no pong within ${this.#options.pongTimeoutMs} ms)`, undefined));
				},
			);
			this.#heartbeat.start();
		}
	}

	#received(raw: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void {
		const data = Array.isArray(raw) ? Buffer.concat(raw) : Buffer.isBuffer(raw) ? raw : Buffer.from(raw);
		if (isBinary) {
			const preview = parseBinary(data);
			const owner = preview?.promptId ?? this.current;
			if (preview !== undefined && owner !== undefined) this.trackers.get(owner)?.onPreview(preview);
			return;
		}
		const message = parseText(data.toString("utf8"));
		if (message === undefined) return;
		if (message.type === MessageType.status) {
			const remaining = queueRemainingOf(message);
			if (remaining !== undefined) {
				this.queueRemaining = remaining;
				this.#onChange();
			}
			return;
		}
		const promptId = typeof message.data.prompt_id === "string" ? message.data.prompt_id : undefined;
		if (message.type === MessageType.executionStart && promptId !== undefined) this.current = promptId;
		if (message.type === MessageType.executing && promptId !== undefined) this.current = message.data.node === null ? undefined : promptId;
		// After a reconnect mid-prompt the server sends `executing` without a prompt_id: it is the current prompt's.
		const owner = promptId ?? this.current;
		if (owner !== undefined) this.trackers.get(owner)?.onMessage(message);
	}

	#down(error: unknown): void {
		if (this.state === InstanceState.closed) return;
		const wasUp = this.state === InstanceState.up;
		this.state = InstanceState.down;
		this.#lastError = messageOf(error);
		this.#clearTimers();
		this.#dropSocket();
		this.#probeFailures++;
		// Equal jitter: at least half the step, so a dead instance is not probed in a tight loop.
		const step = Math.min(this.#options.probeMaxMs, this.#options.probeInitialMs * 2 ** Math.min(this.#probeFailures - 1, 30));
		const delay = wasUp ? 0 : step / 2 + (Math.random() * step) / 2;
		this.#retryAtMs = Date.now() + delay;
		this.#probeTimer = setTimeout(() => void this.#probe(), delay);
		this.#probeTimer.unref();
		for (const tracker of [...this.trackers.values()]) tracker.onSocketLost();
		this.#onChange();
	}

	#dropSocket(): void {
		this.#heartbeat?.stop();
		this.#heartbeat = undefined;
		const socket = this.#socket;
		this.#socket = undefined;
		if (socket !== undefined) socket.terminate();
	}

	#clearTimers(): void {
		if (this.#probeTimer !== undefined) clearTimeout(this.#probeTimer);
		if (this.#healthTimer !== undefined) clearTimeout(this.#healthTimer);
		this.#probeTimer = undefined;
		this.#healthTimer = undefined;
	}
}
