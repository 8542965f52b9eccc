/**
 * The gateway's client keys, issued in the config (never the providers' keys): who may call,
 * which models each key may use, and each key's own requests and tokens per minute. Keys are
 * looked up by their SHA-256, so the table never holds one in the clear after start.
 */
import { hash as digest } from "node:crypto";
import { performance } from "node:perf_hooks";

export interface ClientKeyConfig {
	/** Shown in metrics, usage and logs instead of the key. */
	name: string;
	key: string;
	/** Models this key may use; absent: every model. */
	models?: string[];
	/** Requests per minute. */
	rpm?: number;
	/** Tokens per minute (prompt + completion, as the provider reports them). */
	tpm?: number;
}

/** A bucket refilled continuously to `perMinute`; it may go negative when a request used more tokens than were left. */
class MinuteBucket {
	readonly #perMinute: number;
	#level: number;
	#at: number;

	constructor(perMinute: number) {
		this.#perMinute = perMinute;
		this.#level = perMinute;
		this.#at = performance.now();
	}

	#refill(): void {
		const now = performance.now();
		this.#level = Math.min(this.#perMinute, this.#level + ((now - this.#at) * this.#perMinute) / 60_000);
		this.#at = now;
	}

	/** Milliseconds until one unit is available; 0 when there is one now. */
	waitMs(): number {
		this.#refill();
		return this.#level >= 1 ? 0 : Math.ceil(((1 - this.#level) * 60_000) / this.#perMinute);
	}

	take(n: number): void {
		this.#refill();
		this.#level -= n;
	}
}

export class ClientKey {
	readonly name: string;
	readonly #models: ReadonlySet<string> | undefined;
	readonly #requests: MinuteBucket | undefined;
	readonly #tokens: MinuteBucket | undefined;

	constructor(config: ClientKeyConfig) {
		this.name = config.name;
		this.#models = config.models === undefined ? undefined : new Set(config.models);
		this.#requests = config.rpm === undefined ? undefined : new MinuteBucket(config.rpm);
		this.#tokens = config.tpm === undefined ? undefined : new MinuteBucket(config.tpm);
	}

	allows(model: string): boolean {
		return this.#models === undefined || this.#models.has(model);
	}

	/** Takes one request from the key's budget; returns how long to wait instead (ms, > 0) and which limit, when over. */
	admit(): { waitMs: number; limit: "rpm" | "tpm" } | undefined {
		const tokenWait = this.#tokens?.waitMs() ?? 0;
		if (tokenWait > 0) return { waitMs: tokenWait, limit: "tpm" };
		const requestWait = this.#requests?.waitMs() ?? 0;
		if (requestWait > 0) return { waitMs: requestWait, limit: "rpm" };
		this.#requests?.take(1);
		return undefined;
	}

	/** Charges the tokens a request used, once the provider said. */
	charge(tokens: number): void {
		this.#tokens?.take(tokens);
	}
}

export class ClientKeys {
	readonly #byHash = new Map<string, ClientKey>();

	constructor(configs: readonly ClientKeyConfig[]) {
		for (const config of configs) this.#byHash.set(hash(config.key), new ClientKey(config));
	}

	get size(): number {
		return this.#byHash.size;
	}

	/** The key an `Authorization: Bearer` or `x-api-key` header carries, if it is one of ours. */
	find(authorization: string | undefined, xApiKey: string | undefined): ClientKey | undefined {
		const given = xApiKey ?? (authorization?.startsWith("Bearer ") ? authorization.slice(7).trim() : undefined);
		return given === undefined || given === "" ? undefined : this.#byHash.get(hash(given));
	}
}

/** One-shot SHA-256 (no Hash object per request: the lookup runs on every gateway call). */
function hash(key: string): string {
	return digest("sha256", key, "base64");
}
