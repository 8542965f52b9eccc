/**
 * "Did you mean" for misspelt names. Two rules, kept apart because their messages are pinned by
 * tests and users: pool options and environment variables (`didYouMean`, plain Levenshtein,
 * tolerance from the input's length), and the service file's keys (`didYouMeanKey`, where a
 * swapped pair of letters is one edit and the tolerance comes from the candidate's length).
 */

/** The known name closest to `input`, if it is close enough to be a typo (edit distance <= a third of its length, at least 2). */
export function didYouMean(input: string, known: readonly string[]): string | undefined {
	const near = nearest(input, known, false);
	return near.distance <= Math.max(2, Math.floor(input.length / 3)) ? near.name : undefined;
}

/** " (did you mean \"max\"?)" or "". */
export function suggestion(input: string, known: readonly string[]): string {
	const near = didYouMean(input, known);
	return near === undefined ? "" : ` (did you mean "${near}"?)`;
}

/** The known key closest to `given` counting a transposition as one edit, when within a third of that key's length (at least 1). */
export function didYouMeanKey(given: string, known: readonly string[]): string | undefined {
	const near = nearest(given, known, true);
	// A third of the word, at least 1: "prot" → "port", "idleTimeout" → "idleTimeoutMs", never "host" → "port".
	return near.name !== undefined && near.distance <= Math.max(1, Math.floor(near.name.length / 3)) ? near.name : undefined;
}

/** The first known name at the smallest case-insensitive edit distance from `input`. */
function nearest(input: string, known: readonly string[], transpositions: boolean): { name: string | undefined; distance: number } {
	let name: string | undefined;
	let best = Number.POSITIVE_INFINITY;
	for (const candidate of known) {
		const d = distance(input.toLowerCase(), candidate.toLowerCase(), transpositions);
		if (d < best) {
			best = d;
			name = candidate;
		}
	}
	return { name, distance: best };
}

/** Levenshtein distance; with `transpositions`, adjacent letters swapped count as one edit (optimal string alignment). */
function distance(a: string, b: string, transpositions: boolean): number {
	const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
	for (let i = 1; i <= a.length; i++) {
		for (let j = 1; j <= b.length; j++) {
			d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
			if (transpositions && i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
		}
	}
	return d[a.length][b.length];
}
