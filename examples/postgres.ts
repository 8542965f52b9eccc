/**
 * A pooled PostgreSQL client with a read replica: fetch modes, a one-round-trip batch, a
 * transaction, a pinned connection, a connection id, a statement timeout cancelled on the server,
 * a statement stopped by an AbortSignal, a transaction deadline, and read-your-writes sessions. The "replica" is the same local server under another
 * application_name, so the example shows where each statement ran.
 * Run: npx node examples/postgres.ts   (PG_URL, default postgres://postgres@127.0.0.1:5432/test)
 */
import { createPostgresClient, QueryTimeoutError } from "../src/adapters/postgres/index.ts";

const url = process.env.PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const where = "current_setting('application_name') AS ran_on";

const db = createPostgresClient({
	primary: { url, applicationName: "example-primary", sessionParameters: { TimeZone: "UTC" } },
	replicas: [{ url, applicationName: "example-replica" }],
	pool: { name: "shop", min: 1, max: 10 },
	statementTimeoutMs: 10_000,
	readYourWritesMs: 1_000,
});

try {
	await db.start();
	await db.query("CREATE TABLE IF NOT EXISTS example_products (id int PRIMARY KEY, name text NOT NULL, stock int NOT NULL)", [], { fetch: "none" });
	await db.query("DELETE FROM example_products", [], { fetch: "none" });

	const added = await db.batch("INSERT INTO example_products (id, name, stock) VALUES ($1, $2, $3)", [
		[1, "tea", 12],
		[2, "cake", 3],
		[3, "jam", 0],
	]);
	console.log(`batch: ${added} products added in one round trip`);

	// Session-less calls share the client's read-your-writes window: right after the batch, this read stays on the primary.
	console.log("all:", await db.query(`SELECT name, stock, ${where} FROM example_products ORDER BY id`));
	console.log("one:", await db.query("SELECT name FROM example_products WHERE stock = 0", [], { fetch: "one" }));
	console.log("many:", await db.query("SELECT name FROM example_products ORDER BY id", [], { fetch: "many", limit: 2 }));
	console.log("none:", await db.query("UPDATE example_products SET stock = stock + 1", [], { fetch: "none" }), "rows updated");

	// Commit on return, roll back on throw; FOR UPDATE makes concurrent sellers queue instead of overselling.
	await db.transaction(
		async (tx) => {
			const cake = await tx.query<{ stock: number }>("SELECT stock FROM example_products WHERE id = $1 FOR UPDATE", [2], { fetch: "one" });
			await tx.query("UPDATE example_products SET stock = $1 WHERE id = $2", [(cake?.stock ?? 0) - 1, 2], { fetch: "none" });
		},
		{ isolation: "read committed" },
	);

	// Read-your-writes: after its own write, a session reads from the primary for readYourWritesMs.
	const alice = db.session();
	const bob = db.session();
	await alice.query("UPDATE example_products SET stock = 0 WHERE id = 1", [], { fetch: "none" });
	console.log("alice reads from:", await alice.query(`SELECT ${where}`, [], { fetch: "one" }));
	console.log("bob reads from:  ", await bob.query(`SELECT ${where}`, [], { fetch: "one" }));

	// A pinned connection: one backend until released (here by `await using`).
	{
		await using conn = await db.acquire();
		const first = await conn.query("SELECT pg_backend_pid() AS pid", [], { fetch: "one" });
		const second = await conn.query("SELECT pg_backend_pid() AS pid", [], { fetch: "one" });
		console.log("pinned: same backend for both statements:", first, second);
	}

	// A connection id: for callers that can only keep a string between calls.
	const id = await db.acquireId();
	await db.execute(id, "BEGIN");
	await db.execute(id, "UPDATE example_products SET stock = stock + 10 WHERE id = 3");
	await db.execute(id, "COMMIT");
	db.releaseId(id);

	try {
		await db.query("SELECT pg_sleep(5)", [], { timeoutMs: 200 });
	} catch (error) {
		if (!(error instanceof QueryTimeoutError)) throw error;
		console.log(`timeout: ${error.code} after ${error.timeoutMs} ms; the server cancelled the statement, the connection is reused`);
	}

	// A signal stops the running statement on the server (a cancel request) and the call rejects at once.
	const controller = new AbortController();
	setTimeout(() => controller.abort(new Error("the user navigated away")), 100);
	const started = performance.now();
	await db.query("SELECT pg_sleep(5)", [], { signal: controller.signal }).catch((error: Error) => {
		console.log(`aborted after ${Math.round(performance.now() - started)} ms: ${error.message}; the connection goes back once the server answered the cancel`);
	});

	// A transaction has a deadline of its own, and refuses transaction control inside it.
	await db
		.transaction(
			async (tx) => {
				await tx.query("UPDATE example_products SET stock = stock - 1 WHERE id = 1", [], { fetch: "none" });
				await tx.query("COMMIT").catch((error: Error) => console.log("inside transaction(fn):", error.message.split(":")[1]?.trim()));
				await tx.query("SELECT pg_sleep(5)");
			},
			{ timeoutMs: 300 },
		)
		.catch((error: Error & { code?: string }) => console.log(`transaction: ${error.code}, rolled back`));

	await db.query("DROP TABLE example_products", [], { fetch: "none" });
	const { primary, replicas, routed, leases } = db.stats();
	console.log("stats:", { primary: { total: primary.total, acquires: primary.acquires.ok }, replica: { acquires: replicas[0].acquires.ok }, routed, leases });
} finally {
	await db.close();
}
