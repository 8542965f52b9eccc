/**
 * Statements on one connection the caller holds: a pinned connection, a transaction, a connection
 * id, or a new connection's session setup. A connection fault closes the connection at once (the
 * pool replaces it), and every later statement on the executor fails fast with CONNECTION_LOST
 * instead of queueing behind a dead socket.
 *
 * Statements issued together run one after the other, each handed to the driver only when the
 * previous one has settled: a statement's timeout then counts from its own start, and its cancel
 * can only hit it, never a statement queued before it in the driver.
 */
import { LeaseError } from "../../core/errors.ts";
import type { Lease } from "../../core/lease.ts";
import { ConnectionLostError } from "./errors.ts";
import { mustDiscard, type StatementRunner } from "./runner.ts";
import type { QueryOptions, QueryOutcome, Row, SqlConnection, SqlExecutor } from "./types.ts";

export class ConnectionExecutor<C> implements SqlExecutor {
	readonly #runner: StatementRunner<C>;
	readonly #conn: C;
	readonly #lease: Lease<C> | undefined;
	readonly #what: string;
	#open = true;
	/** The fault that killed the connection, once one did. */
	#lost: unknown;
	/** Settles (never rejects) when the last statement issued has settled: the next one starts then. */
	#tail: Promise<unknown> = Promise.resolve();

	/** `lease` is absent while the connection is not pooled yet (session setup); `what` names the executor in misuse errors. */
	constructor(runner: StatementRunner<C>, conn: C, lease: Lease<C> | undefined, what: string) {
		this.#runner = runner;
		this.#conn = conn;
		this.#lease = lease;
		this.#what = what;
	}

	// biome-ignore lint/suspicious/noExplicitAny: one implementation behind the typed overloads of SqlExecutor.
	async query<R = Row>(sql: string, params?: readonly unknown[], options?: QueryOptions): Promise<any> {
		this.#checkOpen();
		return (await this.#inTurn(() => this.#runner.query(this.#conn, sql, params, options))) as QueryOutcome<R>;
	}

	async batch(sql: string, paramSets: readonly (readonly unknown[])[], options?: Pick<QueryOptions, "timeoutMs" | "signal">): Promise<number> {
		this.#checkOpen();
		if (paramSets.length === 0) return 0;
		return this.#inTurn(() => this.#runner.batch(this.#conn, sql, paramSets, options?.timeoutMs));
	}

	/** Settles when every statement issued so far has settled. */
	settled(): Promise<void> {
		return this.#tail.then(() => undefined);
	}

	/**
	 * Runs `statement` once every statement issued before it has settled. The executor is checked
	 * again then: a statement still waiting when its connection was released, or died, never runs
	 * (on what may by now be another caller's connection).
	 */
	#inTurn<T>(statement: () => Promise<T>): Promise<T> {
		const turn = this.#tail.then(async () => {
			this.#checkOpen();
			try {
				return await statement();
			} catch (error) {
				this.#noteFault(error);
				throw error;
			}
		});
		this.#tail = turn.then(
			() => undefined,
			() => undefined,
		);
		return turn;
	}

	/** Later statements are refused: the connection is no longer this executor's. */
	close(): void {
		this.#open = false;
	}

	get open(): boolean {
		return this.#open;
	}

	#checkOpen(): void {
		if (!this.#open) throw new LeaseError(`this ${this.#what} is finished (released, committed or rolled back); statements can no longer run on it`);
		if (this.#lost !== undefined) throw new ConnectionLostError(this.#lost);
	}

	#noteFault(error: unknown): void {
		if (!mustDiscard(error)) return;
		this.#lost = error;
		if (this.#lease?.active) this.#lease.destroy(error);
	}
}

/** What a pinned connection needs from its client when it goes back. */
export interface ConnectionReturn<C> {
	giveBack(lease: Lease<C>): void;
}

export class PinnedConnection<C> extends ConnectionExecutor<C> implements SqlConnection {
	readonly #lease: Lease<C>;
	readonly #home: ConnectionReturn<C>;
	readonly connectionId: number;

	constructor(runner: StatementRunner<C>, lease: Lease<C>, home: ConnectionReturn<C>) {
		super(runner, lease.resource, lease, "connection");
		this.#lease = lease;
		this.#home = home;
		this.connectionId = lease.connectionId;
	}

	/** Gives the connection back (rolled back first if a transaction is open). A second call only warns. */
	release(): void {
		if (!this.open) return this.#misuse();
		this.close();
		this.#home.giveBack(this.#lease);
	}

	/** Closes the connection instead of reusing it. */
	destroy(error?: unknown): void {
		if (!this.open) return this.#misuse();
		this.close();
		this.#lease.destroy(error);
	}

	[Symbol.asyncDispose](): Promise<void> {
		if (this.open) this.release();
		return Promise.resolve();
	}

	/** The core warns once about double release; while a reset is running the lease is still busy and is left alone. */
	#misuse(): void {
		if (!this.#lease.active) this.#lease.release();
	}
}
