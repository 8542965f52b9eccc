/**
 * One SQLite connection as the main thread sees it: a handle on a host (child process or worker
 * thread) that owns the `DatabaseSync`. Requests go out as messages and come back as replies,
 * so a slow statement never blocks the event loop. A statement timeout stops the host, which is
 * the only way to stop a running node:sqlite statement; the connection is then dead, and whoever
 * listens (`onDead`: the pool) replaces it.
 */
import type { LifeguardError } from "../../core/errors.ts";
import { PermanentConnectError } from "../kit/permanent-error.ts";
import { ConnectionLostError, QueryTimeoutError } from "../sql/errors.ts";
import type { DriverResult } from "../sql/types.ts";
import { errorFromHost } from "./errors.ts";
import { type Host, type HostKind, spawnHost } from "./host.ts";
import type { HostReply, HostRequest, OpenSettings } from "./protocol.ts";

/** SQLite result codes of an open that no retry fixes, with what to do about each. */
const PERMANENT_OPEN_ERRORS: Record<number, [problem: string, fix: string]> = {
	14: [
		"the database file cannot be opened (it, or its directory, does not exist, or is not accessible)",
		"create the directory, check the path and its permissions, or drop readOnly to let SQLite create the file",
	],
	8: [
		"the database file is read-only",
		"make the file and its directory writable (WAL needs to create -wal and -shm files next to it), or open it with readOnly: true",
	],
	26: ["the file is not a SQLite database", "point filename at a SQLite database"],
	23: ["the process may not open the file", "check the file's permissions"],
};

function permanentOpenError(error: unknown, settings: OpenSettings): PermanentConnectError | undefined {
	const errcode = (error as { errcode?: unknown } | null)?.errcode;
	if (typeof errcode !== "number") return undefined;
	const known = PERMANENT_OPEN_ERRORS[errcode & 0xff];
	return known === undefined ? undefined : new PermanentConnectError("sqlite", JSON.stringify(settings.filename), known[0], known[1], error);
}

/** Errors of a send to a host that is gone: the IPC channel closed, the pipe broke. */
function isChannelGone(error: unknown): boolean {
	const code = (error as { code?: unknown } | null)?.code;
	return code === "EPIPE" || code === "ERR_IPC_CHANNEL_CLOSED" || code === "ECONNRESET" || code === "ERR_IPC_DISCONNECTED";
}

/** How long an idle host has to close its database before it is killed. */
const CLOSE_TIMEOUT_MS = 5_000;

/**
 * How long close() waits for a killed thread host to exit: a terminated worker only exits when its
 * running statement returns, which may be never; the thread is left to finish on its own (unref'd).
 */
const THREAD_EXIT_WAIT_MS = 100;

type WithoutId<T> = T extends unknown ? Omit<T, "id"> : never;
type RequestBody = WithoutId<HostRequest>;

interface Pending {
	id: number;
	resolve(result: DriverResult): void;
	reject(error: unknown): void;
	timer: ReturnType<typeof setTimeout> | undefined;
	cleanup: (() => void) | undefined;
}

export interface RequestOptions {
	/** Past this, the host is stopped and the request fails with QUERY_TIMEOUT. */
	timeoutMs?: number;
	/** Aborting stops the host too: a request cannot be withdrawn from a busy host any other way. */
	signal?: AbortSignal;
}

export class SqliteConnection {
	readonly #host: Host;
	/**
	 * Requests in the host, oldest first: usually one (a connection has one borrower). An array, not a
	 * Map keyed by id: a long-lived Map that takes a set and a delete per statement churns, and the
	 * tables it leaves behind keep finished requests alive until a full collection (see LinkedSet).
	 */
	readonly #pending: Pending[] = [];
	readonly #deadListeners: ((error: unknown) => void)[] = [];
	#nextId = 1;
	#death: LifeguardError | undefined;
	#closing = false;
	#dirty = false;

