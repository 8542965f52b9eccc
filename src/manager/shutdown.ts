import { constants } from "node:os";
import { performance } from "node:perf_hooks";
import type { PoolManager } from "./manager.ts";

/** What shutdown needs of a server: node:http, node:https and node:http2 servers have it. */
export interface ClosableServer {
	close(callback?: (error?: Error) => void): unknown;
	closeIdleConnections?(): void;
	closeAllConnections?(): void;
}

export interface ShutdownOptions {
	/** Signals that start the shutdown. Default SIGTERM and SIGINT. */
	signals?: NodeJS.Signals[];
	/** The whole shutdown's deadline: requests and leases may finish until then, then connections are cut. Default 10 000 ms. */
	timeoutMs?: number;
	/**
	 * How long to stay up after turning not-ready, still serving, so a load balancer polling
	 * `/health/ready` stops sending traffic before the servers stop accepting. Default 0.
	 */
	drainDelayMs?: number;
	/** Servers to stop accepting connections and to drain of requests in flight before the clients close. */
	servers?: ClosableServer[];
	/** Your own step after the servers drained and before the clients close (flush a queue, stop workers). */
	beforeClose?: () => void | Promise<void>;
	/**
	 * Exit the process when done (code 0, or 1 when a step failed). Default true. A second
	 * signal always exits at once, with 128 + the signal's number.
	 */
	exit?: boolean;
	/** Told about each step: `notReady`, `serversClosed`, `clientsClosed`, `done`, `forced`. For logs. */
	onStep?: (step: ShutdownStep, detail: { elapsedMs: number; signal?: NodeJS.Signals }) => void;
}

export type ShutdownStep = "notReady" | "serversClosed" | "clientsClosed" | "done" | "forced";

export interface ShutdownHandle {
	/** Runs the shutdown now (as a signal would); the same promise for every call. */
	shutdown(signal?: NodeJS.Signals): Promise<void>;
	/** Removes the signal handlers (not needed after a shutdown ran). */
	uninstall(): void;
}

const DEFAULT_SIGNALS: NodeJS.Signals[] = ["SIGTERM", "SIGINT"];

/**
 * Installs a graceful shutdown for a manager, in one call. On the first signal:
 * 1. the manager turns not-ready (`/health/ready` answers 503) while everything still works,
 *    for `drainDelayMs`;
 * 2. the servers stop accepting connections, idle keep-alive connections close, and requests in
 *    flight finish (they may still acquire: the pools are open);
 * 3. `beforeClose` runs;
 * 4. every client closes: new acquires fail, leases finish;
 * 5. the process exits 0.
 * All of it under one deadline (`timeoutMs`): at the deadline remaining connections are cut and
 * leases destroyed. A second signal exits at once.
 */
export function installShutdown(manager: PoolManager, options: ShutdownOptions = {}): ShutdownHandle {
	const signals = options.signals ?? DEFAULT_SIGNALS;
	const timeoutMs = options.timeoutMs ?? 10_000;
	const servers = options.servers ?? [];
	let running: Promise<void> | undefined;

	const forced = (signal: NodeJS.Signals) => {
		options.onStep?.("forced", { elapsedMs: 0, signal });
		process.exit(128 + (constants.signals[signal] ?? constants.signals.SIGTERM));
	};
	const onSignal = (signal: NodeJS.Signals) => {
		if (running !== undefined) return forced(signal);
		void handle.shutdown(signal);
	};

	const run = async (signal: NodeJS.Signals | undefined): Promise<void> => {
		const started = performance.now();
		const deadline = started + timeoutMs;
		const step = (name: ShutdownStep) => options.onStep?.(name, { elapsedMs: Math.round(performance.now() - started), signal });
		let failed = false;
		manager.beginShutdown();
		if (signal !== undefined) manager.emit("shutdown", { signal });
		step("notReady");
		if ((options.drainDelayMs ?? 0) > 0) await sleep(Math.min(options.drainDelayMs ?? 0, remaining(deadline)));
		await Promise.all(servers.map((server) => drainServer(server, deadline)));
		step("serversClosed");
		try {
			await options.beforeClose?.();
		} catch {
			failed = true;
		}
		await manager.close({ timeoutMs: remaining(deadline) });
		step("clientsClosed");
		step("done");
		if (options.exit ?? true) process.exit(failed ? 1 : 0);
	};

	const handle: ShutdownHandle = {
		shutdown: (signal) => {
			running ??= run(signal);
			return running;
		},
		uninstall: () => {
			for (const signal of signals) process.off(signal, onSignal);
		},
	};
	for (const signal of signals) process.on(signal, onSignal);
	return handle;
}

/** Stops accepting, closes idle keep-alive connections, waits for requests in flight until the deadline, then cuts what is left. */
function drainServer(server: ClosableServer, deadline: number): Promise<void> {
	return new Promise<void>((resolve) => {
		let timer: NodeJS.Timeout | undefined;
		const done = () => {
			clearTimeout(timer);
			clearInterval(idle);
			resolve();
		};
		server.close(() => done());
		server.closeIdleConnections?.();
		// A keep-alive connection goes idle when its request ends: close it then, not at its keep-alive timeout.
		const idle = setInterval(() => server.closeIdleConnections?.(), 50);
		idle.unref();
		timer = setTimeout(() => {
			server.closeAllConnections?.();
			done();
		}, remaining(deadline));
		timer.unref();
	});
}

function remaining(deadline: number): number {
	return Math.max(0, deadline - performance.now());
}

function sleep(ms: number): Promise<void> {
	return new Promise((resolve) => setTimeout(resolve, ms));
}
