/** The shared SQL contract (test/sql/contract.ts) on a SQLite file database. */
import { createSqliteClient } from "../../src/adapters/sqlite/index.ts";
import { sqlContract } from "../sql/contract.ts";
import { countTo, tempDirectory } from "./helpers.ts";

const dir = tempDirectory("contract");

sqlContract({
	dialect: "sqlite",
	client: (options) => createSqliteClient({ filename: dir.file("contract.db"), ...options }),
	table: "lg_sqlite_contract",
	createTable: "CREATE TABLE lg_sqlite_contract (id INTEGER PRIMARY KEY, note TEXT)",
	param: () => "?",
	// About 7 million rows a second here: CPU inside SQLite, stopped only by stopping its host.
	slow: (ms) => countTo(ms * 7_000),
	after: async () => dir.remove(),
	transactionControl: ["BEGIN", "BEGIN IMMEDIATE", "COMMIT", "END", "END TRANSACTION", "ROLLBACK", "SELECT 1; COMMIT"],
});
