/** The shared SQL contract (test/sql/contract.ts) on the real PostgreSQL server. */
import { createPostgresClient } from "../../src/adapters/postgres/index.ts";
import { sqlContract } from "../sql/contract.ts";
import { requireService } from "../support/services.ts";
import { serverOptions } from "./helpers.ts";

sqlContract({
	dialect: "postgres",
	client: (options) => createPostgresClient({ primary: serverOptions("lg-pg-contract"), ...options }),
	table: "lg_pg_contract",
	createTable: "CREATE TABLE lg_pg_contract (id int PRIMARY KEY, note text)",
	param: (n) => `$${n}`,
	slow: (ms) => `SELECT pg_sleep(${ms / 1000})`,
	before: () => requireService("postgres"),
	transactionControl: [
		"BEGIN",
		"COMMIT",
		"END",
		"ABORT",
		"ROLLBACK",
		"rollback work",
		"START TRANSACTION",
		"COMMIT AND CHAIN",
		"PREPARE TRANSACTION 'lg'",
		"SELECT 1; COMMIT",
		"/* c */ commit -- c",
	],
});
