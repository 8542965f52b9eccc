/**
 * Seed 000's pooled connection: a slot on one instance, held from `pool.getConnection()` until
 * `release()`, with `execute(command, args)` for the calls the seed made (`queue_prompt` runs a
 * workflow to its outputs there).
 */
import { ConfigError } from "../../core/errors.ts";
import type { ComfyUIUpload } from "./attempt.ts";
import { ComfyUIClosedError } from "./errors.ts";
import type { ComfyInstance } from "./instance.ts";
import type { ComfyUIResult } from "./job.ts";
import type { ComfyUIPool, ComfyUIWorkflow, RunOptions } from "./pool.ts";

export interface ExecuteArgs {
	queue_prompt: { workflow: ComfyUIWorkflow } & Omit<RunOptions, "uploads" | "fetchImages"> & {
			uploads?: readonly ComfyUIUpload[];
			fetchImages?: "eager" | "lazy";
		};
	get_queue: Record<string, never> | undefined;
	get_history: { promptId: string };
	system_stats: Record<string, never> | undefined;
	interrupt: { promptId?: string } | undefined;
}

export interface ExecuteResults {
	queue_prompt: ComfyUIResult;
	get_queue: { queue_running: unknown[]; queue_pending: unknown[] };
	get_history: Record<string, unknown>;
	system_stats: Record<string, unknown>;
	interrupt: undefined;
}

export type ComfyUICommand = keyof ExecuteArgs;

export class ComfyUIConnection {
	readonly #pool: ComfyUIPool;
	readonly #instance: ComfyInstance;
	#released = false;

	/** @internal Use `pool.getConnection()`. */
	constructor(pool: ComfyUIPool, instance: ComfyInstance) {
		this.#pool = pool;
		this.#instance = instance;
	}

	/** The instance this connection runs on. */
	get instance(): string {
		return this.#instance.label;
	}

	execute<C extends ComfyUICommand>(
		command: C,
		...args: ExecuteArgs[C] extends undefined | Record<string, never> ? [ExecuteArgs[C]?] : [ExecuteArgs[C]]
	): Promise<ExecuteResults[C]> {
		if (this.#released) return Promise.reject(new ComfyUIClosedError(`${this.#pool.name}: connection released`));
		const arg = args[0] as Record<string, unknown> | undefined;
		const http = this.#instance.http;
		switch (command) {
			case "queue_prompt": {
				const { workflow, ...options } = (arg ?? {}) as ExecuteArgs["queue_prompt"];
				if (typeof workflow !== "object" || workflow === null) {
					return Promise.reject(new ConfigError('execute("queue_prompt")', [{ path: "workflow", message: "required: the workflow in API format" }]));
				}
				return this.#pool.runOn(this.#instance, workflow, options) as Promise<ExecuteResults[C]>;
			}
			case "get_queue":
				return http.json({ method: "GET", path: "/queue" });
			case "get_history":
				return http.json({ method: "GET", path: `/history/${encodeURIComponent(String(arg?.promptId ?? ""))}` });
			case "system_stats":
				return http.json({ method: "GET", path: "/system_stats" });
			case "interrupt":
				return http
					.json({ method: "POST", path: "/interrupt", json: arg?.promptId === undefined ? {} : { prompt_id: arg.promptId } })
					.then(() => undefined) as Promise<ExecuteResults[C]>;
			default:
				return Promise.reject(
					new ConfigError("execute", [
						{ path: "command", message: `unknown command ${JSON.stringify(command)}; one of queue_prompt, get_queue, get_history, system_stats, interrupt` },
					]),
				);
		}
	}

	/** Gives the slot back to the pool (idempotent). */
	release(): void {
		if (this.#released) return;
		this.#released = true;
		this.#pool.releaseSlot(this.#instance);
	}

	[Symbol.asyncDispose](): Promise<void> {
		this.release();
		return Promise.resolve();
	}
}
