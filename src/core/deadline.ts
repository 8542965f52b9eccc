/**
 * Deadlines on work the pool does not control (a factory, a validation, a reset, an adapter's
 * statement): the work gets a signal that aborts at the deadline, and the caller is settled then
 * even when the work ignores the signal. Adapters use these for their own deadlines.
 */

/** Runs `fn` with a signal that aborts after `ms`; rejects with `onTimeout()` then, even if `fn` ignores the signal. */
export function withDeadline<R>(fn: (signal: AbortSignal) => R | Promise<R>, ms: number, onTimeout: () => Error): Promise<R> {
	const controller = new AbortController();
	const timer = setTimeout(() => controller.abort(onTimeout()), ms);
	timer.unref();
	const attempt = (async () => fn(controller.signal))();
	return settleBySignal(attempt, controller.signal).finally(() => clearTimeout(timer));
}

/** Settles with `work`, or rejects with the signal's reason when it aborts first; a value that arrives late goes to `onLate`. */
export function settleBySignal<R>(work: Promise<R>, signal: AbortSignal, onLate?: (value: R) => void): Promise<R> {
	return new Promise<R>((resolve, reject) => {
		let done = false;
		const onAbort = () => {
			if (done) return;
			done = true;
			reject(signal.reason);
		};
		if (signal.aborted) onAbort();
		else signal.addEventListener("abort", onAbort, { once: true });
		work.then(
			(value) => {
				if (done) return onLate?.(value);
				done = true;
				signal.removeEventListener("abort", onAbort);
				resolve(value);
			},
			(error) => {
				if (done) return;
				done = true;
				signal.removeEventListener("abort", onAbort);
				reject(error);
			},
		);
	});
}

/** A hook's result that must be awaited; a plain value means the hook finished synchronously. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
	return value !== null && (typeof value === "object" || typeof value === "function") && typeof (value as PromiseLike<unknown>).then === "function";
}

/** Runs `fn` and resolves when it settles or after `ms`, whichever comes first; never rejects (a destroy whose failure nobody can act on). */
export function boundedSettle(fn: () => unknown, ms: number): Promise<void> {
	const attempt = (async () => fn())().then(
		() => {},
		() => {},
	);
	let timer: NodeJS.Timeout | undefined;
	return Promise.race([attempt, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms).unref()))]).then(() => clearTimeout(timer));
}
