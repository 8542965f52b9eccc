import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { SQL_CLIENT_OPTION_KEYS } from "../../src/adapters/sql/client.ts";
import {
	ConnectionIdUnknownError,
	createSqliteClient,
	QueryFailedError,
	QueryTimeoutError,
	SQLITE_FILE_MAX_CONNECTIONS,
	type SqlClient,
	type SqliteClientOptions,
	type SqliteConfig,
} from "../../src/adapters/sqlite/index.ts";
import { ConfigError } from "../../src/core/errors.ts";
import { countTo, ENDLESS, tempDirectory } from "./helpers.ts";

/** The host processes this test process has started and not yet reaped. */
function hostPids(): number[] {
	try {
		return execFileSync("pgrep", ["-P", String(process.pid)], { encoding: "utf8" })
			.trim()
			.split("\n")
			.filter(Boolean)
			.map(Number);
	} catch {
		return []; // pgrep exits 1 when nothing matches
	}
}

async function waitFor(condition: () => boolean, timeoutMs = 3_000): Promise<void> {
	const deadline = performance.now() + timeoutMs;
	while (!condition()) {
		if (performance.now() > deadline) throw new Error("condition not met in time");
		await new Promise((resolve) => setTimeout(resolve, 20));
	}
}

const dir = tempDirectory("client");
const clients: SqlClient[] = [];

function client(options: Parameters<typeof createSqliteClient>[0] = {}): SqlClient {
	const created = createSqliteClient(options);
	clients.push(created);
	return created;
}

after(async () => {
	await Promise.all(clients.map((c) => c.close()));
	dir.remove();
});

describe("createSqliteClient on the default in-memory database", () => {
	let db: SqlClient;

	before(async () => {
		db = client();
		await db.start();
		await db.query("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL UNIQUE)", [], { fetch: "none" });
	});

	it("keeps the database in its one connection, warm from start()", () => {
		const stats = db.stats().primary;
		assert.equal(stats.max, 1);
		assert.equal(stats.min, 1);
		assert.equal(stats.total, 1);
		assert.equal(db.dialect, "sqlite");
	});

	it("runs statements in every fetch mode", async () => {
		assert.equal(await db.query("INSERT INTO notes (body) VALUES (?), (?), (?)", ["one", "two", "three"], { fetch: "none" }), 3);
		assert.deepEqual(await db.query("SELECT body FROM notes ORDER BY id"), [{ body: "one" }, { body: "two" }, { body: "three" }]);
		assert.deepEqual(await db.query("SELECT body FROM notes WHERE id = ?", [2], { fetch: "one" }), { body: "two" });
		assert.equal(await db.query("SELECT body FROM notes WHERE id = ?", [99], { fetch: "one" }), undefined);
		const firstThree = await db.query<{ x: number }>(ENDLESS, [], { fetch: "many", limit: 3 });
		assert.deepEqual(
			firstThree.map((r) => r.x),
			[1, 2, 3],
		);
	});

	it("batch inserts many parameter sets at once", async () => {
		const sets = Array.from({ length: 100 }, (_, i) => [`batch ${i}`]);
		assert.equal(await db.batch("INSERT INTO notes (body) VALUES (?)", sets), 100);
		assert.deepEqual(await db.query("SELECT count(*) AS n FROM notes WHERE body LIKE 'batch %'", [], { fetch: "one" }), { n: 100 });
	});

	it("a statement error is QUERY_FAILED with SQLite's error as cause, and the connection (with the data) stays", async () => {
		const error = await db.query("INSERT INTO notes (body) VALUES ('one')").catch((e: unknown) => e);
		assert.ok(error instanceof QueryFailedError, String(error));
		assert.match(error.message, /UNIQUE constraint failed/);
		assert.equal((error.cause as { errcode?: number }).errcode, 2067);
		assert.deepEqual(await db.query("SELECT count(*) AS n FROM notes WHERE body = 'one'", [], { fetch: "one" }), { n: 1 });
		assert.equal(db.stats().primary.destroyed, 0);
	});

	it("a read-only transaction refuses writes, and the connection is writable afterwards", async () => {
		await assert.rejects(
			db.transaction((tx) => tx.query("DELETE FROM notes", [], { fetch: "none" }), { readOnly: true }),
			(error: Error) => error instanceof QueryFailedError && /readonly/.test(error.message),
		);
		assert.equal(await db.query("INSERT INTO notes (body) VALUES ('after read-only')", [], { fetch: "none" }), 1);
	});

	it("a pinned connection keeps its session (a temp table) until released", async () => {
		const conn = await db.acquire();
		try {
			await conn.query("CREATE TEMP TABLE scratch (v INTEGER)", [], { fetch: "none" });
			await conn.query("INSERT INTO scratch VALUES (1), (2)", [], { fetch: "none" });
			assert.deepEqual(await conn.query("SELECT sum(v) AS s FROM scratch", [], { fetch: "one" }), { s: 3 });
			assert.equal(typeof conn.connectionId, "number");
		} finally {
			conn.release();
		}
	});

	it("connection ids: acquireId, execute on it, releaseId; an unknown or released id is CONNECTION_ID_UNKNOWN", async () => {
		const id = await db.acquireId();
		assert.equal(typeof id, "string");
		await db.execute(id, "BEGIN");
		await db.execute(id, "INSERT INTO notes (body) VALUES (?)", ["via id"], { fetch: "none" });
		assert.deepEqual(await db.execute(id, "SELECT body FROM notes WHERE body = ?", ["via id"], { fetch: "one" }), { body: "via id" });
		await db.execute(id, "COMMIT");
		assert.equal(db.stats().leases.open, 1);
		db.releaseId(id);
		assert.equal(db.stats().leases.open, 0);
		await assert.rejects(db.execute(id, "SELECT 1"), ConnectionIdUnknownError);
		await assert.rejects(db.execute("no-such-id", "SELECT 1"), (error: Error & { code?: string }) => error.code === "CONNECTION_ID_UNKNOWN");
		assert.throws(() => db.releaseId(id), ConnectionIdUnknownError);
		assert.deepEqual(await db.query("SELECT body FROM notes WHERE body = ?", ["via id"], { fetch: "one" }), { body: "via id" });
	});

	it("concurrent queries all complete, one at a time on the one connection", async () => {
		const results = await Promise.all(Array.from({ length: 25 }, (_, i) => db.query<{ v: number }>("SELECT ? AS v", [i], { fetch: "one" })));
		assert.deepEqual(
			results.map((r) => r?.v),
			Array.from({ length: 25 }, (_, i) => i),
		);
		assert.equal(db.stats().primary.peak.total, 1);
	});
});

