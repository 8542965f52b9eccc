import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { QueryTimeoutError } from "../../src/adapters/sql/errors.ts";
import type { Row } from "../../src/adapters/sql/types.ts";
import type { SqliteConfig } from "../../src/adapters/sqlite/config.ts";
import type { SqliteConnection } from "../../src/adapters/sqlite/connection.ts";
import { sqliteDriver as driver } from "../../src/adapters/sqlite/driver.ts";
import { countTo, tempDirectory } from "./helpers.ts";

const dir = tempDirectory("wal");
const filename = dir.file("shop.db");
const open = new Set<SqliteConnection>();

async function connect(config: SqliteConfig = {}): Promise<SqliteConnection> {
	const conn = await driver.connect({ filename, ...config }, AbortSignal.timeout(10_000));
	open.add(conn);
	return conn;
}

async function close(conn: SqliteConnection): Promise<void> {
	open.delete(conn);
	await driver.close(conn);
}

async function rows(conn: SqliteConnection, sql: string, params: readonly unknown[] = []): Promise<Row[]> {
	return (await driver.run(conn, sql, params, "all", 0, undefined)).rows;
}

async function count(conn: SqliteConnection): Promise<number> {
	return (await rows(conn, "SELECT count(*) AS n FROM orders"))[0].n as number;
}

before(async () => {
	const setup = await connect();
	await rows(setup, "CREATE TABLE orders (id INTEGER PRIMARY KEY, item TEXT NOT NULL)");
	await driver.runBatch(setup, "INSERT INTO orders (item) VALUES (?)", [["tea"], ["cake"], ["jam"]], undefined);
	await close(setup);
});

after(async () => {
	await Promise.all([...open].map((conn) => driver.close(conn)));
	dir.remove();
});

