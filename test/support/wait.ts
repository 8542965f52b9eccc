/**
 * Waiting in tests without fixed sleeps that are too short on a loaded machine and too long on
 * an idle one. Shared by every area's tests (test/postgres, test/mysql and test/redis have their
 * own copies of these to fold in).
 */

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` every `everyMs` until it holds (true) or `timeoutMs` passes (false). */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5_000, everyMs = 20): Promise<boolean> {
	const until = performance.now() + timeoutMs;
	for (;;) {
		if (await check()) return true;
		if (performance.now() > until) return false;
		await sleep(everyMs);
	}
}

/** Like `eventually`, but throws "timed out … waiting for <what>" instead of returning false. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
	if (!(await eventually(check, timeoutMs, 10))) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
