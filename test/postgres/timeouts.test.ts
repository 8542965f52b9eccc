import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type pg from "pg";
import { createPostgresClient } from "../../src/adapters/postgres/index.ts";
import type { QueryTimeoutError } from "../../src/adapters/sql/errors.ts";
import { QUERY_TIMEOUT_GRACE_MS } from "../../src/adapters/sql/runner.ts";
import type { SqlClient } from "../../src/adapters/sql/types.ts";
import { ErrorCode } from "../../src/core/errors.ts";
import { requireService } from "../support/services.ts";
import { TcpProxy } from "../support/tcp-proxy.ts";
import { admin, appName, eventually, pidOf, server, serverOptions, sleep, statementRunning, testClient } from "./helpers.ts";

describe("postgres: statement timeouts", () => {
	let db: SqlClient;
	let a: pg.Client;

	before(async () => {
		await requireService("postgres");
		a = await admin();
		db = testClient("timeouts", { pool: { max: 1 } }).db;
	});

	after(async () => {
		await db?.close();
		await a?.end();
	});

	it("timeoutMs cancels the statement on the server and throws QUERY_TIMEOUT at the deadline", async () => {
		const marker = `lg_timeout_${randomUUID().slice(0, 8)}`;
		const pid = await pidOf(db);
		const started = performance.now();
		const error = (await db.query(`SELECT pg_sleep(60) AS ${marker}`, [], { timeoutMs: 200 }).catch((e) => e)) as QueryTimeoutError;
		const elapsed = performance.now() - started;
		assert.equal(error.code, ErrorCode.QUERY_TIMEOUT);
		assert.equal(error.connectionClosed, false);
		assert.equal((error.cause as { code: string }).code, "57014");
		assert.match(error.message, /^statement cancelled after its timeout of 200 ms; raise timeoutMs/);
		// Uncancelled, the statement runs 60 s: 10 s tells the two apart on a loaded machine.
		assert.ok(elapsed >= 195 && elapsed < 10_000, `took ${elapsed} ms`);
		// Cancelled on the server, not merely abandoned by the client.
		assert.equal(await statementRunning(a, marker), false);
		// The connection survived the cancel and is reused.
		assert.equal(await pidOf(db), pid);
		assert.equal(db.stats().primary.destroyed, 0);
	});

	it("a statement that finishes in time is unaffected by its timeout, and a later statement is never hit by the cancel", async () => {
		assert.deepEqual(await db.query("SELECT 1 AS ok", [], { timeoutMs: 1_000 }), [{ ok: 1 }]);
		await db.query("SELECT pg_sleep(0.05)", [], { timeoutMs: 1_000 });
		await sleep(1_050);
		assert.deepEqual(await db.query("SELECT 2 AS ok, pg_sleep(0.1)", [], { fetch: "one" }), { ok: 2, pg_sleep: "" });
	});

	it("timeoutMs applies to fetch 'one'/'many' and to batch", async () => {
		await assert.rejects(db.query("SELECT pg_sleep(5)", [], { fetch: "one", timeoutMs: 100 }), { code: ErrorCode.QUERY_TIMEOUT });
		await assert.rejects(db.query("SELECT pg_sleep(5)", [], { fetch: "many", limit: 2, timeoutMs: 100 }), { code: ErrorCode.QUERY_TIMEOUT });
		await assert.rejects(db.batch("SELECT pg_sleep($1)", [[0.01], [5]], { timeoutMs: 100 }), { code: ErrorCode.QUERY_TIMEOUT });
		assert.deepEqual(await db.query("SELECT 3 AS ok", [], { fetch: "one" }), { ok: 3 });
	});

	it("a timeout inside a transaction aborts it: the transaction rolls back and the connection comes back clean", async () => {
		await assert.rejects(
			db.transaction(async (tx) => {
				await tx.query("CREATE TEMP TABLE lg_timeout_tx (x int)");
				await tx.query("SELECT pg_sleep(5)", [], { timeoutMs: 100 });
			}),
			{ code: ErrorCode.QUERY_TIMEOUT },
		);
		await assert.rejects(db.query("SELECT * FROM lg_timeout_tx"), { sqlState: "42P01" });
	});

	it("statementTimeoutMs is the default for every statement, and timeoutMs overrides it", async () => {
		const { db: bounded } = testClient("default-timeout", { pool: { max: 1 }, statementTimeoutMs: 150 });
		try {
			const started = performance.now();
			await assert.rejects(bounded.query("SELECT pg_sleep(5)"), { code: ErrorCode.QUERY_TIMEOUT, timeoutMs: 150 });
			assert.ok(performance.now() - started < 1_000);
			assert.deepEqual(await bounded.query("SELECT pg_sleep(0.3), 1 AS ok", [], { fetch: "one", timeoutMs: 2_000 }), { pg_sleep: "", ok: 1 });
		} finally {
			await bounded.close();
		}
	});
});

