/**
 * One pooled PostgreSQL connection: a pg Client, whether it is dead, and the few pg internals the
 * adapter reads (transaction status, the socket, the cancel key). Its 'error' and 'end' listeners
 * live as long as the client, so an idle connection's death is recorded, never thrown.
 */
import type { Client } from "pg";
import type { CancelTarget } from "./cancel.ts";

/** pg Client members that @types/pg does not declare (stable across pg 8). */
interface ClientInternals {
	_activeQuery?: unknown;
	_queryQueue?: unknown[];
	_txStatus?: string | null;
	readyForQuery?: boolean;
	processID: number | null;
	secretKey: number | null;
	host: string;
	port: number;
	connection: { stream: { destroy(): void }; parsedStatements: Record<string, unknown> };
}

export class PostgresConnection {
	readonly client: Client;
	dead = false;
	#onDead: ((error: unknown) => void) | undefined;

	constructor(client: Client) {
		this.client = client;
		client.on("error", (error) => this.markDead(error));
		client.on("end", () => this.markDead(new Error("Connection terminated: the server closed the connection")));
	}

	/** Records the death once and tells whoever listens (the pool). */
	markDead(error: unknown): void {
		if (this.dead) return;
		this.dead = true;
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
		return (c._activeQuery !== null && c._activeQuery !== undefined) || (c._queryQueue !== undefined && c._queryQueue.length > 0);
	}

	/** The server has not yet said it is ready (a failed statement's ReadyForQuery is still on its way). */
	get awaitingReady(): boolean {
		return this.#internals.readyForQuery === false;
	}

	/** `I` idle, `T` in a transaction, `E` in a failed transaction; undefined when pg does not report it. */
	get transactionStatus(): string | undefined {
		return this.#internals._txStatus ?? undefined;
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
