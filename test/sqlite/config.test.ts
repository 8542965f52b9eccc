import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConnectionLostError, DriverMissingError, QueryTimeoutError } from "../../src/adapters/sql/errors.ts";
import { isPrivateDatabase, resolveSqliteConfig, SQLITE_DEFAULTS } from "../../src/adapters/sqlite/config.ts";
import { errorFromHost, type SqliteError } from "../../src/adapters/sqlite/errors.ts";
import { isConnectionFault } from "../../src/adapters/sqlite/faults.ts";
import { ConfigError } from "../../src/core/errors.ts";

describe("sqlite configuration", () => {
	it("defaults to a private in-memory database on a process host, with foreign keys on", () => {
		const resolved = resolveSqliteConfig();
		assert.equal(resolved.host, "process");
		assert.equal(resolved.private, true);
		assert.deepEqual(resolved.settings, {
			filename: ":memory:",
			readOnly: false,
			busyTimeoutMs: SQLITE_DEFAULTS.busyTimeoutMs,
			journalMode: undefined,
			foreignKeys: true,
			readBigInts: false,
			pragmas: [],
		});
	});

	it("gives a file database WAL unless told otherwise, and a read-only one its own journal mode", () => {
		assert.equal(resolveSqliteConfig({ filename: "app.db" }).settings.journalMode, "wal");
		assert.equal(resolveSqliteConfig({ filename: "app.db", journalMode: "delete" }).settings.journalMode, "delete");
		assert.equal(resolveSqliteConfig({ filename: "app.db", readOnly: true }).settings.journalMode, undefined);
		assert.equal(resolveSqliteConfig({ filename: "app.db" }).private, false);
	});

	it("knows which names open a database private to one connection", () => {
		assert.equal(isPrivateDatabase(":memory:"), true);
		assert.equal(isPrivateDatabase(""), true);
		assert.equal(isPrivateDatabase("memory.db"), false);
		assert.equal(isPrivateDatabase("/tmp/:memory:"), false);
	});

	it("lists every problem at once, each at its path", () => {
		const error = (() => {
			try {
				resolveSqliteConfig(
					{ filename: 3, busyTimeoutMs: 1.5, journalMode: "wall", host: "cluster", readOnly: "yes", pragmas: { "a b": 1 }, extra: true } as never,
					"db.",
				);
			} catch (e) {
				return e;
			}
		})();
		assert.ok(error instanceof ConfigError);
		assert.deepEqual(error.problems.map((p) => p.path).sort(), [
			"db.busyTimeoutMs",
			"db.extra",
			"db.filename",
			"db.host",
			"db.journalMode",
			"db.pragmas.a b",
			"db.readOnly",
		]);
	});

	it("busyTimeoutMs past 2^31-1 ms (SQLite's int, where 3e9 became 0: no wait at all), Infinity or a string is refused", () => {
		for (const busyTimeoutMs of [3_000_000_000, Number.POSITIVE_INFINITY, "5000", -1]) {
			assert.throws(
				() => resolveSqliteConfig({ busyTimeoutMs } as never),
				(e: unknown) => e instanceof ConfigError && e.problems.length === 1 && e.problems[0].path === "busyTimeoutMs",
				String(busyTimeoutMs),
			);
		}
		assert.equal(resolveSqliteConfig({ busyTimeoutMs: 2_147_483_647 }).settings.busyTimeoutMs, 2_147_483_647);
		assert.equal(resolveSqliteConfig({ busyTimeoutMs: 0 }).settings.busyTimeoutMs, 0);
	});

	it("accepts pragmas with a number or a plain word as value", () => {
		const { settings } = resolveSqliteConfig({ pragmas: { synchronous: "NORMAL", cache_size: -20000, mmap_size: 268435456 } });
		assert.deepEqual(settings.pragmas, [
			["synchronous", "NORMAL"],
			["cache_size", -20000],
			["mmap_size", 268435456],
		]);
	});
});

describe("sqlite errors from a host", () => {
	it("a missing node:sqlite is DRIVER_MISSING saying which Node.js to use", () => {
		const error = errorFromHost({ name: "Error", message: "No such built-in module: node:sqlite", code: "ERR_UNKNOWN_BUILTIN_MODULE" });
		assert.ok(error instanceof DriverMissingError);
		assert.equal(error.code, "DRIVER_MISSING");
		assert.match(error.message, /Node\.js 22\.13 or later/);
		assert.ok(error.message.includes(process.version));
		assert.doesNotMatch(error.message, /npm install/);
		assert.equal((error.cause as { code?: string }).code, "ERR_UNKNOWN_BUILTIN_MODULE");
	});

	it("a statement error keeps SQLite's message and codes for the client to wrap", () => {
		const error = errorFromHost({ name: "Error", message: "no such table: t", code: "ERR_SQLITE_ERROR", errcode: 1, errstr: "SQL logic error" });
		assert.equal(error.message, "no such table: t");
		assert.ok(error instanceof Error);
		assert.deepEqual(
			{ code: (error as SqliteError).code, errcode: (error as SqliteError).errcode, errstr: (error as SqliteError).errstr },
			{ code: "ERR_SQLITE_ERROR", errcode: 1, errstr: "SQL logic error" },
		);
		assert.equal(isConnectionFault(error), false);
	});

	it("a closed database is a lost connection", () => {
		const error = errorFromHost({ name: "Error", message: "database is not open", code: "ERR_INVALID_STATE" });
		assert.ok(error instanceof ConnectionLostError);
		assert.equal(isConnectionFault(error), true);
	});

	it("classifies I/O, corruption, cannot-open and not-a-database (by primary code) as connection faults, the rest as the caller's", () => {
		for (const errcode of [10, 266 /* SQLITE_IOERR_READ */, 11, 14, 26]) assert.equal(isConnectionFault({ errcode }), true, String(errcode));
		for (const errcode of [1, 5, 8, 19, 1555, 2067]) assert.equal(isConnectionFault({ errcode }), false, String(errcode));
		assert.equal(isConnectionFault(new QueryTimeoutError(100, { connectionClosed: true })), true);
		assert.equal(isConnectionFault(new Error("anything else")), false);
	});
});
