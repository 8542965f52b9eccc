/**
 * The pg driver, imported on first use so that users of other adapters never need it, and the
 * two query classes built on it: a row-limited query (fetch `one` / `many`) and a batch.
 */
import type { Client, ClientConfig, Connection, Query as PgQuery, QueryResult } from "pg";
import { optionalDriver } from "../kit/optional-driver.ts";

/** pg's value serialisation (Dates, Buffers, arrays, JSON), as its own queries use it. */
type PrepareValue = (value: unknown) => unknown;

export type RowLimitedQueryClass = new (
	text: string,
	values: readonly unknown[],
	limit: number,
	callback: (error: Error | null | undefined, result: QueryResult) => void,
) => PgQuery;

export interface PgModule {
	Client: new (config: ClientConfig) => Client;
	RowLimitedQuery: RowLimitedQueryClass;
	prepareValue: PrepareValue;
}

/** pg, loaded once; DRIVER_MISSING when it is not installed. */
export const loadPg: () => Promise<PgModule> = optionalDriver(
	() => import("pg"),
	"pg",
	"postgres",
	async (module) => {
		const pg = module.default;
		// pg's own value serialiser; pg-cursor imports the same module.
		const utils = (await import("pg/lib/utils.js" as string)) as { default: { prepareValue: PrepareValue } };
		return { Client: pg.Client, RowLimitedQuery: rowLimitedQueryClass(pg.Query), prepareValue: utils.default.prepareValue };
	},
);

/**
 * A pg Query that reads at most `limit` rows: Parse, Bind, Describe, Execute with a row limit,
 * Sync, in one round trip. The server stops executing after `limit` rows (the portal is closed at
 * Sync), so nothing beyond them is computed or sent — unlike slicing a full result, and in one
 * round trip where a cursor needs two or three.
 */
function rowLimitedQueryClass(Query: typeof PgQuery): RowLimitedQueryClass {
	return class RowLimitedQuery extends Query {
		readonly #limit: number;

		constructor(text: string, values: readonly unknown[], limit: number, callback: (error: Error | null | undefined, result: QueryResult) => void) {
			// Extended protocol even without parameters: only Execute takes a row limit.
			super({ text, values: values as unknown[], queryMode: "extended" } as ConstructorParameters<typeof PgQuery>[0], callback as never);
			this.#limit = limit;
		}

		/** Called by pg's prepare() once Parse/Bind/Describe are written. */
		_getRows(connection: Connection): void {
			(connection as unknown as { execute(m: { portal: string; rows: number }): void }).execute({ portal: "", rows: this.#limit });
			(connection as unknown as { sync(): void }).sync();
		}

		/** More rows exist; they are not wanted, and the Sync already sent closes the portal. */
		handlePortalSuspended(): void {}
	};
}
