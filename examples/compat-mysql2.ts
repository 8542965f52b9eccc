/**
 * mysql2 pool code running on lifeguard: the only change is the import.
 *   before: import mysql from "mysql2";
 *   after:  import mysql from "lifeguard/compat/mysql2";
 * Kysely's MysqlDialect and Drizzle's mysql2 driver take this pool where they take mysql2's.
 * Run: npx node examples/compat-mysql2.ts   (MYSQL_URL, default mysql://root@127.0.0.1:3306/test)
 */
import mysql from "../src/compat/mysql2.ts";

const url = process.env.MYSQL_URL ?? "mysql://root@127.0.0.1:3306/test";

// Unchanged mysql2 code from here on.
const pool = mysql.createPool(`${url}?connectionLimit=4`);
pool.on("connection", (connection) => console.log(`new connection ${connection.threadId}`));

pool.query("SELECT ? AS greeting", ["hello from the callback API"], (err, rows) => {
	if (err) throw err;
	console.log((rows as { greeting: string }[])[0].greeting);
});

const promisePool = pool.promise();
const [rows] = await promisePool.query("SELECT 6 * 7 AS answer");
console.log(`answer: ${(rows as { answer: number }[])[0].answer}`);

const connection = await promisePool.getConnection();
try {
	await connection.beginTransaction();
	const [[{ id }]] = (await connection.query("SELECT CONNECTION_ID() AS id")) as unknown as [[{ id: number }]];
	await connection.commit();
	console.log(`transaction on connection ${id}`);
} finally {
	connection.release();
}

// What mysql2's pool does not have: the lifeguard core underneath, with statistics and health.
const stats = pool.core.stats();
console.log(`lifeguard: ${stats.acquires.ok} checkouts, ${stats.created} connection(s) opened, health ${pool.core.health().score}`);

await promisePool.end();
