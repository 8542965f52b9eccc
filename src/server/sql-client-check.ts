import type { SqlClient } from "../adapters/sql/types.ts";

/** A SQL client, told apart from other managed clients by the connection-id API the SQL endpoints use. */
export function isSqlClient(client: unknown): client is SqlClient {
	const c = client as Partial<SqlClient>;
	return typeof c.acquireId === "function" && typeof c.execute === "function" && typeof c.releaseId === "function" && typeof c.dialect === "string";
}
