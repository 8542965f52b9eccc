/**
 * SQLite hosts under the conditions a new user met: values SQLite cannot store, close() while a
 * statement runs, and hosts killed from outside.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { after, describe, it } from "node:test";
import { createSqliteClient, type SqlClient, type SqliteHostKind } from "../../src/adapters/sqlite/index.ts";
import { ErrorCode } from "../../src/core/errors.ts";
import { countTo, tempDirectory } from "./helpers.ts";

const dir = tempDirectory("hardening");
const clients: SqlClient[] = [];

function client(options: Parameters<typeof createSqliteClient>[0] = {}): SqlClient {
	const db = createSqliteClient(options);
	clients.push(db);
	return db;
}

function childPids(): number[] {
	try {
		return execFileSync("pgrep", ["-P", String(process.pid)], { encoding: "utf8" })
			.trim()
			.split("\n")
			.filter(Boolean)
			.map(Number);
	} catch {
		return [];
	}
}

after(async () => {
	await Promise.all(clients.map((db) => db.close({ timeoutMs: 500 })));
	dir.remove();
});

describe("sqlite: parameters SQLite cannot store", () => {
	const unsupported: [string, unknown][] = [
		["a Date", new Date(0)],
		["a Map", new Map([["a", 1]])],
		["a plain object", { a: 1 }],
		["a Set", new Set([1])],
	];

	for (const host of ["process", "thread"] as const) {
		it(`${host} host: a Date, a Map, a plain object are QUERY_FAILED before anything runs, the host and its data kept`, async () => {
			const db = client({ host });
			await db.query("CREATE TABLE t (v)", [], { fetch: "none" });
			const created = db.stats().primary.created;
			for (const [what, value] of unsupported) {
				await assert.rejects(db.query("INSERT INTO t (v) VALUES (?)", [value]), (error: Error & { code?: string }) => {
					assert.equal(error.code, ErrorCode.QUERY_FAILED, what);
					assert.match(error.message, /parameter 1 is a/);
					assert.match(error.message, /nothing was sent/);
					return true;
				});
			}
			await assert.rejects(db.batch("INSERT INTO t (v) VALUES (?)", [[1], [new Date()]]), /parameter 1 of set 2 is a Date/);
			// Nothing was stored as NULL, nothing of the batch ran, and the in-memory database (which lives in its host) is still there.
			assert.deepEqual(await db.query("SELECT count(*) AS n FROM t", [], { fetch: "one" }), { n: 0 });
			assert.equal(db.stats().primary.created, created);
			// What SQLite does store still works.
			await db.query("INSERT INTO t (v) VALUES (?), (?), (?), (?)", [null, true, 2n, Buffer.from("x")], { fetch: "none" });
			assert.deepEqual(await db.query("SELECT count(*) AS n FROM t", [], { fetch: "one" }), { n: 4 });
		});
	}
});

describe("sqlite: parameters that do not fit the statement's placeholders", () => {
	for (const host of ["process", "thread"] as const) {
		it(`${host} host: too many or too few values are QUERY_FAILED naming both counts (a missing one used to be bound as NULL), nothing runs`, async () => {
			const db = client({ host });
			await db.query("CREATE TABLE t (a, b)", [], { fetch: "none" });
			const created = db.stats().primary.created;
			const refused = (run: () => Promise<unknown>, message: RegExp) =>
				assert.rejects(run(), (error: Error & { code?: string }) => {
					assert.equal(error.code, ErrorCode.QUERY_FAILED, error.message);
					assert.match(error.message, message);
					return true;
				});
			await refused(
				() => db.query("INSERT INTO t (a, b) VALUES (?, ?)", [1], { fetch: "none" }),
				/has 2 placeholders and 1 parameter was given; nothing was run/,
			);
			await refused(() => db.query("INSERT INTO t (a, b) VALUES (?, ?)", [1, 2, 3]), /has 2 placeholders and 3 parameters were given/);
			await refused(() => db.query("SELECT ? AS a", [], { fetch: "one" }), /has 1 placeholder and 0 parameters were given/);
			await refused(() => db.query("SELECT ?3 AS c", [1, 2], { fetch: "many", limit: 1 }), /has 3 placeholders and 2 parameters were given/);
			await refused(() => db.batch("INSERT INTO t (a, b) VALUES (?, ?)", [[1, 2], [3]]), /has 2 placeholders and 1 parameter was given in parameter set 2/);
			assert.deepEqual(await db.query("SELECT count(*) AS n FROM t", [], { fetch: "one" }), { n: 0 });
			assert.equal(db.stats().primary.created, created, "the host and its connection were kept");
			// Statements that fit still run, a '?' in a string is no placeholder, and the count of a cached statement stays right.
			await db.batch("INSERT INTO t (a, b) VALUES (?, ?)", [
				[1, 2],
				[3, 4],
			]);
			assert.deepEqual(await db.query("SELECT '?' AS q, ?2 AS second, ? AS third", [1, 2, 3], { fetch: "one" }), { q: "?", second: 2, third: 3 });
			assert.deepEqual(await db.query("SELECT count(*) AS n FROM t WHERE a = ?", [1], { fetch: "one" }), { n: 1 });
			await refused(() => db.query("SELECT count(*) AS n FROM t WHERE a = ?", [1, 2], { fetch: "one" }), /has 1 placeholder and 2 parameters/);
		});
	}
});

describe("sqlite: close() keeps its deadline while a statement runs", () => {
	for (const host of ["process", "thread"] as SqliteHostKind[]) {
		it(`${host} host: close({ timeoutMs: 500 }) returns in about 500 ms, not after the host's own close timeout`, async () => {
			const db = createSqliteClient({ filename: dir.file(`close-${host}.db`), host });
			await db.start();
			// A terminated thread runs its statement to the end (and holds the test process until then): a few seconds' worth there, endless in a process.
			const running = db.query(countTo(host === "thread" ? 20_000_000 : 1_000_000_000)).catch((error: unknown) => error);
			// The statement is in its host (the connection is leased), and runs there.
			while (db.stats().primary.active === 0) await new Promise((resolve) => setTimeout(resolve, 10));
			await new Promise((resolve) => setTimeout(resolve, 100));
			const started = performance.now();
			await db.close({ timeoutMs: 500 });
			const took = performance.now() - started;
			// The bug waited the host's own close timeout (5 s) on top: 4 s tells them apart with room for a loaded machine.
			assert.ok(took < 4_000, `close took ${Math.round(took)} ms`);
			assert.equal(((await running) as { code?: string }).code, ErrorCode.CONNECTION_LOST);
		});
	}
});

describe("sqlite: a host killed from outside", () => {
	it("the next query right after the kill gets a fresh connection, never a QUERY_FAILED 'write EPIPE'", async () => {
		const db = client({ filename: dir.file("killed.db"), pool: { min: 2, max: 2 } });
		const before = new Set(childPids());
		await db.start();
		await db.query("CREATE TABLE IF NOT EXISTS k (v)", [], { fetch: "none" });
		const mine = childPids().filter((pid) => !before.has(pid));
		assert.equal(mine.length, 2);
		for (const pid of mine) process.kill(pid, "SIGKILL");
		// No wait: the kill is not yet seen when these run.
		const results = await Promise.all(Array.from({ length: 4 }, () => db.query("SELECT count(*) AS n FROM k", [], { fetch: "one" })));
		assert.deepEqual(results, Array(4).fill({ n: 0 }));
	});
});

describe("sqlite: a database that cannot be opened fails at once, saying what to fix", () => {
	const failsAtOnce = async (db: SqlClient, message: RegExp) => {
		const started = performance.now();
		const error = (await db.query("SELECT 1").catch((e: unknown) => e)) as Error & { code?: string; cause?: Error & { code?: string } };
		assert.ok(performance.now() - started < 3_000, `failed after ${Math.round(performance.now() - started)} ms`);
		assert.equal(error.code, ErrorCode.CREATE_FAILED, error.message);
		assert.equal(error.cause?.code, ErrorCode.CONFIG_INVALID);
		assert.match(String(error.cause?.message), message);
	};

	it("a file in a directory that does not exist", async () => {
		await failsAtOnce(client({ filename: dir.file("no/such/dir/app.db"), pool: { acquireTimeoutMs: 20_000 } }), /cannot be opened.*create the directory/);
	});

	it("a missing file opened read-only", async () => {
		await failsAtOnce(client({ filename: dir.file("missing.db"), readOnly: true, pool: { acquireTimeoutMs: 20_000 } }), /cannot be opened/);
	});

	it("a file that is not a SQLite database", async () => {
		const file = dir.file("not-a-db.txt");
		writeFileSync(file, "this is not a database, it is a text file long enough to have a header");
		await failsAtOnce(client({ filename: file, pool: { acquireTimeoutMs: 20_000 } }), /not a SQLite database/);
	});
});

describe("sqlite: a pinned connection has no raw driver connection", () => {
	it("reading raw is LEASE_INVALID saying so (the database lives in another process)", async () => {
		const db = client();
		const conn = await db.acquire();
		try {
			assert.throws(
				() => conn.raw,
				(error: Error & { code?: string }) => error.code === ErrorCode.LEASE_INVALID && /exposes no raw driver connection/.test(error.message),
			);
		} finally {
			conn.release();
		}
	});
});
