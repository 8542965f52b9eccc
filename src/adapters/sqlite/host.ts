/**
 * Where a SQLite connection's `DatabaseSync` lives: a child process (default) or a worker thread
 * running `worker.ts`. Both carry structured-clone messages; they differ in how they stop.
 *
 * A statement in node:sqlite is one synchronous native call, and node:sqlite exposes no
 * `sqlite3_interrupt`. `worker.terminate()` only takes effect when that call returns (measured:
 * a 140 s statement ran to its end, and kept the process from exiting meanwhile). Killing a child
 * process stops the statement at once. So `process` is the default: a statement timeout really
 * stops the work, and releases the database locks it held.
 */
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { HostReply, HostRequest } from "./protocol.ts";

/**
 * `process`: a child process per connection (~70 ms to start, ~40-60 MB resident); a statement timeout kills it, stopping the statement at once.
 * `thread`: a worker thread per connection (~30 ms, ~25 MB); a timed-out statement keeps running in the terminated thread until it finishes.
 */
export type HostKind = "process" | "thread";

export interface Host {
	readonly kind: HostKind;
	/** The child process's id; undefined for a thread. */
	readonly pid: number | undefined;
	/** Sends a request; `onError` hears that it could not be sent (a parameter that cannot be cloned). */
	send(request: HostRequest, onError: (error: Error) => void): void;
	/** Stops the host now; `onExit` follows. */
	kill(): void;
	/** Resolves once the host has really ended (the process reaped, the thread exited): later than `onExit` when its channel closed first. */
	readonly exited: Promise<void>;
	/** Keeps the application alive while a request is pending, and only then. */
	ref(): void;
	unref(): void;
}

export interface HostListeners {
	onReply(reply: HostReply): void;
	/** Called once, however the host ended. */
	onExit(description: string, error?: unknown): void;
}

// The worker is a sibling module: worker.ts next to the sources (run with type stripping), worker.js next to the build.
const WORKER_URL = new URL(import.meta.url.endsWith(".ts") ? "./worker.ts" : "./worker.js", import.meta.url);

/** The host's own flags: never the application's (an --inspect port, --input-type, a test runner's flags do not belong to it). */
function hostExecArgv(): string[] {
	// Type stripping is on by default from Node 23.6; on 22.x the sources' worker needs the flag (harmless where it is the default).
	return WORKER_URL.pathname.endsWith(".ts")
		? ["--disable-warning=ExperimentalWarning", "--experimental-strip-types"]
		: ["--disable-warning=ExperimentalWarning"];
}

function once(listener: HostListeners["onExit"]): HostListeners["onExit"] {
	let called = false;
	return (description, error) => {
		if (called) return;
		called = true;
		listener(description, error);
	};
}

function spawnProcess(listeners: HostListeners): Host {
	const onExit = once(listeners.onExit);
	const child: ChildProcess = fork(fileURLToPath(WORKER_URL), [], {
		serialization: "advanced",
		execArgv: hostExecArgv(),
		stdio: ["ignore", "ignore", "inherit", "ipc"],
		windowsHide: true,
	});
	child.on("message", (reply: HostReply) => listeners.onReply(reply));
	child.on("exit", (code, signal) => onExit(signal === null ? `its process exited with code ${code}` : `its process was killed by ${signal}`));
	child.on("error", (error) => onExit(`its process failed: ${error.message}`, error));
	let reaped!: () => void;
	const exited = new Promise<void>((resolve) => (reaped = resolve));
	child.on("exit", () => reaped());
	child.on("error", () => reaped());
	// The channel may close before 'exit' is seen: the connection is retired then too, before anyone borrows it. 'exit' gets a moment to come first, with its signal for the message.
	child.on("disconnect", () => setTimeout(() => onExit("its process closed its channel (it exited or was killed)"), 20).unref());
	return {
		kind: "process",
		pid: child.pid,
		exited,
		send(request, onError) {
			try {
				child.send(request, (error: Error | null) => {
					if (error) onError(error);
				});
			} catch (error) {
				onError(error as Error);
			}
		},
		kill() {
			child.kill("SIGKILL");
		},
		ref() {
			child.ref();
			child.channel?.ref();
		},
		unref() {
			child.unref();
			child.channel?.unref();
		},
	};
}

function spawnThread(listeners: HostListeners): Host {
	const onExit = once(listeners.onExit);
	const worker = new Worker(WORKER_URL, { execArgv: hostExecArgv() });
	const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
	worker.on("message", (reply: HostReply) => listeners.onReply(reply));
	worker.on("error", (error) => onExit(`its worker thread crashed: ${error.message}`, error));
	worker.on("exit", (code) => onExit(`its worker thread exited with code ${code}`));
	return {
		kind: "thread",
		pid: undefined,
		exited,
		send(request, onError) {
			try {
				worker.postMessage(request);
			} catch (error) {
				onError(error as Error);
			}
		},
		kill() {
			void worker.terminate();
		},
		ref() {
			worker.ref();
		},
		unref() {
			worker.unref();
		},
	};
}

export function spawnHost(kind: HostKind, listeners: HostListeners): Host {
	return kind === "thread" ? spawnThread(listeners) : spawnProcess(listeners);
}