describe("postgres: timeouts of statements issued together on a held connection", () => {
	let db: SqlClient;

	before(async () => {
		await requireService("postgres");
		db = testClient("timeouts-held", { pool: { max: 1 } }).db;
	});

	after(async () => {
		await db?.close();
	});

	/** "ok", or the error's code (and SQLSTATE when it has one). */
	const outcome = (work: Promise<unknown>) =>
		work.then(
			() => "ok",
			(error: { code?: string; sqlState?: string }) => (error.sqlState === undefined ? String(error.code) : `${error.code}:${error.sqlState}`),
		);

	it("a statement's timeout cancels that statement, never another one running before it on the same pinned connection", async () => {
		const conn = await db.acquire();
		try {
			const started = performance.now();
			// A long statement without a timeout, then (queued behind it) a quick one with a short timeout.
			const long = outcome(conn.query("SELECT pg_sleep(1.5) AS slept"));
			const quick = outcome(conn.query("SELECT 1 AS one", [], { timeoutMs: 300 }));
			const [longOutcome, quickOutcome] = await Promise.all([long, quick]);
			// The 300 ms deadline belongs to `SELECT 1`: it must not abort pg_sleep, which had no timeout.
			assert.equal(
				longOutcome,
				"ok",
				`the long statement, which had no timeout, was cancelled by the other statement's timeout after ${Math.round(performance.now() - started)} ms`,
			);
			assert.equal(quickOutcome, "ok");
		} finally {
			conn.release();
		}
	});

	it("the other order: the first statement's timeout cancels it, and the statement queued behind it still runs", async () => {
		const conn = await db.acquire();
		try {
			const long = outcome(conn.query("SELECT pg_sleep(5)", [], { timeoutMs: 200 }));
			const next = conn.query("SELECT 2 AS two");
			assert.equal(await long, ErrorCode.QUERY_TIMEOUT);
			assert.deepEqual(await next, [{ two: 2 }]);
		} finally {
			conn.release();
		}
	});

	it("a queued statement's timeout counts from its own start, inside a transaction too", async () => {
		await assert.rejects(
			db.transaction(async (tx) => {
				const started = performance.now();
				const first = outcome(tx.query("SELECT pg_sleep(0.5)"));
				const second = tx.query("SELECT pg_sleep(0.6)", [], { timeoutMs: 300 }).then(
					() => "ok",
					(error: { code?: string }) => ({ code: error.code, at: performance.now() - started }),
				);
				assert.equal(await first, "ok");
				const timedOut = (await second) as { code: string; at: number };
				assert.equal(timedOut.code, ErrorCode.QUERY_TIMEOUT);
				assert.ok(timedOut.at >= 780, `the second statement timed out ${Math.round(timedOut.at)} ms after both were issued: before its own 300 ms had run`);
			}),
			// The timeout aborted the transaction, and fn carried on: COMMIT answers with a rollback, which transaction() reports.
			{ code: ErrorCode.QUERY_FAILED, sqlState: "25P02" },
		);
	});

	it("a statement still waiting its turn when the connection is released never runs", async () => {
		const conn = await db.acquire();
		const running = outcome(conn.query("SELECT pg_sleep(0.2)"));
		const waiting = outcome(conn.query("SELECT 1"));
		conn.release();
		assert.equal(await waiting, ErrorCode.LEASE_INVALID);
		// The running one was left on the connection, which is therefore closed rather than lent again.
		await running;
		assert.deepEqual(await db.query("SELECT 3 AS three"), [{ three: 3 }]);
	});
});

describe("postgres: statement timeouts when the server does not answer", () => {
	before(async () => {
		await requireService("postgres");
	});

	it("the connection is closed and QUERY_TIMEOUT thrown once the grace period after the timeout has passed", async () => {
		const proxy = await TcpProxy.start(server.port, server.host);
		const db = createPostgresClient({ primary: serverOptions(appName("stalled"), { port: proxy.port }), pool: { max: 1 } });
		try {
			await db.query("SELECT 1");
			proxy.setMode("stall");
			const started = performance.now();
			const error = (await db.query("SELECT 1", [], { timeoutMs: 100 }).catch((e) => e)) as QueryTimeoutError;
			const elapsed = performance.now() - started;
			assert.equal(error.code, ErrorCode.QUERY_TIMEOUT);
			assert.equal(error.connectionClosed, true);
			assert.match(
				error.message,
				new RegExp(
					`timed out after 100 ms and its connection was closed \\(nothing came back ${QUERY_TIMEOUT_GRACE_MS} ms after the timeout: the server did not answer`,
				),
			);
			assert.ok(elapsed >= 100 + QUERY_TIMEOUT_GRACE_MS - 10 && elapsed < 100 + QUERY_TIMEOUT_GRACE_MS + 10_000, `took ${elapsed} ms`);
			assert.ok(await eventually(() => db.stats().primary.destroyed === 1, 1_000));
			proxy.setMode("pass");
			assert.deepEqual(await db.query("SELECT 1 AS ok", [], { fetch: "one" }), { ok: 1 });
		} finally {
			await db.close();
			await proxy.close();
		}
	});
});
