/**
 * The ComfyUI pool: one queue of jobs over several instances. A job waits here (bounded) until
 * an instance that is up has a free slot, goes to the one the strategy picks, and is followed
 * to its outputs; one that stalls before starting, or whose instance dies before it started,
 * moves to another instance (at most `maxAttempts`). Workflow errors are final.
 */
import { performance } from "node:perf_hooks";
import type { Dispatcher } from "undici";
import { durationProblem } from "../../core/duration.ts";
import { ConfigError, messageOf } from "../../core/errors.ts";
import { type CloseOptions, closeTimeout } from "../../core/pool.ts";
import { type BreakerView, ClientKind, type ClientPool, type ManagedClient } from "../../manager/client.ts";
import { Attempt, type AttemptOutcome, type ComfyUIUpload } from "./attempt.ts";
import { ComfyUIConnection } from "./connection.ts";
import { ComfyUICancelledError, ComfyUIClosedError, ComfyUIInstanceError, ComfyUIQueueFullError, ComfyUITimeoutError } from "./errors.ts";
import { loadUndici } from "./http.ts";
import { ComfyInstance, type ComfyUIInstanceStats, InstanceState } from "./instance.ts";
import { type ComfyUIImage, ComfyUIJob, type ComfyUIProgress, type ComfyUIResult } from "./job.ts";
import { ChoiceStrategy, type ComfyUIConfig, type ComfyUIPoolOptions, configUrl, type ResolvedPoolOptions, resolvePoolOptions } from "./options.ts";
import { instanceBreaker, instancePoolView } from "./pool-view.ts";
import { workflowKeyOf } from "./workflow-key.ts";

/** A ComfyUI workflow in API format: node id → `{ class_type, inputs }`. */
export type ComfyUIWorkflow = Record<string, unknown>;

export interface RunOptions {
	/** Cancels the job wherever it is (our queue, the instance's queue, running). */
	signal?: AbortSignal;
	/** This job's deadline, queue wait included. Default the pool's `timeoutMs`. */
	timeoutMs?: number;
	/** Default the pool's `stallTimeoutMs`. */
	stallTimeoutMs?: number;
	/** Called with each progress event (also emitted as `progress` and yielded by the job's iterator). */
	onProgress?: (event: ComfyUIProgress) => void;
	/** Deliver preview images (binary frames) as `preview` progress events. Default false. */
	previews?: boolean;
	/** Input images, uploaded to the instance that runs the job, before its prompt. */
	uploads?: readonly ComfyUIUpload[];
	/** What cooldowns are keyed by. Default: a hash of the workflow. */
	workflowKey?: string;
	/** Default the pool's `fetchImages`. */
	fetchImages?: "eager" | "lazy";
}

export interface AcquireSlotOptions {
	signal?: AbortSignal;
	/** Default the pool's `timeoutMs`. */
	timeoutMs?: number;
}

export interface ComfyUIPoolStats {
	name: string;
	/** Jobs waiting for a slot. */
	queued: number;
	/** Jobs on instances now. */
	running: number;
	max: number;
	instancesUp: number;
	instances: Record<string, ComfyUIInstanceStats>;
}

interface Waiter {
	excluded: ReadonlySet<ComfyInstance>;
	workflowKey: string | undefined;
	resolve(instance: ComfyInstance): void;
	reject(error: unknown): void;
}

export class ComfyUIPool implements ManagedClient {
	readonly name: string;
	readonly kind = ClientKind.comfyui;
	readonly #options: ResolvedPoolOptions;
	readonly #instances: ComfyInstance[];
	readonly #waiting: Waiter[] = [];
	readonly #jobs = new Set<{ job: ComfyUIJob; work: Promise<void> }>();
	readonly #agents = new Map<boolean, Promise<Dispatcher>>();
	#running = 0;
	#next = 0;
	#started = false;
	#closed = false;

