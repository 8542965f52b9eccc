/** Collects uncaught exceptions and unhandled rejections while a test runs; `stop()` detaches and returns them. */
export function watchCrashes(): { stop(): unknown[] } {
	const seen: unknown[] = [];
	const onError = (error: unknown) => seen.push(error);
	process.on("uncaughtException", onError);
	process.on("unhandledRejection", onError);
	return {
		stop() {
			process.off("uncaughtException", onError);
			process.off("unhandledRejection", onError);
			return seen;
		},
	};
}