describe("createSqliteClient: fetch 'result' and insertId", () => {
	// One in-memory connection: the connection's last_insert_rowid() is always there to leak, if anything leaked it.
	let db: SqlClient;

	before(async () => {
		db = client();
		await db.query("CREATE TABLE parents (id INTEGER PRIMARY KEY, k TEXT UNIQUE, v INTEGER)", [], { fetch: "none" });
		await db.query("CREATE TABLE children (id INTEGER PRIMARY KEY, parent INTEGER)", [], { fetch: "none" });
		await db.query("CREATE TABLE keyed (k TEXT PRIMARY KEY, v INTEGER) WITHOUT ROWID", [], { fetch: "none" });
	});

	it("an INSERT reports the rowid of the row it inserted, with rows and affectedRows", async () => {
		assert.deepEqual(await db.query("INSERT INTO parents (k, v) VALUES (?, ?)", ["a", 1], { fetch: "result" }), { rows: [], affectedRows: 1, insertId: 1 });
		assert.deepEqual(await db.query("INSERT INTO parents (k, v) VALUES ('b', 1), ('c', 1)", [], { fetch: "result" }), {
			rows: [],
			affectedRows: 2,
			insertId: 3,
		});
	});

	it("an INSERT … RETURNING gives its rows and its rowid; WITH … INSERT and REPLACE report theirs", async () => {
		assert.deepEqual(await db.query("INSERT INTO parents (k, v) VALUES ('d', 1) RETURNING k", [], { fetch: "result" }), {
			rows: [{ k: "d" }],
			affectedRows: 1,
			insertId: 4,
		});
		const withed = await db.query("WITH s(k) AS (SELECT 'e') INSERT INTO parents (k, v) SELECT k, 1 FROM s", [], { fetch: "result" });
		assert.equal(withed.insertId, 5);
		// REPLACE deletes the conflicting row and inserts a new one, with a new rowid.
		assert.equal((await db.query("REPLACE INTO parents (k, v) VALUES ('e', 2)", [], { fetch: "result" })).insertId, 6);
	});

	it("an insert into another table that gets the same rowid as the previous insert still reports it", async () => {
		const parent = await db.query("INSERT INTO children (parent) VALUES (1)", [], { fetch: "result" });
		assert.equal(parent.insertId, 1);
		await db.query("INSERT INTO children (id, parent) VALUES (99, 1)", [], { fetch: "none" });
		// The connection's last insert rowid is now 100, and the next child's rowid is 100 too.
		await db.query("INSERT INTO parents (id, k, v) VALUES (100, 'x', 1)", [], { fetch: "none" });
		assert.equal((await db.query("INSERT INTO children (parent) VALUES (100)", [], { fetch: "result" })).insertId, 100);
		await db.query("INSERT INTO parents (id, k, v) VALUES (101, 'y', 1)", [], { fetch: "none" });
		assert.equal((await db.query('INSERT INTO main."children" (parent) VALUES (101)', [], { fetch: "result" })).insertId, 101);
	});

	it("statements that insert no row report undefined, never the previous insert's rowid", async () => {
		await db.query("INSERT INTO parents (k, v) VALUES ('f', 1)", [], { fetch: "none" });
		const none = { rows: [], insertId: undefined };
		assert.deepEqual(await db.query("UPDATE parents SET v = v + 1 WHERE k = 'f'", [], { fetch: "result" }), { ...none, affectedRows: 1 });
		assert.deepEqual(await db.query("SELECT v FROM parents WHERE k = 'f'", [], { fetch: "result" }), {
			rows: [{ v: 2 }],
			affectedRows: 0,
			insertId: undefined,
		});
		assert.deepEqual(await db.query("INSERT OR IGNORE INTO parents (k, v) VALUES ('f', 1)", [], { fetch: "result" }), { ...none, affectedRows: 0 });
		assert.deepEqual(await db.query("INSERT INTO parents (k, v) VALUES ('f', 1) ON CONFLICT (k) DO NOTHING", [], { fetch: "result" }), {
			...none,
			affectedRows: 0,
		});
		assert.deepEqual(await db.query("DELETE FROM parents WHERE k = 'nothing'", [], { fetch: "result" }), { ...none, affectedRows: 0 });
		// Right after an insert (SQLite's changes() still says 1), a statement whose words include INSERT but that is no insert.
		await db.query("INSERT INTO parents (k, v) VALUES ('h', 1)", [], { fetch: "none" });
		const trigger = "CREATE TRIGGER parents_log AFTER INSERT ON parents BEGIN INSERT INTO children (parent) VALUES (new.id); END";
		assert.deepEqual(await db.query(trigger, [], { fetch: "result" }), { ...none, affectedRows: 0 });
		// Tables without rowids: WITHOUT ROWID, and a view whose INSTEAD OF trigger inserts into a table.
		assert.deepEqual(await db.query("INSERT INTO keyed (k, v) VALUES ('no rowid', 1)", [], { fetch: "result" }), { ...none, affectedRows: 1 });
		await db.query("CREATE VIEW parent_view AS SELECT k, v FROM parents", [], { fetch: "none" });
		await db.query("CREATE TRIGGER parent_view_insert INSTEAD OF INSERT ON parent_view BEGIN INSERT INTO parents (k, v) VALUES (new.k, new.v); END", [], {
			fetch: "none",
		});
		assert.equal((await db.query("INSERT INTO parent_view (k, v) VALUES ('through a view', 1)", [], { fetch: "result" })).insertId, undefined);
	});

	it("an insert whose trigger inserts elsewhere reports its own row's rowid", async () => {
		const inserted = await db.query("INSERT INTO parents (k, v) VALUES ('i', 1)", [], { fetch: "result" });
		const [{ id }] = await db.query<{ id: number }>("SELECT id FROM parents WHERE k = 'i'");
		const [{ child }] = await db.query<{ child: number }>("SELECT max(id) AS child FROM children");
		assert.equal(inserted.insertId, id);
		assert.notEqual(child, id);
		await db.query("DROP TRIGGER parents_log", [], { fetch: "none" });
	});

	it("an upsert reports the rowid when it inserted, undefined when it updated", async () => {
		const upsert = "INSERT INTO parents (k, v) VALUES (?, 1) ON CONFLICT (k) DO UPDATE SET v = v + 1";
		const inserted = await db.query(upsert, ["g"], { fetch: "result" });
		const [{ id }] = await db.query<{ id: number }>("SELECT id FROM parents WHERE k = 'g'");
		assert.equal(inserted.insertId, id);
		assert.deepEqual(await db.query(upsert, ["g"], { fetch: "result" }), { rows: [], affectedRows: 1, insertId: undefined });
	});

	it("a rowid past 2^53 is an exact bigint, never a rounded number", async () => {
		const huge = 2n ** 53n + 1n;
		assert.equal((await db.query("INSERT INTO parents (id, k, v) VALUES (?, 'huge', 1)", [huge], { fetch: "result" })).insertId, huge);
		assert.equal((await db.query("INSERT INTO parents (k, v) VALUES ('after-huge', 1)", [], { fetch: "result" })).insertId, huge + 1n);
		await db.query("DELETE FROM parents WHERE id >= ?", [2n ** 53n], { fetch: "none" });
	});

	it("with readBigInts every rowid is a bigint", async () => {
		const big = client({ readBigInts: true });
		await big.query("CREATE TABLE t (id INTEGER PRIMARY KEY)", [], { fetch: "none" });
		assert.equal((await big.query("INSERT INTO t DEFAULT VALUES", [], { fetch: "result" })).insertId, 1n);
	});
});

