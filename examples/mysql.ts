/**
 * A pooled MySQL/MariaDB client: fetch modes, a batch sent as one multi-row INSERT, a transaction,
 * a pinned connection, and a statement timeout that stops the statement on the server.
 * Run: npx node examples/mysql.ts   (MYSQL_URL, default mysql://root@127.0.0.1:3306/test)
 */
import { createMysqlClient, QueryTimeoutError } from "../src/adapters/mysql/index.ts";

const db = createMysqlClient({
	primary: {
		url: process.env.MYSQL_URL ?? "mysql://root@127.0.0.1:3306/test",
		// Every connection starts (and, with resetSession, restarts) with these session settings.
		session: { timeZone: "+00:00", sqlMode: "STRICT_ALL_TABLES,NO_ZERO_DATE" },
	},
	pool: { name: "shop", min: 2, max: 10 },
	statementTimeoutMs: 10_000,
});

try {
	await db.start();
	await db.query("CREATE TABLE IF NOT EXISTS example_products (id INT PRIMARY KEY, name VARCHAR(50) NOT NULL, stock INT NOT NULL)", [], { fetch: "none" });
	await db.query("DELETE FROM example_products", [], { fetch: "none" });

	const added = await db.batch("INSERT INTO example_products (id, name, stock) VALUES (?, ?, ?)", [
		[1, "tea", 12],
		[2, "cake", 3],
		[3, "jam", 0],
	]);
	console.log(`batch: ${added} products added in one INSERT`);

	console.log("all:", await db.query("SELECT name, stock FROM example_products ORDER BY id"));
	console.log("one:", await db.query("SELECT name FROM example_products WHERE stock = 0", [], { fetch: "one" }));
	console.log("many:", await db.query("SELECT name FROM example_products ORDER BY id", [], { fetch: "many", limit: 2 }));
	console.log("none:", await db.query("UPDATE example_products SET stock = stock + 1", [], { fetch: "none" }), "rows updated");

	// Commit on return, roll back on throw; the row lock makes concurrent sellers queue instead of overselling.
	await db.transaction(
		async (tx) => {
			const cake = await tx.query<{ stock: number }>("SELECT stock FROM example_products WHERE id = ? FOR UPDATE", [2], { fetch: "one" });
			await tx.query("UPDATE example_products SET stock = ? WHERE id = ?", [(cake?.stock ?? 0) - 1, 2], { fetch: "none" });
		},
		{ isolation: "read committed" },
	);

	// A pinned connection keeps its session (user variables, temporary tables) until released.
	{
		await using conn = await db.acquire();
		await conn.query("SET @basket = 'tea,jam'", [], { fetch: "none" });
		console.log("pinned:", await conn.query("SELECT @basket AS basket, CONNECTION_ID() AS connection", [], { fetch: "one" }));
	}

	// The server stops the statement at the deadline (MariaDB max_statement_time, MySQL MAX_EXECUTION_TIME or KILL QUERY).
	const started = performance.now();
	try {
		await db.query("SELECT SLEEP(30)", [], { timeoutMs: 300 });
	} catch (error) {
		if (!(error instanceof QueryTimeoutError)) throw error;
		console.log(`timeout: ${error.code} after ${Math.round(performance.now() - started)} ms; connection kept: ${!error.connectionClosed}`);
	}

	const stats = db.stats().primary;
	console.log(`pool: ${stats.total} connections, ${stats.acquires.ok} acquires, ${stats.created} created`);
	await db.query("DROP TABLE example_products", [], { fetch: "none" });
} finally {
	await db.close();
}
