/**
 * How many values a statement's placeholders take, counted by mysql2's own formatter. mysql2
 * fills `?` (a value) and `??` (an identifier) from the parameters and ignores the values left
 * over, so a caller who passed one value too many (or left a placeholder out of the text) got a
 * statement that ran without them. PostgreSQL refuses such a statement; here the client does,
 * before anything is sent, naming what the statement takes and what it was given.
 *
 * The count is the formatter's rather than a scanner of ours: it skips quotes and comments by
 * rules (backslash escapes, `???` runs left alone) that a second implementation would get subtly
 * different. Formatting once with counting probes gives its exact answer; statements repeat, so
 * each text is counted once and remembered.
 */

/** Distinct texts whose count is kept; an application's statements are far fewer, generated texts are simply counted again. */
const CACHE_SIZE = 512;
const counts = new Map<string, number>();

/** The caller's parameters do not fit the statement's placeholders; nothing was sent. */
export class ParameterCountError extends Error {
	readonly code = "ERR_LIFEGUARD_PARAMETER_COUNT";
	readonly expected: number;
	readonly given: number;
	constructor(expected: number, given: number, set?: number) {
		const where = set === undefined ? "" : ` in parameter set ${set + 1}`;
		super(
			`the statement has ${expected} placeholder${expected === 1 ? "" : "s"} (? or ??) and ${given} parameter${given === 1 ? " was" : "s were"} given${where}; nothing was sent`,
		);
		this.expected = expected;
		this.given = given;
	}
}

type Format = (sql: string, values: unknown[]) => string;

/** The number of values mysql2 would take from the parameters for `sql`. */
export function placeholderCount(sql: string, format: Format): number {
	const known = counts.get(sql);
	if (known !== undefined) return known;
	// Every placeholder is a '?', so their number bounds the values the formatter can take.
	let marks = 0;
	for (let i = sql.indexOf("?"); i !== -1; i = sql.indexOf("?", i + 1)) marks++;
	let taken = 0;
	if (marks > 0) {
		// `?` escapes its value through toSqlString, `??` quotes String(value): either way the probe counts itself.
		const probe = {
			toSqlString: () => {
				taken++;
				return "NULL";
			},
			toString: () => {
				taken++;
				return "p";
			},
		};
		format(sql, new Array<unknown>(marks).fill(probe));
	}
	counts.set(sql, taken);
	if (counts.size > CACHE_SIZE) counts.delete(counts.keys().next().value as string);
	return taken;
}

/**
 * The error for `params` that do not fit `sql`, or undefined when they do. No parameters at all
 * is mysql2's plain text (sent as written, as every internal statement is), so it is not checked.
 */
export function parameterMismatch(sql: string, params: readonly unknown[], format: Format, set?: number): ParameterCountError | undefined {
	if (params.length === 0) return undefined;
	const expected = placeholderCount(sql, format);
	return expected === params.length ? undefined : new ParameterCountError(expected, params.length, set);
}