describe("createSqliteClient on a file database", () => {
	let db: SqlClient;

	before(async () => {
		db = client({ filename: dir.file("app.db"), pool: { name: "app-db" } });
		await db.query("CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)", [], { fetch: "none" });
		await db.query("INSERT INTO counters VALUES ('hits', 0)", [], { fetch: "none" });
	});

	it(`opens up to ${SQLITE_FILE_MAX_CONNECTIONS} connections by default and runs concurrent queries on them`, async () => {
		const results = await Promise.all(Array.from({ length: 4 }, () => db.query(countTo(1_000_000), [], { fetch: "one" })));
		assert.deepEqual(results, Array(4).fill({ n: 1_000_000 }));
		const stats = db.stats().primary;
		assert.equal(stats.name, "app-db");
		assert.equal(stats.max, SQLITE_FILE_MAX_CONNECTIONS);
		assert.ok(stats.peak.total > 1 && stats.peak.total <= SQLITE_FILE_MAX_CONNECTIONS, `peak ${stats.peak.total}`);
	});

	it("concurrent transactions incrementing one row lose no update", async () => {
		await Promise.all(
			Array.from({ length: 20 }, () =>
				db.transaction(async (tx) => {
					const row = await tx.query<{ value: number }>("SELECT value FROM counters WHERE name = 'hits'", [], { fetch: "one" });
					await tx.query("UPDATE counters SET value = ? WHERE name = 'hits'", [(row?.value ?? 0) + 1], { fetch: "none" });
				}),
			),
		);
		assert.deepEqual(await db.query("SELECT value FROM counters WHERE name = 'hits'", [], { fetch: "one" }), { value: 20 });
	});

	it("a statement timeout is QUERY_TIMEOUT; the connection is replaced and the next query works", async () => {
		const destroyedBefore = db.stats().primary.destroyed;
		const started = performance.now();
		const error = await db.query(countTo(1_000_000_000), [], { timeoutMs: 250 }).catch((e: unknown) => e);
		assert.ok(error instanceof QueryTimeoutError, String(error));
		assert.ok(performance.now() - started < 3_000);
		assert.deepEqual(await db.query("SELECT value FROM counters WHERE name = 'hits'", [], { fetch: "one" }), { value: 20 });
		assert.equal(db.stats().primary.destroyed, destroyedBefore + 1);
	});

	it("statementTimeoutMs applies to every statement that sets no timeout of its own", async () => {
		const strict = client({ filename: dir.file("app.db"), statementTimeoutMs: 200 });
		await assert.rejects(strict.query(countTo(1_000_000_000)), QueryTimeoutError);
		assert.deepEqual(await strict.query("SELECT 1 AS ok", [], { fetch: "one" }), { ok: 1 });
		await strict.close();
	});

	it("an idle connection whose host is killed is replaced, and no query sees the death", async () => {
		const crashing = client({ filename: dir.file("app.db"), pool: { min: 2 } });
		const others = new Set(hostPids());
		await crashing.start();
		const victim = hostPids().find((pid) => !others.has(pid)) as number;
		assert.ok(victim !== undefined);
		process.kill(victim, "SIGKILL");
		await waitFor(() => crashing.stats().primary.destroyedByReason.error === 1);
		const results = await Promise.all(Array.from({ length: 4 }, () => crashing.query("SELECT count(*) AS n FROM counters", [], { fetch: "one" })));
		assert.deepEqual(results, Array(4).fill({ n: 1 }));
		await crashing.close();
	});

	it("close() stops every host it started", async () => {
		const closing = client({ filename: dir.file("app.db") });
		const before = new Set(hostPids());
		await Promise.all(Array.from({ length: 3 }, () => closing.query(countTo(500_000), [], { fetch: "one" })));
		const mine = hostPids().filter((pid) => !before.has(pid));
		assert.ok(mine.length >= 1);
		await closing.close();
		await waitFor(() => hostPids().every((pid) => !mine.includes(pid)));
	});
});

