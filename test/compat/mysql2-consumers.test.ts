/**
 * `lifeguard/compat/mysql2` given to libraries nobody here wrote, in place of mysql2's
 * `createPool` (the one changed import), running their own flows on the real MariaDB: Kysely's
 * MysqlDialect and Drizzle's mysql2 driver.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { eq, type SQL, sql } from "drizzle-orm";
import { int, mysqlTable, varchar } from "drizzle-orm/mysql-core";
import { drizzle } from "drizzle-orm/mysql2";
import { Kysely, MysqlDialect } from "kysely";
import mysql from "mysql2/promise";
import { createPool } from "../../src/compat/mysql2.ts";
import * as compatPromise from "../../src/compat/mysql2-promise.ts";
import { drizzleUsersFlow, kyselyPeopleFlow, type PeopleDb, scratchTables } from "../support/consumer-flows.ts";
import { services } from "../support/services.ts";

const { host, port, user, database } = services.mysql;
const options = { host, port, user, database, connectionLimit: 4 };

scratchTables(
	"mysql",
	async () => mysql.createPool({ ...options, connectionLimit: 1 }),
	["compat_kysely_people", "compat_drizzle_mysql_users"],
	[
		"CREATE TABLE compat_kysely_people (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(40) NOT NULL, age INT)",
		"CREATE TABLE compat_drizzle_mysql_users (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL)",
	],
);

describe("Kysely's MysqlDialect on the drop-in", () => {
	it("inserts, selects, runs a transaction (commit and rollback), streams, and destroys the pool", async () => {
		const pool = createPool(options);
		const db = new Kysely<PeopleDb>({ dialect: new MysqlDialect({ pool }) });
		await kyselyPeopleFlow(db, "mysql");
		assert.equal(pool.core.stats().acquires.ok, 5);
		await db.destroy();
		assert.equal(pool.core.closed, true);
		assert.equal(pool.core.size, 0);
	});
});

const users = mysqlTable("compat_drizzle_mysql_users", { id: int("id").primaryKey(), name: varchar("name", { length: 40 }).notNull() });

describe("Drizzle's mysql2 driver on the drop-in", () => {
	it("inserts, selects, updates, runs raw SQL and a transaction that rolls back", async () => {
		const pool = createPool(options);
		const db = drizzle({ client: pool });
		await drizzleUsersFlow<typeof users, SQL | undefined>(db, users, (id) => eq(users.id, id));
		const [rows] = (await db.execute(sql`SELECT count(*) AS n FROM compat_drizzle_mysql_users`)) as unknown as [{ n: number }[]];
		assert.equal(Number(rows[0].n), 2);
		assert.equal(pool.core.activeCount, 0, "every connection came back");
		await new Promise<void>((resolve) => pool.end(() => resolve()));
	});
});

describe("mysql2/promise code on lifeguard/compat/mysql2/promise", () => {
	it("createPool returns mysql2's PromisePool on the drop-in: query, execute, a transaction on getConnection, end, and core", async () => {
		const pool = compatPromise.createPool(options);
		const [rows] = await pool.query("SELECT ? AS v", ["x"]);
		assert.deepEqual(rows, [{ v: "x" }]);
		const [executed] = await pool.execute("SELECT ? + 1 AS n", [1]);
		assert.deepEqual(executed, [{ n: 2 }]);
		const conn = await pool.getConnection();
		await conn.beginTransaction();
		await conn.query("INSERT INTO compat_drizzle_mysql_users (id, name) VALUES (10, 'Promise')");
		await conn.rollback();
		conn.release();
		const [left] = await pool.query("SELECT count(*) AS n FROM compat_drizzle_mysql_users WHERE id = 10");
		assert.equal(Number((left as { n: number }[])[0].n), 0);
		assert.equal(pool.core.stats().acquires.ok, 4);
		const db = drizzle({ client: pool });
		assert.deepEqual(await db.select().from(users).where(eq(users.id, 1)), [{ id: 1, name: "Ada" }]);
		await pool.end();
		assert.equal(pool.core.closed, true);
	});
});
