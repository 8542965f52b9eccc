/** The known name closest to `input`, if it is close enough to be a typo (edit distance <= a third of its length, at least 2). */
export function didYouMean(input: string, known: readonly string[]): string | undefined {
	const limit = Math.max(2, Math.floor(input.length / 3));
	let best: string | undefined;
	let bestDistance = Number.POSITIVE_INFINITY;
	for (const candidate of known) {
		const d = distance(input.toLowerCase(), candidate.toLowerCase());
		if (d < bestDistance) {
			bestDistance = d;
			best = candidate;
		}
	}
	return bestDistance <= limit ? best : undefined;
}

/** " (did you mean \"max\"?)" or "". */
export function suggestion(input: string, known: readonly string[]): string {
	const near = didYouMean(input, known);
	return near === undefined ? "" : ` (did you mean "${near}"?)`;
}

/** Levenshtein distance, two rows. */
function distance(a: string, b: string): number {
	let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
	for (let i = 1; i <= a.length; i++) {
		const row = [i];
		for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
		prev = row;
	}
	return prev[b.length];
}