	private constructor(kind: HostKind) {
		this.#host = spawnHost(kind, {
			onReply: (reply) => this.#settle(reply),
			onExit: (description, error) => {
				this.#die(new ConnectionLostError(new Error(`the SQLite connection's host is gone: ${description}`, { cause: error })));
			},
		});
		// An idle connection never keeps the application alive; a pending request does (see request()).
		this.#host.unref();
	}

	/** Starts a host and opens the database in it; aborting `signal` kills the host. */
	static async open(kind: HostKind, settings: OpenSettings, signal: AbortSignal): Promise<SqliteConnection> {
		signal.throwIfAborted();
		const connection = new SqliteConnection(kind);
		try {
			await connection.request({ kind: "open", settings }, { signal });
			return connection;
		} catch (error) {
			await connection.close();
			throw signal.aborted ? signal.reason : (permanentOpenError(error, settings) ?? error);
		}
	}

	get hostKind(): HostKind {
		return this.#host.kind;
	}

	/** The host process's id (to find it in `top`); undefined for a thread host. */
	get pid(): number | undefined {
		return this.#host.pid;
	}

	/** False once the host is gone (timeout, crash, close). */
	get alive(): boolean {
		return this.#death === undefined;
	}

	/** A request is in the host: a statement runs there. */
	get busy(): boolean {
		return this.#pending.length > 0;
	}

	/** Stops the host now (the only way to stop a running statement); every pending request fails with CONNECTION_LOST naming `why`. */
	stop(why: string): void {
		this.#die(new ConnectionLostError(new Error(`the SQLite connection's host was stopped: ${why}`)));
	}

	/** True when the last statement left a transaction open or the read-only switch on: `reset` has work to do. */
	get dirty(): boolean {
		return this.#dirty;
	}

	/** Calls `listener` once when the connection dies by itself (timeout, crash); not on `close()`. */
	onDead(listener: (error: unknown) => void): void {
		const death = this.#death;
		if (death !== undefined) queueMicrotask(() => listener(death));
		else this.#deadListeners.push(listener);
	}

	request(body: RequestBody, options: RequestOptions = {}): Promise<DriverResult> {
		if (this.#death !== undefined) {
			return Promise.reject(this.#lostWith(this.#death));
		}
		const { timeoutMs, signal } = options;
		const id = this.#nextId++;
		return new Promise<DriverResult>((resolve, reject) => {
			const pending: Pending = { id, resolve, reject, timer: undefined, cleanup: undefined };
			this.#pending.push(pending);
			if (this.#pending.length === 1) this.#host.ref();
			if (timeoutMs !== undefined) {
				pending.timer = setTimeout(() => this.#timeOut(id, timeoutMs), timeoutMs);
				pending.timer.unref();
			}
			if (signal !== undefined) {
				const onAbort = () =>
					this.#die(new ConnectionLostError(new Error("request aborted: the connection's host was stopped with it", { cause: signal.reason })), id);
				signal.addEventListener("abort", onAbort, { once: true });
				pending.cleanup = () => signal.removeEventListener("abort", onAbort);
				if (signal.aborted) return onAbort();
			}
			this.#host.send({ ...body, id } as HostRequest, (error) => {
				// A host whose channel is gone (killed from outside, its exit not seen yet): the connection's fault, and the request was never delivered.
				if (isChannelGone(error)) return this.#die(new ConnectionLostError(error, { sent: false }));
				// A parameter that cannot be cloned (a function, a symbol) is the caller's error: the connection is fine.
				this.#take(id)?.reject(error);
			});
		});
	}

	/** Closes the database and stops the host; never throws. A host that does not close in time is killed. */
	async close(): Promise<void> {
		this.#closing = true;
		// A busy host cannot close its database before its statement returns: it is stopped at once, so that close() keeps its deadline.
		if (this.#pending.length > 0) this.#die(new ConnectionLostError(new Error("the SQLite connection was closed while a statement ran: its host was stopped")));
		if (this.#death === undefined) {
			try {
				await this.request({ kind: "close" }, { timeoutMs: CLOSE_TIMEOUT_MS });
			} catch {
				// Killed below either way.
			}
			this.#die(new ConnectionLostError(new Error("the SQLite connection was closed")));
		}
		this.#host.kill();
		if (this.#host.kind === "thread") {
			await Promise.race([this.#host.exited, new Promise((resolve) => setTimeout(resolve, THREAD_EXIT_WAIT_MS).unref())]);
			return;
		}
		// Referenced until it is gone: whoever awaits close() must not see the application exit first.
		this.#host.ref();
		await this.#host.exited;
	}

	#take(id: number): Pending | undefined {
		const list = this.#pending;
		let at = 0;
		while (at < list.length && list[at].id !== id) at++;
		if (at === list.length) return undefined;
		const pending = list[at];
		if (at === 0) list.shift();
		else list.splice(at, 1);
		if (pending.timer !== undefined) clearTimeout(pending.timer);
		pending.cleanup?.();
		if (this.#pending.length === 0) this.#host.unref();
		return pending;
	}

	#settle(reply: HostReply): void {
		const pending = this.#take(reply.id);
		if (pending === undefined) return;
		this.#dirty = reply.dirty;
		if (reply.ok) pending.resolve({ rows: reply.rows, affectedRows: reply.affectedRows, insertId: reply.insertId });
		else pending.reject(errorFromHost(reply.error));
	}

	#timeOut(id: number, timeoutMs: number): void {
		const reason =
			this.#host.kind === "process"
				? "SQLite cannot cancel a running statement: its host process was killed, which stopped it"
				: "SQLite cannot cancel a running statement: its worker thread was terminated, but the statement runs on until it finishes (host 'process' stops it at once)";
		this.#die(new QueryTimeoutError(timeoutMs, { connectionClosed: true, reason }), id);
	}

	#lostWith(death: LifeguardError): ConnectionLostError {
		return death instanceof ConnectionLostError ? death : new ConnectionLostError(death);
	}

	/** Marks the connection dead once: `culprit` fails with `reason`, every other request with CONNECTION_LOST; the host is stopped. */
	#die(reason: LifeguardError, culprit?: number): void {
		if (this.#death !== undefined) return;
		this.#death = reason;
		for (const id of this.#pending.map((p) => p.id)) {
			const pending = this.#take(id);
			pending?.reject(id === culprit ? reason : this.#lostWith(reason));
		}
		this.#host.kill();
		if (this.#closing) return;
		for (const listener of this.#deadListeners.splice(0)) listener(reason);
	}
}
