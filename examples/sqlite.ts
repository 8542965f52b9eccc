/**
 * The embedded SQL client: a SQLite file in WAL mode, no server to set up. Shows the fetch modes,
 * a batch, a transaction, a pinned connection, and a statement timeout that really stops a
 * runaway query while the event loop keeps running.
 * Run: npx node examples/sqlite.ts
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSqliteClient, QueryTimeoutError } from "../src/adapters/sqlite/index.ts";

const dir = mkdtempSync(join(tmpdir(), "lifeguard-example-"));
const db = createSqliteClient({ filename: join(dir, "shop.db"), statementTimeoutMs: 5_000 });

try {
	await db.query("CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, stock INTEGER NOT NULL)", [], { fetch: "none" });
	const added = await db.batch("INSERT INTO products (name, stock) VALUES (?, ?)", [
		["tea", 12],
		["cake", 3],
		["jam", 0],
	]);
	console.log(`batch: ${added} products added in one transaction`);

	console.log("all:", await db.query("SELECT name, stock FROM products ORDER BY name"));
	console.log("one:", await db.query("SELECT name FROM products WHERE stock = 0", [], { fetch: "one" }));
	console.log("many:", await db.query("SELECT name FROM products ORDER BY id", [], { fetch: "many", limit: 2 }));
	console.log("none:", await db.query("UPDATE products SET stock = stock + 1", [], { fetch: "none" }), "rows updated");

	// Commit on return, roll back on throw; BEGIN IMMEDIATE, so concurrent read-then-write transactions never lose an update.
	await db.transaction(async (tx) => {
		const cake = await tx.query<{ stock: number }>("SELECT stock FROM products WHERE name = ?", ["cake"], { fetch: "one" });
		await tx.query("UPDATE products SET stock = ? WHERE name = ?", [(cake?.stock ?? 0) - 1, "cake"], { fetch: "none" });
	});

	// A pinned connection keeps its session (here a temp table) until released.
	{
		await using conn = await db.acquire();
		await conn.query("CREATE TEMP TABLE basket (product TEXT)", [], { fetch: "none" });
		await conn.query("INSERT INTO basket VALUES ('tea'), ('jam')", [], { fetch: "none" });
		console.log("basket:", await conn.query("SELECT count(*) AS items FROM basket", [], { fetch: "one" }));
	}

	// A runaway statement: the event loop keeps ticking, and the timeout kills its host process at the deadline.
	let ticks = 0;
	const ticker = setInterval(() => ticks++, 10);
	const started = performance.now();
	try {
		await db.query("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c", [], { timeoutMs: 300 });
	} catch (error) {
		if (!(error instanceof QueryTimeoutError)) throw error;
		console.log(`timeout: ${error.code} after ${Math.round(performance.now() - started)} ms; the event loop ticked ${ticks} times meanwhile`);
	} finally {
		clearInterval(ticker);
	}
	console.log("after the timeout, on a fresh connection:", await db.query("SELECT sum(stock) AS stock FROM products", [], { fetch: "one" }));

	const { primary } = db.stats();
	console.log(`pool "${primary.name}": ${primary.total} open, ${primary.created} created, ${primary.destroyed} replaced`);
} finally {
	await db.close();
	rmSync(dir, { recursive: true, force: true });
}
