/**
 * One MySQL/MariaDB connection as the pool holds it: the mysql2 connection, plus what the
 * driver must know about it between statements (server thread id, transaction state, whether
 * it is dead). It owns the connection's 'error' listener for the connection's whole life, so an
 * idle connection that dies is reported, never thrown at the process.
 */
import type { Socket } from "node:net";
import type { Connection, FieldPacket, QueryError, ResultSetHeader } from "mysql2";
import type { LifeguardError } from "../../core/errors.ts";
import { LinkedSet } from "../../core/linked-set.ts";
import { ConnectionLostError } from "../sql/errors.ts";
import type { DriverResult, Row } from "../sql/types.ts";
import type { ResolvedMysqlConfig } from "./config.ts";
import { connectionLost, statementError } from "./errors.ts";

/** mysql2 internals the adapter reads; present since mysql2 2.x but missing from its typings. */
interface Mysql2Internals {
	stream: Socket;
	_handshakePacket?: { serverVersion?: string; statusFlags?: number };
	/** The command in progress, null when the connection is idle. */
	_command: unknown;
}

export type ServerFlavor = "mariadb" | "mysql";

/** Server status flags of the protocol's OK packet. */
const SERVER_STATUS_IN_TRANS = 0x0001;
const SERVER_STATUS_AUTOCOMMIT = 0x0002;
/** After COM_QUIT the server closes the socket; past this the adapter closes it. */
const QUIT_GRACE_MS = 1_000;

export class MysqlConnection {
	/** The mysql2 connection, for what the adapter does not cover. Do not close it or add listeners that throw. */
	readonly raw: Connection;
	readonly config: ResolvedMysqlConfig;
	/** The server's id for this connection (`CONNECTION_ID()`), what `KILL` takes. */
	threadId = 0;
	serverVersion = "";
	flavor: ServerFlavor = "mysql";
	/** A transaction is open (from the server's status flags; conservative when autocommit is off). */
	inTransaction = false;
	autocommit = true;
	/** A statement may have taken table locks (LOCK TABLES, FLUSH TABLES WITH READ LOCK) that outlive it; see `noteLocks`. */
	tablesLocked = false;
	/** A statement may have taken named locks (GET_LOCK) that outlive it. */
	namedLocks = false;
	/**
	 * The statement error after which the server had left the open transaction (a deadlock or another
	 * error that makes InnoDB roll the whole transaction back). Until that transaction ends (ROLLBACK,
	 * COMMIT, the release), its later statements are refused, never sent: they would run in autocommit.
	 */
	rolledBackBy: LifeguardError | undefined = undefined;
	/** Why the connection is dead; undefined while it is usable. */
	deathCause: unknown = undefined;
	readonly #socket: Socket;
	#closing = false;
	#deathListeners: ((error: unknown) => void)[] = [];
	/** Fail the statements in flight when the connection dies under them (mysql2 does not tell event-mode queries). */
	/** Who hears of a death mid-statement: a linked list, not a Set churned once per statement (see LinkedSet). */
	readonly #inflight = new LinkedSet<(error: unknown) => void>();
	/** mysql2's formatter for this connection: what fills `?` and `??` when a statement is sent. */
	readonly formatter = (sql: string, values: unknown[]): string => this.raw.format(sql, values);

