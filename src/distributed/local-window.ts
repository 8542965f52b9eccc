/** A sliding log of what one process spent in the last window, for the static share while Redis is down. */
export class LocalWindow {
	readonly #windowMs: number;
	readonly #entries: { at: number; tokens: number }[] = [];
	#tokens = 0;

	constructor(windowMs: number) {
		this.#windowMs = windowMs;
	}

	#trim(now: number): void {
		while (this.#entries.length > 0 && (this.#entries[0] as { at: number }).at <= now - this.#windowMs) {
			this.#tokens -= (this.#entries.shift() as { tokens: number }).tokens;
		}
	}

	/** ms until one request of `tokens` fits under the limits (0: now), -1 when it never can. */
	waitFor(now: number, requests: number, tokens: number, cost: number): number {
		this.#trim(now);
		if (tokens > 0 && cost > tokens) return -1;
		let wait = 0;
		if (requests > 0 && this.#entries.length + 1 > requests) {
			const oldest = this.#entries[this.#entries.length - requests] as { at: number };
			wait = Math.max(wait, oldest.at + this.#windowMs - now);
		}
		if (tokens > 0 && this.#tokens + cost > tokens) {
			let freed = 0;
			for (const e of this.#entries) {
				freed += e.tokens;
				if (this.#tokens - freed + cost <= tokens) {
					wait = Math.max(wait, e.at + this.#windowMs - now);
					break;
				}
			}
		}
		return wait;
	}

	add(now: number, tokens: number): void {
		this.#entries.push({ at: now, tokens });
		this.#tokens += tokens;
	}

	get empty(): boolean {
		return this.#entries.length === 0;
	}
}
