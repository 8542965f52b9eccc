/**
 * node-postgres pool code running on lifeguard: the only change is the import.
 *   before: import pg from "pg";                           const pool = new pg.Pool({ … });
 *   after:  import { Pool } from "lifeguard/compat/pg";    const pool = new Pool({ … });
 * Kysely, Drizzle and connect-pg-simple take this pool where they take a pg.Pool.
 * Run: npx node examples/compat-pg.ts   (PG_URL, default postgres://postgres@127.0.0.1:5432/test)
 */
import { Pool } from "../src/compat/pg.ts";

const connectionString = process.env.PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";

// Unchanged pg.Pool code from here on.
const pool = new Pool({ connectionString, max: 4, idleTimeoutMillis: 30_000, connectionTimeoutMillis: 2_000, application_name: "example-compat-pg" });
pool.on("error", (err) => console.error("idle client failed:", err.message));

const { rows } = await pool.query("SELECT $1::text AS greeting", ["hello from the drop-in"]);
console.log(rows[0].greeting);

const client = await pool.connect();
try {
	await client.query("BEGIN");
	const { rows: now } = await client.query("SELECT now() AS at");
	await client.query("COMMIT");
	console.log(`transaction ran at ${now[0].at.toISOString()}`);
} finally {
	client.release();
}
console.log(`totalCount ${pool.totalCount}, idleCount ${pool.idleCount}, waitingCount ${pool.waitingCount}`);

// What pg.Pool does not have: the lifeguard core underneath, with statistics and health.
const stats = pool.core.stats();
console.log(
	`lifeguard: ${stats.acquires.ok} checkouts, ${stats.created} connection(s) opened, reuse ${stats.reuseRatio.toFixed(2)}, health ${pool.core.health().score}`,
);

await pool.end();
console.log(`ended: ${pool.ended}`);
