/**
 * The order in which a model's deployments are tried: least busy first (ties broken at random,
 * so equal deployments share the load), or a weighted random order.
 */
import type { LlmRouting } from "./options.ts";

export interface Candidate {
	readonly busy: number;
	readonly weight: number;
}

export function orderCandidates<T extends Candidate>(candidates: T[], routing: LlmRouting): T[] {
	if (candidates.length <= 1) return candidates;
	if (routing === "weighted") {
		// Efraimidis–Spirakis: sorting by u^(1/w) draws without replacement in proportion to weight.
		return candidates
			.map((c) => ({ c, key: Math.random() ** (1 / c.weight) }))
			.sort((a, b) => b.key - a.key)
			.map((e) => e.c);
	}
	return candidates
		.map((c) => ({ c, tie: Math.random() }))
		.sort((a, b) => a.c.busy / a.c.weight - b.c.busy / b.c.weight || a.tie - b.tie)
		.map((e) => e.c);
}
