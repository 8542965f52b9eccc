/** The shared SQL contract (test/sql/contract.ts) on the real MariaDB server. */
import { createMysqlClient } from "../../src/adapters/mysql/index.ts";
import { sqlContract } from "../sql/contract.ts";
import { requireService } from "../support/services.ts";
import { url } from "./helpers.ts";

sqlContract({
	dialect: "mysql",
	client: (options) => createMysqlClient({ primary: url, ...options }),
	table: "lg_mysql_contract",
	createTable: "CREATE TABLE lg_mysql_contract (id INT PRIMARY KEY, note VARCHAR(100)) ENGINE=InnoDB",
	param: () => "?",
	slow: (ms) => `SELECT SLEEP(${ms / 1000}) AS lg_slow`,
	before: () => requireService("mysql"),
	transactionControl: [
		"BEGIN",
		"COMMIT",
		"COMMIT WORK",
		"ROLLBACK",
		"START TRANSACTION",
		"SET autocommit = 1",
		"SET SESSION sql_mode = DEFAULT, @@autocommit = 1",
		"XA START 'lg'",
		"# c\nCOMMIT",
	],
});
