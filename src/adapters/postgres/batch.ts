/**
 * `batch()` for PostgreSQL: one Parse, then Bind + Execute per parameter set, then one Sync,
 * written in one go: one round trip for the whole batch (pipelining at the protocol level, on an
 * ordinary connection). Everything before the Sync is one implicit transaction, so outside an
 * explicit transaction the batch is all-or-nothing; inside one, an error aborts that transaction.
 */
import type { PgModule } from "./load.ts";

/** The part of pg's Connection a batch writes to. */
interface WireConnection {
	stream: { cork?(): void; uncork?(): void };
	parse(message: { text: string; name?: string; types?: unknown[] }): void;
	bind(message: { portal?: string; statement?: string; values: unknown[] }): void;
	execute(message: { portal?: string; rows?: number }): void;
	sync(): void;
	sendCopyFail(message: string): void;
}

/** A pg Submittable: pg calls `submit` when the connection is free, then the `handle*` methods as messages arrive. */
export class BatchQuery {
	readonly #text: string;
	readonly #sets: unknown[][];
	readonly #callback: (error: Error | undefined, affectedRows: number) => void;
	#affected = 0;
	#done = false;

	/** Serialises every parameter set up front, so a bad value fails the batch before anything is sent. */
	constructor(pg: PgModule, text: string, paramSets: readonly (readonly unknown[])[], callback: (error: Error | undefined, affectedRows: number) => void) {
		this.#text = text;
		this.#sets = paramSets.map((set) => set.map((value) => pg.prepareValue(value)));
		this.#callback = callback;
	}

	submit(connection: WireConnection): void {
		connection.stream.cork?.();
		try {
			connection.parse({ text: this.#text });
			for (const values of this.#sets) {
				connection.bind({ values });
				connection.execute({});
			}
			connection.sync();
		} finally {
			connection.stream.uncork?.();
		}
	}

	handleCommandComplete(message: { text?: string }): void {
		this.#affected += rowCountOf(message.text);
	}

	handleError(error: Error): void {
		this.#finish(error);
	}

	handleReadyForQuery(): void {
		this.#finish(undefined);
	}

	handleCopyInResponse(connection: WireConnection): void {
		connection.sendCopyFail("COPY FROM STDIN is not supported in batch()");
	}

	handleRowDescription(): void {}
	handleDataRow(): void {}
	handlePortalSuspended(): void {}
	handleEmptyQuery(): void {}
	handleCopyData(): void {}

	#finish(error: Error | undefined): void {
		if (this.#done) return;
		this.#done = true;
		this.#callback(error, this.#affected);
	}
}

/** Rows from a CommandComplete tag: `INSERT 0 5`, `UPDATE 3`, `DELETE 2`, `SELECT 7` (the last number). */
function rowCountOf(tag: string | undefined): number {
	if (tag === undefined) return 0;
	const match = /(\d+)$/.exec(tag);
	return match === null ? 0 : Number(match[1]);
}