	constructor(raw: Connection, config: ResolvedMysqlConfig) {
		this.raw = raw;
		this.config = config;
		this.#socket = (raw as unknown as Mysql2Internals).stream;
		// These listeners live as long as the connection: without them an idle connection's error crashes the process.
		raw.on("error", (error: unknown) => this.#die(error));
		raw.on("end", () => this.#die(lostError("the server closed the connection")));
		this.#socket.on("close", () => this.#die(lostError("the socket closed")));
	}

	/** Waits for the handshake; `signal` aborting destroys the socket. */
	handshake(signal: AbortSignal): Promise<void> {
		return new Promise<void>((resolve, reject) => {
			const onAbort = () => {
				this.destroySocket();
				reject(signal.reason);
			};
			if (signal.aborted) return onAbort();
			signal.addEventListener("abort", onAbort, { once: true });
			this.raw.connect((error) => {
				signal.removeEventListener("abort", onAbort);
				if (error !== null) return reject(error);
				const handshake = (this.raw as unknown as Mysql2Internals)._handshakePacket;
				this.threadId = this.raw.threadId;
				this.serverVersion = handshake?.serverVersion ?? "";
				this.flavor = /mariadb/i.test(this.serverVersion) ? "mariadb" : "mysql";
				if (handshake?.statusFlags !== undefined) this.noteStatus(handshake.statusFlags);
				resolve();
			});
		});
	}

	/**
	 * Runs one statement and resolves with its rows (empty for statements without a result
	 * set) and affected rows. For session setup and transaction control; the driver's `run` is
	 * the full-featured path.
	 */
	query(sql: string, params: readonly unknown[] = []): Promise<DriverResult> {
		if (this.deathCause !== undefined) return Promise.reject(connectionLost(this.deathCause));
		return new Promise<DriverResult>((resolve, reject) => {
			this.raw.query(sql, params as unknown[], (error: QueryError | null, result: unknown, fields: FieldPacket[] | undefined) => {
				if (error !== null) return reject(statementError(error));
				resolve(this.outcome(result, fields));
			});
		});
	}

	/** Reads a callback-mode result, and updates the transaction state from it. */
	outcome(result: unknown, fields: FieldPacket[] | undefined): DriverResult {
		if (fields === undefined) {
			const header = result as ResultSetHeader;
			this.noteStatus(header.serverStatus);
			return { rows: [], affectedRows: header.affectedRows, insertId: generatedId(header.insertId) };
		}
		const first = fields[0] as unknown;
		if (first !== undefined && !Array.isArray(first)) {
			const rows = result as Row[];
			this.noteRows();
			return { rows, affectedRows: rows.length };
		}
		// Several results (a CALL): the first result set's rows, the last OK packet's counts and status.
		const results = result as unknown[];
		let rows: Row[] | undefined;
		let affectedRows = 0;
		let insertId: number | bigint | undefined;
		for (let i = 0; i < results.length; i++) {
			if (fields[i] === undefined) {
				const header = results[i] as ResultSetHeader;
				affectedRows += header.affectedRows;
				insertId = generatedId(header.insertId) ?? insertId;
				this.noteStatus(header.serverStatus);
			} else {
				this.noteRows();
				rows ??= results[i] as Row[];
			}
		}
		return { rows: rows ?? [], affectedRows, insertId };
	}

	/** Updates the transaction state from an OK packet's status flags. */
	noteStatus(status: number | undefined): void {
		if (status === undefined) return;
		this.inTransaction = (status & SERVER_STATUS_IN_TRANS) !== 0;
		this.autocommit = (status & SERVER_STATUS_AUTOCOMMIT) !== 0;
	}

	/** A result set carries no status flags: with autocommit off, any statement may have opened a transaction. */
	noteRows(): void {
		if (!this.autocommit) this.inTransaction = true;
	}

	/** A command (statement, ping, reset) is in progress. */
	get busy(): boolean {
		return Boolean((this.raw as unknown as Mysql2Internals)._command);
	}

	/** Calls `callback` once when the connection dies (at once, on the next tick, if it already has). */
	onDead(callback: (error: unknown) => void): void {
		if (this.deathCause !== undefined) {
			const cause = this.deathCause;
			process.nextTick(() => callback(cause));
			return;
		}
		this.#deathListeners.push(callback);
	}

	/** Registers who must hear if the connection dies during a statement in flight; returns the unregister function. */
	watchInflight(onDeath: (error: unknown) => void): () => void {
		const entry = this.#inflight.add(onDeath);
		return () => this.#inflight.delete(entry);
	}

	/** Marks the connection dead (the pool closes it) and cuts the socket at once. */
	kill(reason: unknown): void {
		this.#die(reason);
		this.destroySocket();
	}

	destroySocket(): void {
		this.#socket.destroy();
	}

	/**
	 * Sends COM_QUIT and resolves when the socket is closed. A dead connection, or one still busy
	 * with a statement (abandoned after a timeout), has its socket destroyed instead: COM_QUIT
	 * would wait behind the statement.
	 */
	close(): Promise<void> {
		this.#closing = true;
		if (this.#socket.destroyed) return Promise.resolve();
		return new Promise<void>((resolve) => {
			this.#socket.once("close", () => resolve());
			if (this.deathCause !== undefined || (this.raw as unknown as Mysql2Internals)._command) return this.destroySocket();
			const timer = setTimeout(() => this.destroySocket(), QUIT_GRACE_MS);
			timer.unref();
			this.#socket.once("close", () => clearTimeout(timer));
			this.raw.end();
		});
	}

	#die(error: unknown): void {
		if (this.deathCause !== undefined) return;
		this.deathCause = error;
		const inflight = this.#inflight.values();
		this.#inflight.clear();
		for (const onDeath of inflight) onDeath(error);
		const listeners = this.#deathListeners;
		this.#deathListeners = [];
		if (this.#closing) return;
		for (const listener of listeners) listener(error);
	}
}

/**
 * The OK packet's last-insert-id as lifeguard reports it: 0 (nothing generated) is undefined; mysql2
 * gives a string past 2^53 and reads the unsigned 64-bit value as signed, so those become the exact
 * unsigned bigint.
 */
function generatedId(raw: number | string | null | undefined): number | bigint | undefined {
	if (raw === 0 || raw === null || raw === undefined) return undefined;
	if (typeof raw === "number" && raw > 0) return raw;
	return BigInt.asUintN(64, BigInt(raw));
}

function lostError(what: string): ConnectionLostError {
	return new ConnectionLostError(new Error(what));
}