describe("sqlite file database: one writer, concurrent readers (WAL)", () => {
	it("opens a file database in WAL mode with the configured busy timeout and pragmas", async () => {
		const conn = await connect({ busyTimeoutMs: 1_234, pragmas: { synchronous: "NORMAL" } });
		assert.deepEqual(await rows(conn, "PRAGMA journal_mode"), [{ journal_mode: "wal" }]);
		assert.deepEqual(await rows(conn, "PRAGMA busy_timeout"), [{ timeout: 1_234 }]);
		assert.deepEqual(await rows(conn, "PRAGMA synchronous"), [{ synchronous: 1 }]);
		assert.deepEqual(await rows(conn, "PRAGMA foreign_keys"), [{ foreign_keys: 1 }]);
		await close(conn);
	});

	it("readers read their snapshot while a writer's transaction is open, without waiting for it", async () => {
		const writer = await connect();
		const reader = await connect({ busyTimeoutMs: 0 });
		for (const sql of driver.beginSql({})) await rows(writer, sql);
		await rows(writer, "INSERT INTO orders (item) VALUES ('scone')");
		assert.equal(await count(reader), 3, "the uncommitted row is invisible, and the read did not wait (busy timeout 0)");
		await rows(writer, "COMMIT");
		assert.equal(await count(reader), 4);
		await Promise.all([close(writer), close(reader)]);
	});

	it("a long read on one connection holds up neither another reader nor the writer", async () => {
		const [slowReader, reader, writer] = await Promise.all([connect(), connect(), connect()]);
		const finished: string[] = [];
		const slow = rows(slowReader, `SELECT (${countTo(6_000_000)}) + (SELECT count(*) FROM orders) AS n`).then(() => finished.push("slow read"));
		await new Promise((resolve) => setTimeout(resolve, 50));
		const quick = count(reader).then(() => finished.push("quick read"));
		const write = rows(writer, "INSERT INTO orders (item) VALUES ('bun')").then(() => finished.push("write"));
		await Promise.all([slow, quick, write]);
		assert.deepEqual(finished.slice(0, 2).sort(), ["quick read", "write"]);
		assert.equal(finished[2], "slow read");
		await Promise.all([close(slowReader), close(reader), close(writer)]);
	});

	it("each connection has its own host, and every reader sees the same committed data", async () => {
		const readers = await Promise.all([connect(), connect(), connect()]);
		assert.equal(new Set(readers.map((r) => r.pid)).size, 3);
		const results = await Promise.all(readers.map((r) => rows(r, "SELECT count(*) AS n FROM orders")));
		assert.equal(new Set(results.map(([row]) => row.n)).size, 1, "every reader sees the same committed data");
		await Promise.all(readers.map(close));
	});

	it("a second writer waits up to busyTimeoutMs for the first, then proceeds", async () => {
		const first = await connect();
		const second = await connect({ busyTimeoutMs: 5_000 });
		for (const sql of driver.beginSql({})) await rows(first, sql);
		await rows(first, "INSERT INTO orders (item) VALUES ('pie')");
		const waiting = driver.run(second, "INSERT INTO orders (item) VALUES ('tart')", [], "none", 0, undefined);
		await new Promise((resolve) => setTimeout(resolve, 150));
		await rows(first, "COMMIT");
		assert.equal((await waiting).affectedRows, 1);
		await Promise.all([close(first), close(second)]);
	});

	it("with no busy timeout the second writer fails with SQLITE_BUSY, the caller's error", async () => {
		const first = await connect();
		const impatient = await connect({ busyTimeoutMs: 0 });
		for (const sql of driver.beginSql({})) await rows(first, sql);
		const error = await rows(impatient, "INSERT INTO orders (item) VALUES ('flan')").catch((e: unknown) => e);
		assert.equal(((error as { errcode?: number }).errcode ?? 0) & 0xff, 5, String(error));
		assert.equal(driver.isConnectionFault(error), false);
		await rows(first, "ROLLBACK");
		await Promise.all([close(first), close(impatient)]);
	});

	it("a writer stopped by its timeout releases the write lock at once, and commits nothing", async () => {
		const runaway = await connect();
		const next = await connect({ busyTimeoutMs: 0 });
		const before = await count(next);
		const sql = `INSERT INTO orders (item) SELECT 'x' || x FROM (${countTo(1_000_000_000).replace("SELECT count(*) AS n FROM c", "SELECT x FROM c")})`;
		await assert.rejects(driver.run(runaway, sql, [], "none", 0, 300), QueryTimeoutError);
		await close(runaway);
		assert.equal((await driver.run(next, "INSERT INTO orders (item) VALUES ('after')", [], "none", 0, undefined)).affectedRows, 1);
		assert.equal(await count(next), before + 1);
		assert.deepEqual(await rows(next, "PRAGMA integrity_check"), [{ integrity_check: "ok" }]);
		await close(next);
	});

	it("a read-only connection reads, and its writes fail with SQLITE_READONLY", async () => {
		const conn = await connect({ readOnly: true });
		assert.ok((await count(conn)) > 0);
		const error = await rows(conn, "DELETE FROM orders").catch((e: unknown) => e);
		assert.equal(((error as { errcode?: number }).errcode ?? 0) & 0xff, 8, String(error));
		await close(conn);
	});

	it("a read-only open of a missing file fails as permanent (CONFIG_INVALID), with SQLITE_CANTOPEN as cause", async () => {
		const error = await driver.connect({ filename: dir.file("missing.db"), readOnly: true }, AbortSignal.timeout(10_000)).catch((e: unknown) => e);
		assert.equal((error as { code?: string }).code, "CONFIG_INVALID", String(error));
		assert.equal((((error as Error).cause as { errcode?: number }).errcode ?? 0) & 0xff, 14, String(error));
	});

	it("leaves no -wal or -shm file behind once the last connection is closed alone", async () => {
		const conns = await Promise.all([connect(), connect()]);
		await rows(conns[0], "INSERT INTO orders (item) VALUES ('last')");
		assert.ok(existsSync(`${filename}-wal`));
		// Only a connection that closes while no other is open checkpoints and deletes the WAL: close one after the other.
		for (const conn of conns) await close(conn);
		assert.deepEqual(readdirSync(dir.path), ["shop.db"]);
	});
});