	constructor(options: ComfyUIPoolOptions) {
		this.#options = resolvePoolOptions(options);
		this.name = this.#options.name;
		this.#instances = this.#options.instances.map(
			(resolved) =>
				new ComfyInstance(
					resolved,
					this.#options,
					() => this.#dispatcher(resolved.verifyTls),
					() => this.#pump(),
				),
		);
	}

	/** Starts probing every instance; resolves when `min` are up (rejects after `requestTimeoutMs` × 2 if they are not: they keep probing). */
	async start(): Promise<void> {
		this.#ensureStarted();
		const deadline = Date.now() + this.#options.requestTimeoutMs * 2;
		while (this.#instances.filter((i) => i.state === InstanceState.up).length < this.#options.min) {
			if (this.#closed) throw new ComfyUIClosedError(this.name);
			if (Date.now() > deadline) {
				const why = this.#instances.map((i) => `${i.label}: ${i.stats().lastError ?? i.state}`).join("; ");
				throw new ComfyUIInstanceError(this.name, `start (fewer than min ${this.#options.min} instances up: ${why})`, undefined);
			}
			await new Promise((r) => setTimeout(r, 20));
		}
	}

	/** Runs a workflow to its outputs (image bytes fetched unless `fetchImages: "lazy"`). */
	run(workflow: ComfyUIWorkflow, options: RunOptions = {}): Promise<ComfyUIResult> {
		return this.submit(workflow, options).result;
	}

	/** Queues a workflow and returns its job at once: progress as events and an async iterator, `result`, `cancel()`. */
	submit(workflow: ComfyUIWorkflow, options: RunOptions = {}): ComfyUIJob {
		const job = new ComfyUIJob(options.onProgress);
		if (this.#closed) {
			job.reject(new ComfyUIClosedError(this.name));
			return job;
		}
		const badTimeout = this.#timeoutProblem("run", options.timeoutMs);
		if (badTimeout !== undefined) {
			job.reject(badTimeout);
			return job;
		}
		if (this.#waiting.length >= this.#options.maxQueued) {
			job.reject(new ComfyUIQueueFullError(this.name, this.#options.maxQueued));
			return job;
		}
		this.#ensureStarted();
		this.#follow(job, workflow, options, undefined);
		return job;
	}

	/**
	 * Seed 000's shape: a slot on one instance, held until `release()`. Its
	 * `execute("queue_prompt", { workflow })` runs there.
	 */
	async getConnection(options: AcquireSlotOptions = {}): Promise<ComfyUIConnection> {
		if (this.#closed) throw new ComfyUIClosedError(this.name);
		const badTimeout = this.#timeoutProblem("getConnection", options.timeoutMs);
		if (badTimeout !== undefined) throw badTimeout;
		this.#ensureStarted();
		const timeoutMs = options.timeoutMs ?? this.#options.timeoutMs;
		const signals = [AbortSignal.timeout(timeoutMs), ...(options.signal === undefined ? [] : [options.signal])];
		const signal = AbortSignal.any(signals);
		const instance = await this.#slot(signal, new Set(), undefined).catch((error: unknown) => {
			if (options.signal?.aborted) throw new ComfyUICancelledError(this.name, "while waiting for an instance", options.signal.reason);
			if (signal.aborted) throw new ComfyUITimeoutError(this.name, "deadline", timeoutMs, 0, "waiting for an instance");
			throw error;
		});
		return new ComfyUIConnection(this, instance);
	}

	/** @internal A job on a slot the caller already holds (a connection's). */
	runOn(instance: ComfyInstance, workflow: ComfyUIWorkflow, options: RunOptions): Promise<ComfyUIResult> {
		const job = new ComfyUIJob(options.onProgress);
		const badTimeout = this.#timeoutProblem("execute", options.timeoutMs);
		if (this.#closed) job.reject(new ComfyUIClosedError(this.name));
		else if (badTimeout !== undefined) job.reject(badTimeout);
		else this.#follow(job, workflow, options, instance);
		return job.result;
	}

	/** @internal Gives a connection's slot back. */
	releaseSlot(instance: ComfyInstance): void {
		this.#release(instance);
	}

	stats(): ComfyUIPoolStats {
		const instances: Record<string, ComfyUIInstanceStats> = {};
		for (const instance of this.#instances) instances[instance.label] = instance.stats();
		return {
			name: this.name,
			queued: this.#waiting.length,
			running: this.#running,
			max: this.#options.max,
			instancesUp: this.#instances.filter((i) => i.state === InstanceState.up).length,
			instances,
		};
	}

	/** Each instance as a pool: its job slots, labelled with the instance's name. */
	pools(): ClientPool[] {
		return this.#instances.map((instance) => ({ label: instance.label, pool: instancePoolView(this.name, instance) }));
	}

	/** Each instance as a breaker: closed while up, open while down (until its next probe), half open while probing. */
	breakers(): BreakerView[] {
		return this.#instances.map(instanceBreaker);
	}

	details(): Record<string, unknown> {
		return { ...this.stats(), strategy: this.#options.strategy };
	}

	/** Refuses new jobs, fails queued ones (POOL_CLOSED), lets running ones finish until `timeoutMs` (default 30 000), then cancels them. */
	async close(options?: CloseOptions): Promise<void> {
		const timeoutMs = closeTimeout(`comfyui pool "${this.name}": close`, options);
		if (this.#closed && this.#jobs.size === 0) return;
		this.#closed = true;
		for (const waiter of this.#waiting.splice(0)) waiter.reject(new ComfyUIClosedError(this.name));
		const work = Promise.all([...this.#jobs].map((j) => j.work));
		let timer: NodeJS.Timeout | undefined;
		// Infinity waits for the jobs (a timer cannot be armed for it: Node would fire it after 1 ms).
		const deadline = new Promise<boolean>((r) => {
			if (timeoutMs !== Number.POSITIVE_INFINITY) timer = setTimeout(() => r(true), timeoutMs);
		});
		const expired = await Promise.race([work.then(() => false), deadline]);
		clearTimeout(timer);
		if (expired) {
			for (const { job } of this.#jobs) job.cancel(new ComfyUIClosedError(this.name));
			await Promise.race([work, new Promise((r) => setTimeout(r, 1_000).unref())]);
		}
		for (const instance of this.#instances) instance.close();
		const agents = [...this.#agents.values()];
		this.#agents.clear();
		// Destroyed, not closed: what is still in flight now is a probe or a poll nobody waits for.
		await Promise.all(agents.map(async (a) => (await a).destroy().catch(() => {})));
	}

	[Symbol.asyncDispose](): Promise<void> {
		return this.close();
	}

	/** A per-call deadline Node cannot arm as given (negative, NaN, past 2^31-1 ms: each fires after 1 ms; a string) is a ConfigError. */
	#timeoutProblem(call: string, timeoutMs: unknown): ConfigError | undefined {
		if (timeoutMs === undefined) return undefined;
		const problem = durationProblem(timeoutMs);
		return problem === undefined ? undefined : new ConfigError(`comfyui pool "${this.name}": ${call}()`, [{ path: "timeoutMs", message: problem }]);
	}

	// ── one job, attempt by attempt ────────────────────────────────────────────────────────

	/** Runs the job under its deadline and signal, and settles it; close() waits for what this tracks. */
	#follow(job: ComfyUIJob, workflow: ComfyUIWorkflow, options: RunOptions, pinned: ComfyInstance | undefined): void {
		const timeoutMs = options.timeoutMs ?? this.#options.timeoutMs;
		const deadline = setTimeout(() => job.cancel(new ComfyUITimeoutError(this.name, "deadline", timeoutMs, 0, "")), timeoutMs);
		deadline.unref();
		const onAbort = () => job.cancel(options.signal?.reason);
		if (options.signal?.aborted) onAbort();
		else options.signal?.addEventListener("abort", onAbort, { once: true });
		const entry = { job, work: Promise.resolve() };
		entry.work = this.#execute(job, workflow, options, pinned)
			.then(
				(result) => job.resolve(result),
				(error: unknown) => job.reject(error),
			)
			.finally(() => {
				clearTimeout(deadline);
				options.signal?.removeEventListener("abort", onAbort);
				this.#jobs.delete(entry);
			});
		this.#jobs.add(entry);
	}

	async #execute(job: ComfyUIJob, workflow: ComfyUIWorkflow, options: RunOptions, pinned: ComfyInstance | undefined): Promise<ComfyUIResult> {
		const started = performance.now();
		const key = options.workflowKey ?? workflowKeyOf(workflow);
		const excluded = new Set<ComfyInstance>();
		const attempts = pinned === undefined ? this.#options.maxAttempts : 1;
		let last: unknown;
		for (let attempt = 1; attempt <= attempts; attempt++) {
			const instance = pinned ?? (await this.#slotFor(job, excluded, key));
			instance.waitMs.record(performance.now() - started);
			instance.dispatched++;
			const run = new Attempt(instance, job, {
				pool: this.name,
				stallTimeoutMs: options.stallTimeoutMs ?? this.#options.stallTimeoutMs,
				previews: options.previews ?? false,
				attempt,
				coolDown: () => instance.coolDown(key),
			});
			let outcome: AttemptOutcome;
			try {
				outcome = await run.run(workflow, options.uploads ?? []);
			} finally {
				if (pinned === undefined) {
					const leaving = run.leaving;
					if (leaving === undefined) this.#release(instance);
					else void leaving.then(() => this.#release(instance));
				}
			}
			if (outcome.kind === "done") {
				instance.completed++;
				const result = await this.#result(
					instance,
					outcome.promptId,
					outcome.history.outputs ?? {},
					attempt,
					started,
					options.fetchImages ?? this.#options.fetchImages,
				);
				instance.jobMs.record(performance.now() - started);
				return result;
			}
			instance.failed++;
			if (outcome.kind === "failed") throw outcome.error;
			last = outcome.error;
			excluded.add(instance);
			if (job.signal.aborted) throw cancelError(this.name, job.signal.reason, "while being re-queued");
			if (attempt < attempts) job.emitProgress({ type: "requeued", from: instance.label, reason: messageOf(outcome.error) });
		}
		throw last;
	}

	async #result(
		instance: ComfyInstance,
		promptId: string,
		outputs: Record<string, Record<string, unknown>>,
		attempts: number,
		started: number,
		fetch: "eager" | "lazy",
	): Promise<ComfyUIResult> {
		const images: ComfyUIImage[] = [];
		for (const [nodeId, output] of Object.entries(outputs)) {
			const list = Array.isArray(output.images) ? (output.images as { filename?: unknown; subfolder?: unknown; type?: unknown }[]) : [];
			for (const item of list) {
				const image: ComfyUIImage = {
					nodeId,
					filename: String(item.filename ?? ""),
					subfolder: String(item.subfolder ?? ""),
					type: String(item.type ?? "output"),
					bytes: undefined,
					fetch: async () => {
						if (image.bytes !== undefined) return image.bytes;
						const query = new URLSearchParams({ filename: image.filename, subfolder: image.subfolder, type: image.type });
						const answer = await instance.http.send({ method: "GET", path: `/view?${query}` });
						if (answer.status !== 200) throw new ComfyUIInstanceError(instance.label, `GET /view (${image.filename})`, answer.status);
						image.bytes = answer.body;
						return answer.body;
					},
				};
				images.push(image);
			}
		}
		if (fetch === "eager") await Promise.all(images.map((i) => i.fetch()));
		return { promptId, instance: instance.label, outputs, images, attempts, durationMs: performance.now() - started };
	}

	// ── slots: the queue and the choice of instance ────────────────────────────────────────

	#slotFor(job: ComfyUIJob, excluded: ReadonlySet<ComfyInstance>, key: string): Promise<ComfyInstance> {
		return this.#slot(job.signal, excluded, key).catch((error: unknown) => {
			if (job.signal.aborted) throw cancelError(this.name, job.signal.reason, "while queued in the pool");
			throw error;
		});
	}

	#slot(signal: AbortSignal, excluded: ReadonlySet<ComfyInstance>, workflowKey: string | undefined): Promise<ComfyInstance> {
		if (signal.aborted) return Promise.reject(signal.reason);
		if (this.#closed) return Promise.reject(new ComfyUIClosedError(this.name));
		return new Promise<ComfyInstance>((resolve, reject) => {
			const onAbort = () => {
				const i = this.#waiting.indexOf(waiter);
				if (i >= 0) this.#waiting.splice(i, 1);
				reject(signal.reason);
			};
			const waiter: Waiter = {
				excluded,
				workflowKey,
				resolve: (instance) => {
					signal.removeEventListener("abort", onAbort);
					resolve(instance);
				},
				reject: (error) => {
					signal.removeEventListener("abort", onAbort);
					reject(error);
				},
			};
			signal.addEventListener("abort", onAbort, { once: true });
			this.#waiting.push(waiter);
			this.#pump();
		});
	}

	/** Hands free slots to waiters, first come first served; a waiter no free instance suits lets the next one by. */
	#pump(): void {
		if (this.#closed) return;
		for (let i = 0; i < this.#waiting.length && this.#running < this.#options.max; ) {
			const waiter = this.#waiting[i];
			const instance = this.#choose(waiter);
			if (instance === undefined) {
				i++;
				continue;
			}
			this.#waiting.splice(i, 1);
			instance.busy++;
			if (instance.busy > instance.peakBusy) instance.peakBusy = instance.busy;
			this.#running++;
			waiter.resolve(instance);
		}
	}

	#choose(waiter: Waiter): ComfyInstance | undefined {
		const free = this.#instances.filter((i) => i.available);
		if (free.length === 0) return undefined;
		const now = Date.now();
		const suits = (i: ComfyInstance) => !waiter.excluded.has(i) && (waiter.workflowKey === undefined || !i.coolingFor(waiter.workflowKey, now));
		let candidates = free.filter(suits);
		if (candidates.length === 0) {
			// Another instance would suit once free or back: wait for it. Only when none ever could, take what there is.
			if (this.#instances.some((i) => suits(i) && i.state !== InstanceState.closed)) return undefined;
			candidates = free;
		}
		const chosen = this.#pick(candidates);
		this.#next = this.#instances.indexOf(chosen) + 1;
		return chosen;
	}

	#pick(candidates: ComfyInstance[]): ComfyInstance {
		const n = this.#instances.length;
		// Rotation order from the instance after the last one chosen: ties go round robin.
		const rotated = [...candidates].sort((a, b) => ((this.#instances.indexOf(a) - this.#next + n) % n) - ((this.#instances.indexOf(b) - this.#next + n) % n));
		const strategy = this.#options.strategy;
		if (strategy === ChoiceStrategy.roundRobin) return rotated[0];
		if (strategy === ChoiceStrategy.idleFirst) {
			const idle = rotated.find((i) => i.load === 0);
			if (idle !== undefined) return idle;
		}
		let best = rotated[0];
		for (const candidate of rotated) if (candidate.load < best.load) best = candidate;
		return best;
	}

	#release(instance: ComfyInstance): void {
		instance.busy--;
		this.#running--;
		this.#pump();
	}

	#ensureStarted(): void {
		if (this.#started) return;
		this.#started = true;
		for (const instance of this.#instances) instance.start();
	}

	#dispatcher(verifyTls: boolean): Promise<Dispatcher> {
		if (this.#options.dispatcher !== undefined) return Promise.resolve(this.#options.dispatcher);
		let agent = this.#agents.get(verifyTls);
		if (agent === undefined) {
			agent = loadUndici().then(({ Agent }) => new Agent({ connect: { rejectUnauthorized: verifyTls }, keepAliveTimeout: 4_000 }));
			this.#agents.set(verifyTls, agent);
		}
		return agent;
	}
}

function cancelError(pool: string, reason: unknown, where: string): unknown {
	return reason instanceof ComfyUITimeoutError || reason instanceof ComfyUIClosedError ? reason : new ComfyUICancelledError(pool, where, reason);
}

/** Seed 000's construction: one server by ComfyUIConfig, with min/max. `max` prompts are kept in flight on it (ComfyUI queues them). */
export interface ComfyUISeedOptions extends ComfyUIConfig, Omit<ComfyUIPoolOptions, "instances" | "concurrency" | "requestTimeoutMs" | "min" | "max"> {
	/** Default 1. */
	min?: number;
	/** Connections (`getConnection()`) and jobs at once. Default 5, as in the seed. */
	max?: number;
}

/**
 * A pool over ComfyUI instances (see {@link ComfyUIPoolOptions}), or, given `host`, seed 000's
 * one-server pool with min/max and ComfyUIConfig fields.
 */
export function createComfyUIPool(options: ComfyUIPoolOptions | ComfyUISeedOptions): ComfyUIPool {
	if (typeof options === "object" && options !== null && "host" in options) {
		const { host, port, apiPath, timeout, secure, verifyTls, auth, min, max = 5, ...rest } = options;
		return new ComfyUIPool({
			...rest,
			instances: [{ url: configUrl({ host, port, apiPath, secure }), auth, verifyTls, concurrency: max }],
			min: min ?? 1,
			...(timeout === undefined ? {} : { requestTimeoutMs: Math.round(timeout * 1000) }),
		});
	}
	return new ComfyUIPool(options as ComfyUIPoolOptions);
}
