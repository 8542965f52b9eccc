/**
 * One deployment: a model at a provider (`openai/gpt-4o`). It owns a core pool of request
 * slots (its size is `maxConcurrent`: the pool's stats are the deployment's in-flight requests,
 * queue and wait times) and its cooldown, which works as a circuit breaker: a failure opens it
 * for the provider's Retry-After or `cooldownMs`, then one probe request is let through
 * (half-open) and its success closes it. A deployment alone in its group cools down too.
 */

import { Histogram } from "../../core/histogram.ts";
import { createPool, type Pool } from "../../core/pool.ts";
import type { BreakerView } from "../../manager/client.ts";
import type { LlmError } from "./errors.ts";
import type { ResolvedDeployment } from "./options.ts";
import type { ResolvedProvider } from "./providers.ts";

export type DeploymentState = "closed" | "open" | "halfOpen";

/** A request slot on one deployment: what the deployment's pool lends. */
export class LlmSlot {
	readonly deployment: string;
	constructor(deployment: string) {
		this.deployment = deployment;
	}
}

export class Deployment {
	readonly label: string;
	readonly provider: ResolvedProvider;
	readonly upstreamModel: string;
	readonly tuning: ResolvedDeployment["tuning"];
	readonly pool: Pool<LlmSlot>;
	#openUntil = 0;
	#halfOpen = false;
	#probing = false;
	#failures = 0;
	/** A request is retrying this deployment while it cools down (the last resort): only one at a time. */
	#retrying = false;
	/** The cooldown is the provider's own ask (Retry-After), not a guess. */
	#waitGiven = false;
	#lastError: string | undefined;
	#requests = 0;
	#errors = 0;
	/** Time to the response headers of the requests it answered. */
	readonly headersMs = new Histogram();
	#promptTokens = 0;
	#completionTokens = 0;

	constructor(clientName: string, d: ResolvedDeployment) {
		this.label = d.label;
		this.provider = d.provider;
		this.upstreamModel = d.upstreamModel;
		this.tuning = d.tuning;
		this.pool = createPool<LlmSlot>({
			name: `${clientName}[${d.label}]`,
			create: () => new LlmSlot(d.label),
			max: d.tuning.maxConcurrent,
			maxWaiters: d.tuning.maxQueue,
			acquireTimeoutMs: d.tuning.queueTimeoutMs,
			// Slots hold no socket (connections live in the dispatcher): nothing to expire or check.
			maxLifetimeMs: 0,
			validateAfterIdleMs: 0,
			maxConnecting: d.tuning.maxConcurrent,
		});
	}

	state(now = Date.now()): DeploymentState {
		if (this.#openUntil > now) return "open";
		return this.#halfOpen ? "halfOpen" : "closed";
	}

	/** Can take a request now: not cooling down, and not half-open with its probe still out. */
	available(now = Date.now()): boolean {
		if (this.#openUntil > now) return false;
		return !(this.#halfOpen && this.#probing);
	}

	/** When the cooldown ends (epoch ms), or 0 when not cooling down. */
	get openUntil(): number {
		return this.#openUntil > Date.now() ? this.#openUntil : 0;
	}

	/** Cooling down after a failure the provider put no wait on: worth a last-resort retry when nothing else can serve. */
	get retryableNow(): boolean {
		return this.#openUntil > Date.now() && !this.#waitGiven;
	}

	/**
	 * Takes the deployment's one last-resort retry; false while another request holds it. Each
	 * request already tried it once: letting every one of them retry too would multiply the
	 * traffic of a backend that is failing by maxAttempts.
	 */
	claimRetry(): boolean {
		if (this.#retrying) return false;
		this.#retrying = true;
		return true;
	}

	releaseRetry(): void {
		this.#retrying = false;
	}

	/** Requests in flight plus waiting for a slot: what least-busy routing compares. */
	get busy(): number {
		return this.pool.activeCount + this.pool.pendingCount;
	}

	/** Counts the tokens a request reported. */
	recordUsage(usage: { promptTokens: number; completionTokens: number } | undefined): void {
		if (usage === undefined) return;
		this.#promptTokens += usage.promptTokens;
		this.#completionTokens += usage.completionTokens;
	}

	/** Marks the start of an attempt; a half-open deployment's first attempt is its probe. */
	begin(): void {
		this.#requests++;
		if (this.#halfOpen) this.#probing = true;
	}

	/** It answered: closed again, also after a last-resort try during its cooldown. */
	succeed(): void {
		this.#openUntil = 0;
		this.#failures = 0;
		this.#halfOpen = false;
		this.#probing = false;
	}

	/** The deployment failed: cool down for the provider's Retry-After (capped) or `cooldownMs`. */
	fail(error: LlmError, maxCooldownMs: number, now = Date.now()): void {
		this.#failures++;
		this.#errors++;
		this.#lastError = `${error.code}: ${error.message}`;
		const ms = error.retryAfterMs !== undefined ? Math.min(error.retryAfterMs, maxCooldownMs) : this.tuning.cooldownMs;
		this.#openUntil = now + ms;
		this.#waitGiven = error.retryAfterMs !== undefined;
		this.#halfOpen = true;
		this.#probing = false;
	}

	/** An attempt that ended for a reason that says nothing of the deployment (the caller aborted, a bad request). */
	settle(): void {
		this.#probing = false;
	}

	breaker(): BreakerView {
		const state = this.state();
		return {
			label: this.label,
			state,
			...(state === "open" ? { retryAtMs: this.#openUntil } : {}),
			failures: this.#failures,
			...(this.#lastError === undefined ? {} : { lastError: this.#lastError }),
		};
	}

	details(): Record<string, unknown> {
		return {
			label: this.label,
			provider: this.provider.name,
			preset: this.provider.preset,
			origin: this.provider.origin,
			model: this.upstreamModel,
			state: this.state(),
			inFlight: this.pool.activeCount,
			queued: this.pool.pendingCount,
			maxConcurrent: this.tuning.maxConcurrent,
			requests: this.#requests,
			errors: this.#errors,
			headersMs: this.headersMs.summary(),
			tokens: { prompt: this.#promptTokens, completion: this.#completionTokens },
			...(this.tuning.rpm === undefined ? {} : { rpm: this.tuning.rpm }),
			...(this.tuning.tpm === undefined ? {} : { tpm: this.tuning.tpm }),
		};
	}
}
