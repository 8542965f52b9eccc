/**
 * A read-your-writes caller. "Caller" is defined by the user, explicitly: a session object (one
 * per request, per user, per job). Its writes keep its own reads on the primary for
 * `readYourWritesMs`; other sessions keep reading from replicas. `session.run(fn)` makes the
 * session the caller of plain `client.query` calls made anywhere inside `fn` (AsyncLocalStorage),
 * so request middleware can set it once. Calls outside every session share the client's own window.
 */
import { Caller } from "./router.ts";
import type { QueryOptions, QueryOutcome, Row, SqlExecutor, SqlSession, TransactionOptions } from "./types.ts";

/** What a session asks of its client; implemented by the client. */
export interface SessionHost {
	queryAs(caller: Caller, sql: string, params: readonly unknown[] | undefined, options: QueryOptions | undefined): Promise<unknown>;
	batchAs(
		caller: Caller,
		sql: string,
		paramSets: readonly (readonly unknown[])[],
		options: Pick<QueryOptions, "timeoutMs" | "signal"> | undefined,
	): Promise<number>;
	transactionAs<R>(caller: Caller, fn: (tx: SqlExecutor) => Promise<R>, options: TransactionOptions | undefined): Promise<R>;
	runAs<R>(caller: Caller, fn: () => R): R;
}

export class Session extends Caller implements SqlSession {
	readonly #host: SessionHost;

	constructor(host: SessionHost) {
		super();
		this.#host = host;
	}

	// biome-ignore lint/suspicious/noExplicitAny: one implementation behind the typed overloads of SqlExecutor.
	query<R = Row>(sql: string, params?: readonly unknown[], options?: QueryOptions): Promise<any> {
		return this.#host.queryAs(this, sql, params, options) as Promise<QueryOutcome<R>>;
	}

	batch(sql: string, paramSets: readonly (readonly unknown[])[], options?: Pick<QueryOptions, "timeoutMs" | "signal">): Promise<number> {
		return this.#host.batchAs(this, sql, paramSets, options);
	}

	transaction<R>(fn: (tx: SqlExecutor) => Promise<R>, options?: TransactionOptions): Promise<R> {
		return this.#host.transactionAs(this, fn, options);
	}

	run<R>(fn: () => R): R {
		return this.#host.runAs(this, fn);
	}
}
