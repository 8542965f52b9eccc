import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { after, describe, it } from "node:test";
import { ConnectionLostError, QueryTimeoutError } from "../../src/adapters/sql/errors.ts";
import type { Row } from "../../src/adapters/sql/types.ts";
import type { SqliteConfig } from "../../src/adapters/sqlite/config.ts";
import type { SqliteConnection } from "../../src/adapters/sqlite/connection.ts";
import { sqliteDriver } from "../../src/adapters/sqlite/driver.ts";
import type { HostKind } from "../../src/adapters/sqlite/host.ts";
import { countTo, ENDLESS, processExists, tempDirectory } from "./helpers.ts";

const driver = sqliteDriver;
const open: SqliteConnection[] = [];

async function connect(config: SqliteConfig = {}): Promise<SqliteConnection> {
	const conn = await driver.connect(config, AbortSignal.timeout(10_000));
	open.push(conn);
	return conn;
}

async function rows(conn: SqliteConnection, sql: string, params: readonly unknown[] = []): Promise<Row[]> {
	return (await driver.run(conn, sql, params, "all", 0, undefined)).rows;
}

async function exec(conn: SqliteConnection, sql: string, params: readonly unknown[] = []): Promise<number> {
	return (await driver.run(conn, sql, params, "none", 0, undefined)).affectedRows;
}

after(async () => {
	await Promise.all(open.map((conn) => driver.close(conn)));
});

/** Runs `body` as an ES module in a fresh Node.js process, with `sqliteDriver` imported; resolves with what it printed. */
function runScript(body: string): Promise<string> {
	const url = new URL("../../src/adapters/sqlite/driver.ts", import.meta.url).href;
	const script = `import { sqliteDriver } from ${JSON.stringify(url)};\n${body}`;
	return new Promise((resolve, reject) => {
		execFile(process.execPath, ["--input-type=module", "-e", script], { timeout: 10_000 }, (error, stdout) => (error ? reject(error) : resolve(stdout.trim())));
	});
}

