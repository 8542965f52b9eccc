/**
 * Ping every interval; no pong within the deadline means the peer is gone (a half-open TCP
 * connection never closes by itself), and the socket is terminated so the reconnect can start.
 */
import { performance } from "node:perf_hooks";
import type { WebSocket } from "ws";

export class Heartbeat {
	readonly #socket: WebSocket;
	readonly #intervalMs: number;
	readonly #timeoutMs: number;
	readonly #onRtt: (ms: number) => void;
	readonly #onDead: () => void;
	#timer: NodeJS.Timeout | undefined;
	#sentAt = 0;
	#stopped = false;
	readonly #onPong = () => this.#pong();

	constructor(socket: WebSocket, intervalMs: number, timeoutMs: number, onRtt: (ms: number) => void, onDead: () => void) {
		this.#socket = socket;
		this.#intervalMs = intervalMs;
		this.#timeoutMs = timeoutMs;
		this.#onRtt = onRtt;
		this.#onDead = onDead;
		socket.on("pong", this.#onPong);
	}

	start(): void {
		if (this.#intervalMs > 0 && !this.#stopped) this.#schedule(this.#intervalMs);
	}

	/**
	 * While the socket is paused (a consumer is behind) its pongs are not read either, so the
	 * deadline would kill a healthy connection: the heartbeat waits until reading resumes.
	 */
	pause(): void {
		this.#clear();
		this.#sentAt = 0;
	}

	resume(): void {
		if (this.#timer === undefined) this.start();
	}

	stop(): void {
		this.#stopped = true;
		this.#clear();
		this.#socket.off("pong", this.#onPong);
	}

	#schedule(ms: number): void {
		this.#clear();
		this.#timer = setTimeout(() => this.#ping(), ms);
		this.#timer.unref();
	}

	#ping(): void {
		this.#sentAt = performance.now();
		try {
			this.#socket.ping();
		} catch {
			// The socket is closing: its close event ends this heartbeat.
			return;
		}
		this.#timer = setTimeout(() => {
			this.#timer = undefined;
			if (!this.#stopped) this.#onDead();
		}, this.#timeoutMs);
		this.#timer.unref();
	}

	#pong(): void {
		if (this.#sentAt === 0 || this.#stopped) return;
		this.#onRtt(performance.now() - this.#sentAt);
		this.#sentAt = 0;
		this.#schedule(this.#intervalMs);
	}

	#clear(): void {
		if (this.#timer !== undefined) clearTimeout(this.#timer);
		this.#timer = undefined;
	}
}
