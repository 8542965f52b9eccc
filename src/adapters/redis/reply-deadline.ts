/**
 * Settles with `reply`, or rejects with `timedOut()` after `timeoutMs` (0: no deadline). The
 * caller then destroys the connection: the late reply would otherwise answer the wrong command.
 */
export function replyWithin<R>(reply: Promise<R>, timeoutMs: number, timedOut: () => Error): Promise<R> {
	if (!(timeoutMs > 0)) return reply;
	return new Promise<R>((resolve, reject) => {
		const timer = setTimeout(() => reject(timedOut()), timeoutMs);
		reply.then(
			(value) => {
				clearTimeout(timer);
				resolve(value);
			},
			(error: unknown) => {
				clearTimeout(timer);
				reject(error);
			},
		);
	});
}
