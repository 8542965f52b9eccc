/** LLM usage per client key and model: requests, errors and tokens, for the metrics and the dashboard. */

export interface UsageRow {
	clientKey: string;
	model: string;
	requests: number;
	errors: number;
	promptTokens: number;
	completionTokens: number;
}

export class UsageMeter {
	readonly #rows = new Map<string, UsageRow>();

	#row(clientKey: string, model: string): UsageRow {
		const id = `${clientKey}\u0000${model}`;
		let row = this.#rows.get(id);
		if (row === undefined) this.#rows.set(id, (row = { clientKey, model, requests: 0, errors: 0, promptTokens: 0, completionTokens: 0 }));
		return row;
	}

	record(clientKey: string, model: string, outcome: { failed: boolean; promptTokens?: number; completionTokens?: number }): void {
		const row = this.#row(clientKey, model);
		row.requests++;
		if (outcome.failed) row.errors++;
		row.promptTokens += outcome.promptTokens ?? 0;
		row.completionTokens += outcome.completionTokens ?? 0;
	}

	rows(): UsageRow[] {
		return [...this.#rows.values()].map((row) => ({ ...row }));
	}
}
