/**
 * A process host must never outlive its application. When the application exits or closes the
 * channel, the host's 'disconnect' handler ends it; but a host busy in a long statement cannot run
 * that handler (node:sqlite runs a statement as one synchronous native call), and an application
 * killed with SIGKILL sends nothing at all. So a small watchdog thread checks every
 * `PARENT_POLL_MS` whether the parent is gone (the host was re-parented, or the parent's pid no
 * longer exists) and then kills the whole host process, which stops the statement at once.
 */
import { Worker } from "node:worker_threads";

/** How often the watchdog looks for the parent: a host outlives a killed application by at most this long. */
export const PARENT_POLL_MS = 200;

// Plain JavaScript, evaluated as the thread's source: no module file to locate next to the sources or the build.
const WATCHDOG_SOURCE = `
const { workerData } = require("node:worker_threads");
const { parent, everyMs } = workerData;
function parentGone() {
	if (process.ppid !== parent) return true;
	try {
		process.kill(parent, 0);
		return false;
	} catch (error) {
		return error.code === "ESRCH";
	}
}
setInterval(() => {
	if (parentGone()) process.kill(process.pid, "SIGKILL");
}, everyMs);
`;

/**
 * Starts the watchdog: a thread of about 10 MB private memory (a V8 isolate; measured on Node 24), which
 * never keeps the host alive by itself. If it fails, the host keeps serving and says so on stderr.
 */
export function exitWhenParentDies(): void {
	const watchdog = new Worker(WATCHDOG_SOURCE, { eval: true, workerData: { parent: process.ppid, everyMs: PARENT_POLL_MS } });
	watchdog.on("error", (error) => {
		process.emitWarning(`the SQLite host's parent watchdog stopped (${error.message}): this host may outlive an application killed while it runs a statement`);
	});
	watchdog.unref();
}
