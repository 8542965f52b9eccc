/**
 * One attempt of a job on one instance: upload its inputs there, post the prompt with its own
 * prompt_id (events can come before the reply), follow its events, and end it one of three
 * ways: done (history read), failed (final for the job), or retry (it never started, so another
 * instance may take it). A stall timer, reset by every message about the prompt, and history
 * polling when its socket is gone cover the messages ComfyUI never sends.
 */
import { randomUUID } from "node:crypto";
import {
	ComfyUICancelledError,
	ComfyUIExecutionError,
	ComfyUIInstanceError,
	ComfyUIInterruptedError,
	type ComfyUIPromptErrorBody,
	ComfyUITimeoutError,
	ComfyUIWorkflowError,
} from "./errors.ts";
import type { ComfyInstance, PromptTracker } from "./instance.ts";
import type { ComfyUIJob } from "./job.ts";
import { type ComfyMessage, MessageType, type Preview } from "./messages.ts";

/** An input image for the job, uploaded to whichever instance runs it (POST /upload/image). */
export interface ComfyUIUpload {
	/** The file name the workflow's LoadImage node refers to. */
	name: string;
	data: Buffer | Uint8Array | Blob;
	subfolder?: string;
	/** "input" (default), "temp" or "output". */
	type?: string;
}

export interface HistoryEntry {
	outputs?: Record<string, Record<string, unknown>>;
	status?: { status_str?: string; completed?: boolean; messages?: [string, Record<string, unknown>][] };
}

export type AttemptOutcome = { kind: "done"; promptId: string; history: HistoryEntry } | { kind: "failed"; error: unknown } | { kind: "retry"; error: unknown };

export interface AttemptSettings {
	pool: string;
	stallTimeoutMs: number;
	previews: boolean;
	attempt: number;
	/** The instance failed or stalled on this workflow: keep it away from it for a while. */
	coolDown: () => void;
}

/** How long a cancelled or stalled prompt may take to leave its instance before the slot is freed anyway. */
const LEAVE_GRACE_MS = 5_000;

export class Attempt implements PromptTracker {
	readonly promptId = randomUUID();
	readonly #instance: ComfyInstance;
	readonly #job: ComfyUIJob;
	readonly #settings: AttemptSettings;
	#started = false;
	#announced = false;
	#posted = false;
	#deaf = false;
	#ended = false;
	#stallTimer: NodeJS.Timeout | undefined;
	#pollTimer: NodeJS.Timeout | undefined;
	#finish!: (outcome: AttemptOutcome) => void;
	/** Set once the prompt has left the instance (ended, interrupted, deleted), for cleanup after a cancel. */
	#left: (() => void) | undefined;
	/** Settles when a cancelled or stalled prompt has left the instance; the pool reuses the slot only then. */
	#leaving: Promise<void> | undefined;

	constructor(instance: ComfyInstance, job: ComfyUIJob, settings: AttemptSettings) {
		this.#instance = instance;
		this.#job = job;
		this.#settings = settings;
	}

	/** Set after a cancel or a stall: the slot must wait for it. */
	get leaving(): Promise<void> | undefined {
		return this.#leaving;
	}

