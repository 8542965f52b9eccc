/**
 * One pooled PostgreSQL connection: a pg Client, whether it is dead, and the few pg internals the
 * adapter reads (transaction status, the socket, the cancel key). Its 'error' and 'end' listeners
 * live as long as the client, so an idle connection's death is recorded, never thrown.
 */
import type { Client } from "pg";
import type { CancelTarget } from "./cancel.ts";

/**
 * pg Client members that @types/pg does not declare. pg renamed `activeQuery`/`queryQueue` to
 * underscored fields (the old names became deprecation-warning getters), so both are read.
 */
interface ClientInternals {
	_activeQuery?: unknown;
	_queryQueue?: unknown[];
	activeQuery?: unknown;
	queryQueue?: unknown[];
	readyForQuery?: boolean;
	processID: number | null;
	secretKey: number | null;
	host: string;
	port: number;
	connection: {
		stream: { destroy(): void };
		parsedStatements: Record<string, unknown>;
		on(event: "readyForQuery", listener: (message: { status?: string }) => void): void;
	};
}

export class PostgresConnection {
	readonly client: Client;
	dead = false;
	/** Why it died, once it did: the cause of a later statement's CONNECTION_LOST (not sent). */
	deathCause: unknown;
	/** A statement may have taken session-level advisory locks (pg_advisory_lock…), which outlive transactions. */
	advisoryLocks = false;
	/** A statement may have run LISTEN: the channels would keep notifying the next borrower, so the release runs UNLISTEN *. */
	listening = false;
	/** The raw pg client was handed to a caller: what it ran is unknown, so the release cleans up everything a session can keep. */
	rawLent = false;
	#onDead: ((error: unknown) => void) | undefined;
	#transactionStatus: string | undefined;
	readonly #modernFields: boolean;

	constructor(client: Client) {
		this.client = client;
		client.on("error", (error) => this.markDead(error));
		client.on("end", () => this.markDead(new Error("Connection terminated: the server closed the connection")));
		// The server reports its transaction status in every ReadyForQuery. This listener is added before
		// pg's own (attached at connect), so the status is current when the statement's callback runs.
		this.#internals.connection.on("readyForQuery", (message) => {
			this.#transactionStatus = message.status;
		});
		this.#modernFields = "_queryQueue" in client;
	}

	/** Records the death once and tells whoever listens (the pool). */
	markDead(error: unknown): void {
		if (this.dead) return;
		this.dead = true;
		this.deathCause = error;
		this.#onDead?.(error);
	}

	set onDead(callback: (error: unknown) => void) {
		this.#onDead = callback;
	}

	get #internals(): ClientInternals {
		return this.client as unknown as ClientInternals;
	}

	/** A statement is running or queued on the client. */
	get busy(): boolean {
		const c = this.#internals;
		const active = this.#modernFields ? c._activeQuery : c.activeQuery;
		const queue = this.#modernFields ? c._queryQueue : c.queryQueue;
		return (active !== null && active !== undefined) || (queue !== undefined && queue.length > 0);
	}

	/** The server has not yet said it is ready (a failed statement's ReadyForQuery is still on its way). */
	get awaitingReady(): boolean {
		return this.#internals.readyForQuery === false;
	}

	/** `I` idle, `T` in a transaction, `E` in a failed transaction, from the server's last ReadyForQuery. */
	get transactionStatus(): string | undefined {
		return this.#transactionStatus;
	}

	/** Forgets pg's client-side cache of prepared statements (after DISCARD ALL dropped them on the server). */
	forgetPreparedStatements(): void {
		this.#internals.connection.parsedStatements = {};
	}

	get cancelTarget(): CancelTarget | undefined {
		const c = this.#internals;
		if (c.processID === null || c.secretKey === null) return undefined;
		return { host: c.host ?? "localhost", port: c.port ?? 5432, processID: c.processID, secretKey: c.secretKey };
	}

	/** Closes the socket now, without the protocol's goodbye. */
	destroySocket(): void {
		this.#internals.connection.stream.destroy();
	}
}