for (const host of ["process", "thread"] as const satisfies readonly HostKind[]) {
	describe(`sqlite driver on a ${host} host`, () => {
		let conn: SqliteConnection;

		it("opens an in-memory database in its host", async () => {
			conn = await connect({ host });
			assert.equal(conn.hostKind, host);
			assert.equal(conn.pid === undefined, host === "thread");
			await exec(conn, "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER)");
		});

		it("fetch 'none' returns the rows a statement changed", async () => {
			assert.equal(await exec(conn, "INSERT INTO items (name, qty) VALUES (?, ?), (?, ?), (?, ?)", ["a", 1, "b", 2, "c", 3]), 3);
			assert.equal(await exec(conn, "UPDATE items SET qty = qty + 1 WHERE qty >= ?", [2]), 2);
		});

		it("fetch 'all' returns every row as a plain object", async () => {
			const result = await driver.run(conn, "SELECT name, qty FROM items ORDER BY id", [], "all", 0, undefined);
			assert.deepEqual(result.rows, [
				{ name: "a", qty: 1 },
				{ name: "b", qty: 3 },
				{ name: "c", qty: 4 },
			]);
			assert.equal(Object.getPrototypeOf(result.rows[0]), Object.prototype);
			assert.equal(result.affectedRows, 0, "a read changes nothing");
		});

		it("fetch 'all' of a write with RETURNING gives the rows and the count of changed rows", async () => {
			const result = await driver.run(conn, "UPDATE items SET qty = qty * 10 WHERE name <> ? RETURNING name", ["a"], "all", 0, undefined);
			assert.deepEqual(result.rows.map((r) => r.name).sort(), ["b", "c"]);
			assert.equal(result.affectedRows, 2);
		});

		it("fetch 'one' returns the first row, or none, reading only one row", async () => {
			assert.deepEqual((await driver.run(conn, "SELECT name FROM items ORDER BY id", [], "one", 1, undefined)).rows, [{ name: "a" }]);
			assert.deepEqual((await driver.run(conn, "SELECT name FROM items WHERE id < 0", [], "one", 1, undefined)).rows, []);
			// An endless result: only a driver that stops after one row returns at all.
			assert.deepEqual((await driver.run(conn, ENDLESS, [], "one", 1, 5_000)).rows, [{ x: 1 }]);
		});

		it("fetch 'many' stops reading at the limit (an endless result returns)", async () => {
			const result = await driver.run(conn, ENDLESS, [], "many", 5, 5_000);
			assert.deepEqual(
				result.rows.map((r) => r.x),
				[1, 2, 3, 4, 5],
			);
			const short = await driver.run(conn, "SELECT name FROM items ORDER BY id", [], "many", 10, undefined);
			assert.equal(short.rows.length, 3);
		});

		it("binds null, undefined, booleans, bigints and bytes, and reads them back", async () => {
			const bytes = new Uint8Array([0, 1, 254, 255]);
			const [row] = await rows(conn, "SELECT ? AS n, ? AS u, ? AS t, ? AS f, ? AS big, ? AS blob", [null, undefined, true, false, 2n ** 40n, bytes]);
			assert.deepEqual(row, { n: null, u: null, t: 1, f: 0, big: 2 ** 40, blob: bytes });
		});

		it("reads integers past 2^53 as bigint with readBigInts, and refuses to round them without it", async () => {
			const big = 2n ** 62n + 1n;
			const exact = await connect({ host, readBigInts: true });
			assert.deepEqual(await rows(exact, "SELECT ? AS v", [big]), [{ v: big }]);
			await assert.rejects(rows(conn, "SELECT ? AS v", [big]), /too large|out of range/i);
		});

		it("a statement error is the caller's: SQLite's code is kept and the connection stays usable", async () => {
			const syntax = await rows(conn, "SELEC 1").catch((e: unknown) => e);
			assert.equal((syntax as { errcode?: number }).errcode, 1);
			assert.match((syntax as Error).message, /syntax error/);
			assert.equal(driver.isConnectionFault(syntax), false);
			await exec(conn, "CREATE UNIQUE INDEX items_name ON items (name)");
			const unique = await exec(conn, "INSERT INTO items (name) VALUES ('a')").catch((e: unknown) => e);
			assert.equal((unique as { errcode?: number }).errcode, 2067, "SQLITE_CONSTRAINT_UNIQUE");
			assert.equal(driver.isConnectionFault(unique), false);
			assert.deepEqual(await rows(conn, "SELECT 1 AS one"), [{ one: 1 }]);
		});

		it("refuses SQL with a second statement instead of silently running only the first", async () => {
			const error = await exec(conn, "DELETE FROM items; DROP TABLE items").catch((e: unknown) => e);
			assert.match((error as Error).message, /one statement per query/);
			assert.equal((await rows(conn, "SELECT count(*) AS n FROM items"))[0].n, 3, "nothing ran");
			assert.deepEqual(await rows(conn, "SELECT 1 AS one; -- a trailing comment\n"), [{ one: 1 }]);
		});

		it("a parameter that cannot be sent is the caller's error, and the connection stays usable", async () => {
			await assert.rejects(rows(conn, "SELECT ? AS v", [() => 1]), (error: Error) => !driver.isConnectionFault(error));
			assert.equal(conn.alive, true);
			assert.deepEqual(await rows(conn, "SELECT 2 AS two"), [{ two: 2 }]);
		});

		it("batch runs every parameter set in one transaction and returns the rows changed", async () => {
			const sets = Array.from({ length: 50 }, (_, i) => [`batch-${i}`, i]);
			assert.equal(await driver.runBatch(conn, "INSERT INTO items (name, qty) VALUES (?, ?)", sets, undefined), 50);
			assert.equal((await rows(conn, "SELECT count(*) AS n FROM items WHERE name LIKE 'batch-%'"))[0].n, 50);
			assert.equal(conn.dirty, false, "the batch's transaction is over");
		});

		it("a failing batch applies none of its parameter sets", async () => {
			const sets = [["fresh-1"], ["fresh-2"], ["a"], ["fresh-3"]];
			await assert.rejects(driver.runBatch(conn, "INSERT INTO items (name) VALUES (?)", sets, undefined), /UNIQUE/);
			assert.equal((await rows(conn, "SELECT count(*) AS n FROM items WHERE name LIKE 'fresh-%'"))[0].n, 0);
		});

		it("a batch inside an open transaction joins it (a savepoint), so the caller's rollback undoes it", async () => {
			await exec(conn, "BEGIN");
			assert.equal(await driver.runBatch(conn, "INSERT INTO items (name) VALUES (?)", [["in-tx-1"], ["in-tx-2"]], undefined), 2);
			await assert.rejects(driver.runBatch(conn, "INSERT INTO items (name) VALUES (?)", [["in-tx-3"], ["a"]], undefined), /UNIQUE/);
			assert.equal((await rows(conn, "SELECT count(*) AS n FROM items WHERE name LIKE 'in-tx-%'"))[0].n, 2, "the failed batch undid only itself");
			await exec(conn, "ROLLBACK");
			assert.equal((await rows(conn, "SELECT count(*) AS n FROM items WHERE name LIKE 'in-tx-%'"))[0].n, 0);
		});

		it("reset rolls back an open transaction, and is needed only then", async () => {
			assert.equal(driver.needsReset?.(conn), false);
			for (const sql of driver.beginSql({})) await exec(conn, sql);
			await exec(conn, "INSERT INTO items (name) VALUES ('uncommitted')");
			assert.equal(driver.needsReset?.(conn), true);
			await driver.reset(conn);
			assert.equal(driver.needsReset?.(conn), false);
			assert.equal((await rows(conn, "SELECT count(*) AS n FROM items WHERE name = 'uncommitted'"))[0].n, 0);
		});

		it("a read-only transaction refuses writes, and reset makes the connection writable again", async () => {
			for (const sql of driver.beginSql({ readOnly: true, isolation: "repeatable read" })) await exec(conn, sql);
			assert.ok(((await rows(conn, "SELECT count(*) AS n FROM items"))[0].n as number) > 0);
			await assert.rejects(exec(conn, "INSERT INTO items (name) VALUES ('nope')"), /readonly/);
			await exec(conn, "COMMIT");
			assert.equal(driver.needsReset?.(conn), true, "query_only is still on after COMMIT");
			await driver.reset(conn);
			assert.equal(await exec(conn, "INSERT INTO items (name) VALUES ('writable')"), 1);
		});

		it("every isolation level begins a serializable write transaction (none is refused)", () => {
			for (const isolation of ["read uncommitted", "read committed", "repeatable read", "serializable"] as const) {
				assert.deepEqual(driver.beginSql({ isolation }), ["BEGIN IMMEDIATE"]);
			}
		});

		it("the event loop keeps running while a long statement runs", async () => {
			let ticks = 0;
			const interval = setInterval(() => ticks++, 10);
			const started = performance.now();
			try {
				const [row] = await rows(conn, countTo(3_000_000));
				assert.equal(row.n, 3_000_000);
			} finally {
				clearInterval(interval);
			}
			const elapsed = performance.now() - started;
			assert.ok(elapsed > 200, `the statement should take a while (took ${Math.round(elapsed)} ms)`);
			// A blocked loop would tick once at most, after the statement; a free one ticks every 10 ms (fewer on a loaded machine).
			assert.ok(ticks >= Math.max(5, (elapsed / 10) * 0.2), `${ticks} ticks in ${Math.round(elapsed)} ms: the event loop was blocked`);
		});

		it("ping answers with a round trip to the host", async () => {
			await driver.ping(conn, AbortSignal.timeout(5_000));
		});

		it("a statement timeout rejects with QUERY_TIMEOUT at its deadline and kills the connection", async () => {
			const victim = await connect({ host });
			const deaths: unknown[] = [];
			driver.onDead(victim, (error) => deaths.push(error));
			// For a thread host, a statement that ends by itself in about a second: a terminated thread runs it to its end.
			const sql = host === "process" ? countTo(1_000_000_000) : countTo(8_000_000);
			const started = performance.now();
			const error = await driver.run(victim, sql, [], "all", 0, 300).catch((e: unknown) => e);
			const elapsed = performance.now() - started;
			assert.ok(error instanceof QueryTimeoutError, String(error));
			assert.equal(error.code, "QUERY_TIMEOUT");
			assert.equal(error.connectionClosed, true);
			// The message says what happened to this host kind; no server was asked to cancel anything.
			const how = host === "process" ? /its host process was killed, which stopped it/ : /its worker thread was terminated, but the statement runs on/;
			assert.match(error.message, how);
			assert.doesNotMatch(error.message, /server/);
			assert.ok(elapsed >= 290 && elapsed < 10_000, `rejected after ${Math.round(elapsed)} ms`);
			assert.equal(driver.isConnectionFault(error), true);
			assert.equal(victim.alive, false);
			assert.deepEqual(deaths, [error], "the pool hears of the death (pool.invalidate)");
			await assert.rejects(rows(victim, "SELECT 1"), ConnectionLostError);
			assert.equal(driver.needsReset?.(victim), true, "a dead connection is never lent again");
			await assert.rejects(driver.reset(victim), ConnectionLostError);
		});

		it("an idle connection's host does not keep the application alive", async () => {
			// runScript's 10 s timeout fails the test if the script never exits.
			const output = await runScript(`const conn = await sqliteDriver.connect({ host: ${JSON.stringify(host)} }, AbortSignal.timeout(10000));
				await sqliteDriver.run(conn, "SELECT 1", [], "all", 0, undefined);
				console.log("idle");`);
			assert.equal(output, "idle");
		});

		it("close() completes even when nothing else keeps the application alive", async () => {
			const output = await runScript(`const conn = await sqliteDriver.connect({ host: ${JSON.stringify(host)} }, AbortSignal.timeout(10000));
				await sqliteDriver.close(conn);
				console.log("closed");`);
			assert.equal(output, "closed");
		});
	});
}

