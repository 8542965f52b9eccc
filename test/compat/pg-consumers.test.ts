/**
 * `lifeguard/compat/pg` given to libraries nobody here wrote, in place of `pg.Pool` (the one
 * changed import), running their own flows on the real PostgreSQL: Kysely's PostgresDialect,
 * Drizzle's node-postgres driver, connect-pg-simple behind express-session over real HTTP.
 */
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { describe, it } from "node:test";
import { eq, type SQL, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/node-postgres";
import { integer, pgTable, text } from "drizzle-orm/pg-core";
import express from "express";
import { Kysely, PostgresDialect } from "kysely";
import { Pool } from "../../src/compat/pg.ts";
import { admin, appName, server } from "../postgres/helpers.ts";
import { drizzleUsersFlow, kyselyPeopleFlow, type PeopleDb, scratchTables } from "../support/consumer-flows.ts";

const require = createRequire(import.meta.url);
const Cursor = require("pg-cursor");

/** express-session and connect-pg-simple ship no typings: what the test uses of them. */
type Session = { visits?: number };
type SessionRequest = express.Request & { session: Session };
interface SessionStore {
	close(): Promise<void>;
}
const session = require("express-session") as (options: Record<string, unknown>) => express.RequestHandler;
const connectPgSimple = require("connect-pg-simple") as (s: typeof session) => new (options: Record<string, unknown>) => SessionStore;

function config(label: string) {
	return { host: server.host, port: server.port, user: server.user, database: server.database, application_name: appName(label), max: 4 };
}

const adminClient = scratchTables(
	"postgres",
	admin,
	["compat_kysely_people", "compat_drizzle_users", "compat_pg_sessions"],
	[
		"CREATE TABLE compat_kysely_people (id serial PRIMARY KEY, name text NOT NULL, age int)",
		"CREATE TABLE compat_drizzle_users (id integer PRIMARY KEY, name text NOT NULL)",
	],
);

describe("Kysely's PostgresDialect on the drop-in", () => {
	it("inserts, selects, runs a transaction (commit and rollback), streams with pg-cursor, and destroys the pool", async () => {
		const pool = new Pool(config("compat-kysely"));
		const db = new Kysely<PeopleDb>({ dialect: new PostgresDialect({ pool, cursor: Cursor }) });
		await kyselyPeopleFlow(db, "postgres");
		assert.equal(pool.core.stats().acquires.ok, 5);
		await db.destroy();
		assert.equal(pool.ended, true);
		assert.equal(pool.totalCount, 0);
	});
});

const users = pgTable("compat_drizzle_users", { id: integer("id").primaryKey(), name: text("name").notNull() });

describe("Drizzle's node-postgres driver on the drop-in", () => {
	it("inserts, selects, updates, runs raw SQL and a transaction that rolls back", async () => {
		const pool = new Pool(config("compat-drizzle"));
		const db = drizzle({ client: pool });
		await drizzleUsersFlow<typeof users, SQL | undefined>(db, users, (id) => eq(users.id, id));
		const counted = await db.execute(sql`SELECT count(*)::int AS n FROM compat_drizzle_users`);
		assert.equal(counted.rows[0].n, 2);
		assert.equal(pool.totalCount, pool.idleCount, "every client came back");
		await pool.end();
	});
});

describe("connect-pg-simple with express-session on the drop-in", () => {
	it("writes a session over HTTP, stores it in PostgreSQL, and reads it back on the next request with the cookie", async () => {
		const pool = new Pool(config("compat-sessions"));
		const PgStore = connectPgSimple(session);
		const store = new PgStore({ pool, tableName: "compat_pg_sessions", createTableIfMissing: true, pruneSessionInterval: false });
		const app = express();
		app.use(session({ store, secret: "compat-test-secret", resave: false, saveUninitialized: false }));
		app.post("/visit", (req, res) => {
			const s = (req as SessionRequest).session;
			s.visits = (s.visits ?? 0) + 1;
			res.json({ visits: s.visits });
		});
		app.get("/visits", (req, res) => res.json({ visits: (req as SessionRequest).session.visits ?? 0 }));
		const http = app.listen(0, "127.0.0.1");
		await new Promise<void>((resolve) => http.once("listening", () => resolve()));
		const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
		try {
			const first = await fetch(`${base}/visit`, { method: "POST" });
			assert.deepEqual(await first.json(), { visits: 1 });
			const cookie = first.headers.get("set-cookie")?.split(";")[0];
			assert.ok(cookie?.startsWith("connect.sid="), "a session cookie");
			const second = await fetch(`${base}/visit`, { method: "POST", headers: { cookie } });
			assert.deepEqual(await second.json(), { visits: 2 });
			const read = await fetch(`${base}/visits`, { headers: { cookie } });
			assert.deepEqual(await read.json(), { visits: 2 });
			const stored = await adminClient().query("SELECT sess FROM compat_pg_sessions");
			assert.equal(stored.rows.length, 1);
			assert.equal(stored.rows[0].sess.visits, 2);
			const anonymous = await fetch(`${base}/visits`);
			assert.deepEqual(await anonymous.json(), { visits: 0 });
		} finally {
			await new Promise<void>((resolve) => http.close(() => resolve()));
			await store.close();
			await pool.end();
		}
	});
});
