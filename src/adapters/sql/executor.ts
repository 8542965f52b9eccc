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
import { ConnectionLostError, TransactionStateError } from "./errors.ts";
import { checkBatchCall, checkCall } from "./fetch.ts";
import { mustDiscard, StatementAborted, type StatementRunner } from "./runner.ts";
import { transactionControlIn } from "./transaction-control.ts";
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
	/** A transaction's handle: transaction control is refused, and the session's leaving the transaction detected. */
	readonly #transaction: boolean;
	/** Why the transaction is over though `fn` has not returned (the session left it); undefined while it holds. */
	#ended: TransactionStateError | undefined;
	/** Aborts every statement on the executor (a transaction's signal or deadline), besides each call's own signal. */
	readonly #signal: AbortSignal | undefined;

	/**
	 * `lease` is absent while the connection is not pooled yet (session setup); `what` names the
	 * executor in misuse errors; `transaction` makes it a transaction's handle; `signal` aborts every
	 * statement run on it.
	 */
	constructor(runner: StatementRunner<C>, conn: C, lease: Lease<C> | undefined, what: string, transaction = false, signal?: AbortSignal) {
		this.#runner = runner;
		this.#conn = conn;
		this.#lease = lease;
		this.#what = what;
		this.#transaction = transaction;
		this.#signal = signal;
	}

	/** The executor's signal and the call's, as one. */
	#signalFor(own: AbortSignal | undefined): AbortSignal | undefined {
		if (own === undefined) return this.#signal;
		if (this.#signal === undefined) return own;
		return AbortSignal.any([this.#signal, own]);
	}

	// biome-ignore lint/suspicious/noExplicitAny: one implementation behind the typed overloads of SqlExecutor.
	async query<R = Row>(sql: string, params?: readonly unknown[], options?: QueryOptions): Promise<any> {
		checkCall("query", sql, params, options);
		this.#checkOpen();
		if (this.#transaction) this.#refuseControl(sql);
		return (await this.#inTurn(() => this.#runner.query(this.#conn, sql, params, options, this.#signalFor(options?.signal)))) as QueryOutcome<R>;
	}

	async batch(sql: string, paramSets: readonly (readonly unknown[])[], options?: Pick<QueryOptions, "timeoutMs" | "signal">): Promise<number> {
		checkBatchCall(sql, paramSets, options);
		this.#checkOpen();
		if (this.#transaction) this.#refuseControl(sql);
		if (paramSets.length === 0) return 0;
		return this.#inTurn(() => this.#runner.batch(this.#conn, sql, paramSets, options?.timeoutMs, this.#signalFor(options?.signal)));
	}

	/** Why the transaction can no longer commit, if the session left it (a statement committed it implicitly). */
	get ended(): TransactionStateError | undefined {
		return this.#ended;
	}

	#refuseControl(sql: string): void {
		const control = transactionControlIn(sql, this.#runner.driver.dialect);
		if (control === undefined) return;
		throw new TransactionStateError(
			`${control} is refused inside transaction(fn), before it was sent: transaction() commits when fn returns and rolls back when it throws; a ${control} of your own would break that (use SAVEPOINT / ROLLBACK TO SAVEPOINT for partial rollback, or db.acquire() to control the transaction yourself)`,
		);
	}

	/** After a statement that succeeded on a transaction handle: a session no longer in the transaction (an implicit commit) ends it. */
	#checkStillInTransaction(): void {
		const inTransaction = this.#runner.driver.inTransaction?.(this.#conn);
		if (inTransaction !== false || this.#ended !== undefined) return;
		this.#ended = new TransactionStateError(
			"the server reported the session outside the transaction after this statement (it committed implicitly: DDL, LOCK TABLES and the like do on MySQL); what ran before it is committed, later statements would run outside the transaction, so they are refused and transaction() fails; run such statements outside transaction(fn)",
		);
		throw this.#ended;
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
		// An aborted statement's caller is answered at once; the next statement still waits for the server's answer to the cancel.
		let abandoned: Promise<unknown> | undefined;
		const turn = this.#tail.then(async () => {
			this.#checkOpen();
			let result: T;
			try {
				result = await statement();
			} catch (error) {
				if (error instanceof StatementAborted) {
					abandoned = error.outcome.then((failure) => failure !== undefined && this.#noteFault(this.#runner.wrap(failure)));
					throw error.reason;
				}
				this.#noteFault(error);
				throw error;
			}
			if (this.#transaction) this.#checkStillInTransaction();
			return result;
		});
		this.#tail = turn.then(
			() => undefined,
			() => abandoned,
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
		if (this.#ended !== undefined) throw this.#ended;
		if (this.#lost !== undefined) throw new ConnectionLostError(this.#lost, { sent: false });
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
	readonly #runner: StatementRunner<C>;
	readonly #lease: Lease<C>;
	readonly #home: ConnectionReturn<C>;
	readonly connectionId: number;

	constructor(runner: StatementRunner<C>, lease: Lease<C>, home: ConnectionReturn<C>) {
		super(runner, lease.resource, lease, "connection");
		this.#runner = runner;
		this.#lease = lease;
		this.#home = home;
		this.connectionId = lease.connectionId;
	}

	get raw(): unknown {
		if (!this.open) throw new LeaseError("this connection was released; its raw driver connection is no longer yours");
		const raw = this.#runner.driver.raw;
		if (raw === undefined) throw new LeaseError(`the ${this.#runner.driver.dialect} adapter exposes no raw driver connection`);
		return raw.call(this.#runner.driver, this.#lease.resource);
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