describe("sqlite driver: what only a process host can do", () => {
	it("a statement timeout really stops the statement: its process is gone at once", async () => {
		const conn = await connect();
		const pid = conn.pid;
		assert.ok(pid !== undefined && processExists(pid));
		await assert.rejects(driver.run(conn, countTo(1_000_000_000), [], "all", 0, 200), QueryTimeoutError);
		const started = performance.now();
		await driver.close(conn);
		assert.ok(performance.now() - started < 2_000, "the host exits at once, not when the statement would have ended (minutes later)");
		assert.equal(processExists(pid), false);
	});

	it("a crashed host fails its pending statement with CONNECTION_LOST and reports the death", async () => {
		const conn = await connect();
		const deaths: unknown[] = [];
		driver.onDead(conn, (error) => deaths.push(error));
		const pending = driver.run(conn, countTo(1_000_000_000), [], "all", 0, undefined);
		setTimeout(() => process.kill(conn.pid as number, "SIGKILL"), 100);
		const error = await pending.catch((e: unknown) => e);
		assert.ok(error instanceof ConnectionLostError, String(error));
		assert.match(error.message, /SIGKILL/);
		assert.equal(driver.isConnectionFault(error), true);
		assert.equal(deaths.length, 1);
		assert.equal(conn.alive, false);
	});

	it("an idle host that dies is reported at once (the pool closes it before lending it)", async () => {
		const conn = await connect();
		const death = new Promise((resolve) => driver.onDead(conn, resolve));
		process.kill(conn.pid as number, "SIGKILL");
		assert.ok((await death) instanceof ConnectionLostError);
		await assert.rejects(driver.ping(conn, AbortSignal.timeout(1_000)), ConnectionLostError);
	});

	it("a ping that does not answer in time stops the host", async () => {
		const conn = await connect();
		const busy = driver.run(conn, countTo(1_000_000_000), [], "all", 0, undefined).catch((e: unknown) => e);
		await assert.rejects(driver.ping(conn, AbortSignal.timeout(200)), ConnectionLostError);
		assert.ok((await busy) instanceof ConnectionLostError);
		await driver.close(conn);
		assert.equal(processExists(conn.pid as number), false);
	});

	it("a host process exits by itself when its application is killed", async () => {
		const url = new URL("../../src/adapters/sqlite/driver.ts", import.meta.url).href;
		const script = `import { sqliteDriver } from ${JSON.stringify(url)};
			const conn = await sqliteDriver.connect({}, AbortSignal.timeout(10000));
			console.log(conn.pid);
			setInterval(() => {}, 1000);`;
		const app = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
		const hostPid = await new Promise<number>((resolve) => app.stdout.once("data", (chunk: Buffer) => resolve(Number(chunk.toString().trim()))));
		assert.ok(processExists(hostPid));
		app.kill("SIGKILL");
		const deadline = performance.now() + 5_000;
		while (processExists(hostPid) && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
		assert.equal(processExists(hostPid), false, "the orphaned host is gone");
	});

	it("a host process running a long statement exits when its application is killed (it cannot hear the disconnect)", async () => {
		const url = new URL("../../src/adapters/sqlite/driver.ts", import.meta.url).href;
		// A runaway statement: counts far beyond what finishes during the test, in one synchronous native call.
		const script = `import { sqliteDriver } from ${JSON.stringify(url)};
			const conn = await sqliteDriver.connect({}, AbortSignal.timeout(10000));
			void sqliteDriver.run(conn, ${JSON.stringify(countTo(1_000_000_000_000))}, [], "all", 0, undefined).catch(() => {});
			setTimeout(() => console.log(conn.pid), 300);
			setInterval(() => {}, 1000);`;
		const app = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
		let hostPid: number | undefined;
		try {
			hostPid = await new Promise<number>((resolve, reject) => {
				const timer = setTimeout(() => reject(new Error("the application never started its statement")), 10_000);
				app.stdout.once("data", (chunk: Buffer) => {
					clearTimeout(timer);
					resolve(Number(chunk.toString().trim()));
				});
			});
			assert.ok(processExists(hostPid), "the host should be running the statement");
			app.kill("SIGKILL");
			await new Promise((resolve) => setTimeout(resolve, 2_000));
			assert.equal(processExists(hostPid), false, `host process ${hostPid} still running 2 s after the application died`);
		} finally {
			// Only processes this test started, by pid.
			if (app.exitCode === null && app.signalCode === null) app.kill("SIGKILL");
			if (hostPid !== undefined && processExists(hostPid)) process.kill(hostPid, "SIGKILL");
		}
	});

	it("connect honours its signal: an aborted open rejects with the signal's reason", async () => {
		const controller = new AbortController();
		const reason = new Error("create timed out");
		setTimeout(() => controller.abort(reason), 5);
		await assert.rejects(driver.connect({}, controller.signal), (error) => error === reason);
	});

	it("a file that is not a database fails the connect as permanent (CONFIG_INVALID), with SQLite's error as cause", async () => {
		const dir = tempDirectory("not-a-db");
		after(() => dir.remove());
		writeFileSync(dir.file("notes.txt"), "these are not the pages you are looking for\n".repeat(100));
		const error = await driver.connect({ filename: dir.file("notes.txt") }, AbortSignal.timeout(10_000)).catch((e: unknown) => e);
		assert.equal((error as { code?: string }).code, "CONFIG_INVALID", String(error));
		assert.equal(((error as Error).cause as { errcode?: number }).errcode, 26, String(error));
	});
});
