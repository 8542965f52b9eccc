/**
 * Racing work against an AbortSignal, the one way the adapters do it: the caller is answered as
 * soon as the signal aborts, with what `onAbort` returns, and `onAbort` is also where the work is
 * stopped (a cancel request, a closed socket). The work itself runs on; whoever started it
 * decides what its late outcome means (the SQL client holds the connection until then).
 */
export function raceAbort<R>(work: Promise<R>, signal: AbortSignal, onAbort: () => unknown): Promise<R> {
	if (signal.aborted) return Promise.reject(onAbort());
	return new Promise<R>((resolve, reject) => {
		const aborted = () => reject(onAbort());
		signal.addEventListener("abort", aborted, { once: true });
		work.then(
			(value) => {
				signal.removeEventListener("abort", aborted);
				resolve(value);
			},
			(error: unknown) => {
				signal.removeEventListener("abort", aborted);
				reject(error);
			},
		);
	});
}
