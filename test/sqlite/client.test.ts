import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import {
	ConnectionIdUnknownError,
	createSqliteClient,
	QueryFailedError,
	QueryTimeoutError,
	SQLITE_FILE_MAX_CONNECTIONS,
	type SqlClient,
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
		await db.initialize();
		await db.query("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL UNIQUE)", [], { fetch: "none" });
	});

	it("keeps the database in its one connection, warm from initialize()", () => {
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

	it("a transaction commits when its function returns", async () => {
		const id = await db.transaction(async (tx) => {
			await tx.query("INSERT INTO notes (body) VALUES (?)", ["committed"], { fetch: "none" });
			return (await tx.query<{ id: number }>("SELECT id FROM notes WHERE body = ?", ["committed"], { fetch: "one" }))?.id;
		});
		assert.deepEqual(await db.query("SELECT body FROM notes WHERE id = ?", [id], { fetch: "one" }), { body: "committed" });
	});

	it("a transaction rolls back when its function throws, and rethrows", async () => {
		const boom = new Error("changed my mind");
		await assert.rejects(
			db.transaction(async (tx) => {
				await tx.query("INSERT INTO notes (body) VALUES (?)", ["rolled back"], { fetch: "none" });
				throw boom;
			}),
			(error) => error === boom,
		);
		assert.equal(await db.query("SELECT 1 FROM notes WHERE body = ?", ["rolled back"], { fetch: "one" }), undefined);
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

	it("a pinned connection left inside a transaction goes back rolled back", async () => {
		const conn = await db.acquire();
		await conn.query("BEGIN", [], { fetch: "none" });
		await conn.query("INSERT INTO notes (body) VALUES ('left open')", [], { fetch: "none" });
		conn.release();
		assert.equal(await db.query("SELECT 1 FROM notes WHERE body = 'left open'", [], { fetch: "one" }), undefined);
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
		await crashing.initialize();
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

	it("accepts a private database's required pool values when spelled out", async () => {
		const db = client({ filename: "", pool: { max: 1, min: 1 } });
		assert.deepEqual(await db.query("SELECT 1 AS one", [], { fetch: "one" }), { one: 1 });
		await db.close();
	});
});
