import { quoteValue } from "./quote-value.ts";

/**
 * The longest delay a Node timer honours: 2^31-1 ms (about 24.8 days). Node runs a timer set
 * longer than this after 1 ms, so a "one month" timeout would fire at once.
 */
export const MAX_DURATION_MS = 2_147_483_647;

export interface DurationRules {
	/** 0 is a valid value (usually "disabled"). Default false. */
	allowZero?: boolean;
	/** `Infinity` is a valid value (usually "no deadline"); the caller must then not arm a timer. Default false. */
	allowInfinity?: boolean;
}

/**
 * Checks one duration in milliseconds. Returns what is wrong with it, quoting the value as it
 * was given (`NaN`, `Infinity`, `"500"`), or undefined when it is a usable duration: a number,
 * not NaN, not negative, 0 only with `allowZero`, Infinity only with `allowInfinity`, otherwise
 * at most {@link MAX_DURATION_MS}. Fractions are accepted (timers round them).
 */
export function durationProblem(value: unknown, rules: DurationRules = {}): string | undefined {
	if (typeof value !== "number") {
		const hint = typeof value === "string" ? " (a string: pass a number, e.g. 500)" : "";
		return `must be a number of milliseconds, got ${quoteValue(value)}${hint}`;
	}
	if (Number.isNaN(value)) return "must be a number of milliseconds, got NaN";
	if (value < 0) return `must not be negative, got ${quoteValue(value)}`;
	if (value === 0 && !rules.allowZero) return "must be greater than 0, got 0";
	if (value === Number.POSITIVE_INFINITY) {
		return rules.allowInfinity ? undefined : `must be finite (at most ${MAX_DURATION_MS} ms), got Infinity`;
	}
	if (value > MAX_DURATION_MS) {
		const infinity = rules.allowInfinity ? "; use Infinity for no limit" : "";
		return `must be at most ${MAX_DURATION_MS} ms (about 24.8 days: Node fires longer timers after 1 ms), got ${quoteValue(value)}${infinity}`;
	}
	return undefined;
}
