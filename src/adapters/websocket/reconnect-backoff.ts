/**
 * Exponential backoff with full jitter: each delay is uniform in [0, min(max, initial × 2^n)].
 * When a server restarts under a thousand clients, full jitter spreads their reconnects over
 * the whole window instead of sending them back in waves (AWS's "Exponential Backoff and
 * Jitter" measured it as the least total work of the common schemes).
 */
export function fullJitterDelay(failures: number, initialMs: number, maxMs: number, random: () => number = Math.random): number {
	const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(failures, 30));
	return Math.floor(random() * ceiling);
}