describe("createSqliteClient on the in-memory database: what a lost connection costs", () => {
	it("a timeout replaces the one connection, and with it the in-memory database", async () => {
		const db = client();
		await db.query("CREATE TABLE kept (v INTEGER)", [], { fetch: "none" });
		await assert.rejects(db.query(countTo(1_000_000_000), [], { timeoutMs: 200 }), QueryTimeoutError);
		await assert.rejects(db.query("SELECT * FROM kept"), /no such table: kept/);
		await db.close();
	});
});

describe("createSqliteClient on a thread host", () => {
	it("runs statements and transactions like the process host", async () => {
		const db = client({ host: "thread", filename: dir.file("threads.db") });
		await db.transaction(async (tx) => {
			await tx.query("CREATE TABLE t (v INTEGER)", [], { fetch: "none" });
			await tx.batch("INSERT INTO t VALUES (?)", [[1], [2], [3]]);
		});
		assert.deepEqual(await db.query("SELECT sum(v) AS s FROM t", [], { fetch: "one" }), { s: 6 });
		await db.close();
	});
});

describe("createSqliteClient options", () => {
	it("refuses more than one connection to a private database, listing every problem at once", () => {
		const error = (() => {
			try {
				createSqliteClient({ filename: ":memory:", pool: { max: 4, maxLifetimeMs: 60_000 }, busyTimeoutMs: -1, journalMod: "wal" } as never);
			} catch (e) {
				return e;
			}
		})();
		assert.ok(error instanceof ConfigError, String(error));
		assert.deepEqual(error.problems.map((p) => p.path).sort(), ["busyTimeoutMs", "journalMod", "pool.max", "pool.maxLifetimeMs"]);
	});

	it("refuses a pragma that is not a name and a plain value", () => {
		assert.throws(() => createSqliteClient({ pragmas: { "synchronous; DROP TABLE x": "OFF" } }), ConfigError);
		assert.throws(() => createSqliteClient({ pragmas: { synchronous: "OFF; DROP TABLE x" } }), ConfigError);
	});

	it("passes every SQL client option it takes on to the client", async () => {
		const setups: string[] = [];
		// `Required<…>`: an option added to the SQL client fails to compile here until it is tested too.
		const clientOptions = {
			pool: { name: "lite" },
			statementTimeoutMs: 5_000,
			leaseTimeoutMs: 100,
			afterCreate: async (session) => {
				setups.push("ran");
				await session.query("CREATE TEMP TABLE set_up (x)", [], { fetch: "none" });
			},
		} satisfies Required<Omit<SqliteClientOptions, keyof SqliteConfig>>;
		const db = client({ ...clientOptions, filename: "" });
		assert.deepEqual(await db.query("SELECT count(*) AS n FROM set_up", [], { fetch: "one" }), { n: 0 });
		assert.deepEqual(setups, ["ran"]);
		assert.equal(db.stats().primary.name, "lite");
		await db.acquireId();
		await waitFor(() => db.stats().leases.reclaimed === 1);
		assert.deepEqual(
			new Set(Object.keys(clientOptions)),
			new Set(SQL_CLIENT_OPTION_KEYS.filter((key) => !["primary", "replicas", "replicaSelection", "readYourWritesMs"].includes(key))),
		);
	});

	it("refuses the SQL client's server options: the database is its own options, and there are no replicas", () => {
		const error = (() => {
			try {
				createSqliteClient({ primary: { filename: "x.db" }, replicas: [], readYourWritesMs: 10 } as never);
			} catch (e) {
				return e;
			}
		})();
		assert.ok(error instanceof ConfigError, String(error));
		assert.deepEqual(error.problems.map((p) => p.path).sort(), ["primary", "readYourWritesMs", "replicas"]);
	});

	it("accepts a private database's required pool values when spelled out", async () => {
		const db = client({ filename: "", pool: { max: 1, min: 1 } });
		assert.deepEqual(await db.query("SELECT 1 AS one", [], { fetch: "one" }), { one: 1 });
		await db.close();
	});
});