	async run(workflow: Record<string, unknown>, uploads: readonly ComfyUIUpload[]): Promise<AttemptOutcome> {
		const instance = this.#instance;
		const signal = this.#job.signal;
		const outcome = new Promise<AttemptOutcome>((resolve) => {
			this.#finish = resolve;
		});
		// Registered before the POST: ComfyUI may start the prompt and send its first events before replying.
		instance.trackers.set(this.promptId, this);
		const generation = instance.socketGeneration;
		try {
			for (const upload of uploads) await this.#upload(upload, signal);
			const answer = await instance.http.send({
				method: "POST",
				path: "/prompt",
				json: { prompt: workflow, client_id: instance.clientId, prompt_id: this.promptId },
				signal,
			});
			if (answer.status === 400) {
				const body = parseJson(answer.body) as { error?: ComfyUIPromptErrorBody | string; node_errors?: Record<string, unknown> };
				const error =
					typeof body.error === "object" && body.error !== null
						? body.error
						: { type: "invalid_prompt", message: String(body.error ?? "bad request"), details: "" };
				this.#end({ kind: "failed", error: new ComfyUIWorkflowError(instance.label, error, body.node_errors ?? {}) });
				return outcome;
			}
			if (answer.status < 200 || answer.status >= 300) {
				const error = new ComfyUIInstanceError(instance.label, "POST /prompt", answer.status);
				if (answer.status >= 500) instance.reportFailure(error);
				this.#end({ kind: "retry", error });
				return outcome;
			}
		} catch (error) {
			if (signal.aborted) {
				// The POST may have reached the server before the abort: the prompt id is ours, so delete it either way.
				void this.#leave(false);
				this.#end({ kind: "failed", error: this.#cancelError(signal.reason, `while being queued on "${instance.label}" (deleted)`) });
			} else {
				instance.reportFailure(error);
				// The POST may have been queued before the network failed.
				instance.abandoned.add(this.promptId);
				this.#end({ kind: "retry", error });
			}
			return outcome;
		}
		if (this.#ended) return outcome;
		this.#posted = true;
		this.#queued();
		// The socket the prompt was posted for closed meanwhile: its events will never come.
		if (this.#deaf || generation !== instance.socketGeneration || instance.clientId === "") {
			this.#deaf = true;
			this.#schedulePoll(0);
		}
		this.#armStall();
		if (signal.aborted) this.#cancel(signal.reason);
		else signal.addEventListener("abort", () => this.#cancel(signal.reason), { once: true });
		return outcome;
	}

	onMessage(message: ComfyMessage): void {
		if (this.#ended) {
			if (message.type === MessageType.executing && message.data.node === null) this.#left?.();
			if (message.type === MessageType.executionInterrupted) this.#left?.();
			return;
		}
		this.#armStall();
		const data = message.data;
		switch (message.type) {
			case MessageType.executionStart:
				this.#markStarted();
				break;
			case MessageType.executionCached:
				this.#markStarted();
				this.#job.emitProgress({ type: "cached", nodes: Array.isArray(data.nodes) ? data.nodes.map(String) : [] });
				break;
			case MessageType.executing:
				this.#markStarted();
				if (data.node === null) {
					if (data.prompt_id === this.promptId) void this.#readHistory();
				} else this.#job.emitProgress({ type: "executing", node: String(data.node) });
				break;
			case MessageType.progress:
				this.#markStarted();
				this.#job.emitProgress({ type: "progress", node: String(data.node), value: Number(data.value), max: Number(data.max) });
				break;
			case MessageType.executed:
				this.#job.emitProgress({ type: "executed", node: String(data.node), output: (data.output ?? {}) as Record<string, unknown> });
				break;
			case MessageType.executionError:
				this.#settings.coolDown();
				this.#end({ kind: "failed", error: new ComfyUIExecutionError(this.#instance.label, this.promptId, data) });
				break;
			case MessageType.executionInterrupted:
				this.#end({ kind: "failed", error: new ComfyUIInterruptedError(this.#instance.label, this.promptId) });
				break;
		}
	}

	onPreview(preview: Preview): void {
		if (this.#ended) return;
		this.#armStall();
		if (this.#settings.previews) this.#job.emitProgress({ type: "preview", format: preview.format, image: preview.image, node: preview.node });
	}

	onSocketLost(): void {
		if (this.#ended || this.#deaf) return;
		this.#deaf = true;
		// Before the POST has answered, a poll would find no prompt and call it gone: run() starts polling once it is queued.
		if (this.#posted) this.#schedulePoll(0);
	}

	// ── endings ────────────────────────────────────────────────────────────────────────────

	#queued(): void {
		if (this.#announced) return;
		this.#announced = true;
		this.#job.emitProgress({ type: "queued", instance: this.#instance.label, promptId: this.promptId, attempt: this.#settings.attempt });
	}

	#markStarted(): void {
		if (this.#started) return;
		this.#started = true;
		// Its events can beat the reply to POST /prompt: it was queued all the same.
		this.#queued();
		this.#job.emitProgress({ type: "started", instance: this.#instance.label, promptId: this.promptId });
	}

	#end(outcome: AttemptOutcome): void {
		if (this.#ended) return;
		this.#ended = true;
		this.#clearTimers();
		if (this.#left === undefined) this.#instance.trackers.delete(this.promptId);
		this.#finish(outcome);
	}

	async #readHistory(): Promise<void> {
		try {
			const entry = await this.#history();
			if (entry === undefined) return this.#schedulePoll(50);
			this.#fromHistory(entry);
		} catch (error) {
			this.#lost(error);
		}
	}

	#fromHistory(entry: HistoryEntry): void {
		const messages = entry.status?.messages ?? [];
		const failure = messages.find(([type]) => type === MessageType.executionError);
		if (failure !== undefined) {
			this.#settings.coolDown();
			return this.#end({ kind: "failed", error: new ComfyUIExecutionError(this.#instance.label, this.promptId, failure[1]) });
		}
		if (messages.some(([type]) => type === MessageType.executionInterrupted)) {
			return this.#end({ kind: "failed", error: new ComfyUIInterruptedError(this.#instance.label, this.promptId) });
		}
		this.#end({ kind: "done", promptId: this.promptId, history: entry });
	}

	async #history(): Promise<HistoryEntry | undefined> {
		const all = await this.#instance.http.json<Record<string, HistoryEntry>>({ method: "GET", path: `/history/${encodeURIComponent(this.promptId)}` });
		return all[this.promptId];
	}

	/** Where the prompt is in the instance's queue: running, pending, or gone (deleted, cleared, or the instance restarted). */
	async #whereQueued(): Promise<"running" | "pending" | "gone"> {
		const queue = await this.#instance.http.json<{ queue_running?: unknown[][]; queue_pending?: unknown[][] }>({ method: "GET", path: "/queue" });
		if ((queue.queue_running ?? []).some((row) => row[1] === this.promptId)) return "running";
		if ((queue.queue_pending ?? []).some((row) => row[1] === this.promptId)) return "pending";
		return "gone";
	}

	/** The backstop while deaf (its socket is gone): history, then the queue, every second or so. */
	async #poll(): Promise<void> {
		if (this.#ended) return;
		try {
			const entry = await this.#history();
			if (entry !== undefined) return this.#fromHistory(entry);
			const where = await this.#whereQueued();
			if (this.#ended) return;
			if (where === "gone") {
				// Between the two reads it may have finished: history decides.
				const late = await this.#history();
				if (late !== undefined) return this.#fromHistory(late);
				return this.#vanished();
			}
			if (where === "running") this.#markStarted();
			// Seen alive in the queue: while deaf that is the only word we get about it.
			this.#armStall();
			this.#schedulePoll(Math.min(1_000, Math.max(50, this.#settings.stallTimeoutMs / 4)));
		} catch (error) {
			this.#lost(error);
		}
	}

	#schedulePoll(ms: number): void {
		if (this.#ended) return;
		if (this.#pollTimer !== undefined) clearTimeout(this.#pollTimer);
		this.#pollTimer = setTimeout(() => {
			this.#pollTimer = undefined;
			void this.#poll();
		}, ms);
		this.#pollTimer.unref();
	}

	#armStall(): void {
		if (this.#ended) return;
		if (this.#stallTimer !== undefined) clearTimeout(this.#stallTimer);
		this.#stallTimer = setTimeout(() => void this.#stalled(), this.#settings.stallTimeoutMs);
		this.#stallTimer.unref();
	}

	/** No word for stallTimeoutMs: maybe only the events were lost (history says), else fail or hand it to another instance. */
	async #stalled(): Promise<void> {
		if (this.#ended) return;
		const where = `on "${this.#instance.label}"`;
		const stall = new ComfyUITimeoutError(this.#settings.pool, "stall", this.#settings.stallTimeoutMs, this.#settings.attempt, where);
		let position: "running" | "pending" | "gone" = this.#started ? "running" : "pending";
		try {
			const entry = await this.#history();
			if (entry !== undefined) return this.#fromHistory(entry);
			position = await this.#whereQueued();
		} catch (error) {
			this.#instance.reportFailure(error);
		}
		if (this.#ended) return;
		this.#settings.coolDown();
		if (position === "running" || this.#started) {
			void this.#leave(true);
			return this.#end({ kind: "failed", error: stall });
		}
		void this.#leave(false);
		this.#end({ kind: "retry", error: stall });
	}

	#vanished(): void {
		const error = new ComfyUIInstanceError(
			this.#instance.label,
			`following prompt ${this.promptId} (it left the queue without a history entry: deleted, cleared, or the instance restarted)`,
			undefined,
		);
		this.#end(this.#started ? { kind: "failed", error } : { kind: "retry", error });
	}

	#lost(error: unknown): void {
		this.#instance.reportFailure(error);
		// Unreachable is not gone: if the instance comes back with the prompt still queued, it must not run there too.
		if (!this.#started) this.#instance.abandoned.add(this.promptId);
		this.#end(this.#started ? { kind: "failed", error } : { kind: "retry", error });
	}

	#cancel(reason: unknown): void {
		if (this.#ended) return;
		const started = this.#started;
		const error = this.#cancelError(
			reason,
			started ? `while running on "${this.#instance.label}" (interrupted)` : `while queued on "${this.#instance.label}" (deleted)`,
		);
		// The slot is held until the prompt is really gone (#leaving), so the next job does not queue behind it.
		void this.#leave(started);
		this.#end({ kind: "failed", error });
	}

	/** Deletes the prompt from the queue (a deleted prompt gets no event), interrupts it if it runs, and waits for it to leave. */
	async #leave(running: boolean): Promise<void> {
		const http = this.#instance.http;
		const left = new Promise<void>((resolve) => {
			const timer = setTimeout(resolve, LEAVE_GRACE_MS);
			timer.unref();
			this.#left = () => {
				clearTimeout(timer);
				resolve();
			};
		});
		this.#leaving ??= left.finally(() => this.#instance.trackers.delete(this.promptId));
		try {
			await http.send({ method: "POST", path: "/queue", json: { delete: [this.promptId] } });
			const where = running ? "running" : await this.#whereQueued();
			if (where === "gone") {
				const entry = await this.#history().catch(() => undefined);
				if (entry === undefined || !running) this.#left?.();
			}
			// Interrupting by prompt_id cannot hit another client's prompt.
			if (where === "running" || running) await http.send({ method: "POST", path: "/interrupt", json: { prompt_id: this.promptId } });
		} catch {
			// The instance cannot be reached: delete the prompt there once it answers again.
			this.#instance.abandoned.add(this.promptId);
			this.#left?.();
		}
	}

	#cancelError(reason: unknown, where: string): unknown {
		return reason instanceof ComfyUITimeoutError ? reason : new ComfyUICancelledError(this.#settings.pool, where, reason);
	}

	#clearTimers(): void {
		if (this.#stallTimer !== undefined) clearTimeout(this.#stallTimer);
		if (this.#pollTimer !== undefined) clearTimeout(this.#pollTimer);
		this.#stallTimer = undefined;
		this.#pollTimer = undefined;
	}

	async #upload(upload: ComfyUIUpload, signal: AbortSignal): Promise<void> {
		const form = new FormData();
		const blob = upload.data instanceof Blob ? upload.data : new Blob([upload.data as Uint8Array<ArrayBuffer>]);
		form.append("image", blob, upload.name);
		form.append("overwrite", "true");
		if (upload.subfolder !== undefined) form.append("subfolder", upload.subfolder);
		form.append("type", upload.type ?? "input");
		await this.#instance.http.json({ method: "POST", path: "/upload/image", form, signal });
	}
}

function parseJson(body: Buffer): unknown {
	try {
		return JSON.parse(body.toString("utf8"));
	} catch {
		return {};
	}
}
