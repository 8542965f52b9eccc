/**
 * A job handle: its progress as events, as a callback and as an async iterator, its result,
 * and `cancel()`. The pool drives it; the caller only reads it.
 */
import { EventEmitter } from "node:events";

/** One output image: where ComfyUI keeps it, and its bytes (fetched before `run()` resolves unless `fetchImages: "lazy"`). */
export interface ComfyUIImage {
	nodeId: string;
	filename: string;
	subfolder: string;
	type: string;
	/** The bytes, when fetched. */
	bytes: Buffer | undefined;
	/** Fetches the bytes from the instance that made the image (cached after the first call). */
	fetch(): Promise<Buffer>;
}

export interface ComfyUIResult {
	promptId: string;
	/** The instance that ran it. */
	instance: string;
	/** ComfyUI's outputs per node id, as in /history. */
	outputs: Record<string, Record<string, unknown>>;
	images: ComfyUIImage[];
	/** Instances tried (1 unless it was re-queued). */
	attempts: number;
	/** From submit to outputs, queue wait included. */
	durationMs: number;
}

export type ComfyUIProgress =
	| { type: "queued"; instance: string; promptId: string; attempt: number }
	| { type: "started"; instance: string; promptId: string }
	| { type: "cached"; nodes: string[] }
	| { type: "executing"; node: string }
	| { type: "progress"; node: string; value: number; max: number }
	| { type: "executed"; node: string; output: Record<string, unknown> }
	| { type: "preview"; format: "jpeg" | "png"; image: Buffer; node: string | undefined }
	| { type: "requeued"; from: string; reason: string };

/** Progress events an iterator keeps while nobody reads: previews beyond it are dropped first. */
const ITERATOR_BUFFER = 10_000;

export class ComfyUIJob extends EventEmitter<{ progress: [ComfyUIProgress] }> implements AsyncIterable<ComfyUIProgress> {
	/** Settles once: outputs, or the typed error (workflow, execution, stall, cancel, deadline). */
	readonly result: Promise<ComfyUIResult>;
	/** The current attempt's prompt id and instance, once queued on one. */
	promptId: string | undefined;
	instance: string | undefined;
	readonly #controller = new AbortController();
	readonly #log: ComfyUIProgress[] = [];
	readonly #readers = new Set<() => void>();
	readonly #onProgress: ((event: ComfyUIProgress) => void) | undefined;
	#settle!: { resolve(result: ComfyUIResult): void; reject(error: unknown): void };
	#outcome: { ok: true } | { ok: false; error: unknown } | undefined;

	constructor(onProgress?: (event: ComfyUIProgress) => void) {
		super();
		this.#onProgress = onProgress;
		this.result = new Promise<ComfyUIResult>((resolve, reject) => {
			this.#settle = { resolve, reject };
		});
		// A caller that only iterates, or only listens, must not see an unhandled rejection.
		this.result.catch(() => {});
	}

	/** Aborted when the caller cancels or the deadline passes; the pool's own work listens to it. @internal */
	get signal(): AbortSignal {
		return this.#controller.signal;
	}

	get settled(): boolean {
		return this.#outcome !== undefined;
	}

	/** Cancels: removed from the pool's queue, deleted from the instance's queue, or interrupted while running. */
	cancel(reason?: unknown): void {
		if (!this.settled) this.#controller.abort(reason);
	}

	/** @internal */
	emitProgress(event: ComfyUIProgress): void {
		if (this.settled) return;
		if (event.type === "queued" || event.type === "started") {
			this.promptId = event.promptId;
			this.instance = event.instance;
		}
		if (this.#log.length >= ITERATOR_BUFFER) {
			const preview = this.#log.findIndex((e) => e.type === "preview");
			if (preview >= 0) this.#log.splice(preview, 1);
			else if (event.type === "preview") return;
		}
		this.#log.push(event);
		for (const wake of this.#readers) wake();
		try {
			this.#onProgress?.(event);
		} catch {
			// A progress callback's error is the caller's: it does not fail the job.
		}
		this.emit("progress", event);
	}

	/** @internal */
	resolve(result: ComfyUIResult): void {
		if (this.settled) return;
		this.#outcome = { ok: true };
		this.#settle.resolve(result);
		for (const wake of this.#readers) wake();
	}

	/** @internal */
	reject(error: unknown): void {
		if (this.settled) return;
		this.#outcome = { ok: false, error };
		this.#settle.reject(error);
		for (const wake of this.#readers) wake();
	}

	/** Every progress event from the start; ends when the job succeeds, throws its error when it fails. */
	async *[Symbol.asyncIterator](): AsyncIterator<ComfyUIProgress> {
		let index = 0;
		while (true) {
			while (index < this.#log.length) yield this.#log[index++];
			const outcome = this.#outcome;
			if (outcome !== undefined) {
				if (outcome.ok) return;
				throw outcome.error;
			}
			await new Promise<void>((resolve) => {
				const wake = () => {
					this.#readers.delete(wake);
					resolve();
				};
				this.#readers.add(wake);
			});
		}
	}
}
