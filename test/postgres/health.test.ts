import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type pg from "pg";
import { createPostgresClient } from "../../src/adapters/postgres/index.ts";
import { ErrorCode } from "../../src/core/errors.ts";
import { requireService } from "../support/services.ts";
import { TcpProxy } from "../support/tcp-proxy.ts";
import {
	admin,
	appName,
	backendsOf,
	establishedTo,
	eventually,
	pidOf,
	server,
	serverOptions,
	sleep,
	terminateAll,
	testClient,
	watchCrashes,
} from "./helpers.ts";

describe("postgres: connection health", () => {
	let a: pg.Client;

	before(async () => {
		await requireService("postgres");
		a = await admin();
	});

	after(async () => {
		await a?.end();
	});

	it("an idle connection whose backend is terminated is dropped quietly, counted, and replaced", async () => {
		const { db, app } = testClient("idle-kill", { pool: { min: 2, max: 2 } });
		const crashes = watchCrashes();
		try {
			await db.start();
			assert.equal((await backendsOf(a, app)).length, 2);
			assert.equal(await terminateAll(a, app), 2);
			// The pool learns from the clients' 'error'/'end' events, with no query running.
			assert.ok(await eventually(() => db.stats().primary.destroyedByReason.error === 2, 2_000), JSON.stringify(db.stats().primary.destroyedByReason));
			assert.deepEqual(await db.query("SELECT 1 AS ok", [], { fetch: "one" }), { ok: 1 });
			// And min is restored by itself.
			assert.ok(await eventually(async () => (await backendsOf(a, app)).length === 2, 3_000));
			assert.deepEqual(crashes.stop(), []);
		} finally {
			crashes.stop();
			await db.close();
		}
	});

	it("an idle connection that stops answering fails validation after idle and is replaced", async () => {
		const proxy = await TcpProxy.start(server.port, server.host);
		const app = appName("validate");
		const db = createPostgresClient({
			primary: serverOptions(app, { port: proxy.port }),
			pool: { max: 1, validateAfterIdleMs: 50, validateTimeoutMs: 300, createTimeoutMs: 1_000 },
		});
		try {
			const first = await pidOf(db);
			proxy.setMode("stall");
			await sleep(100);
			const second = pidOf(db);
			await sleep(400);
			assert.equal(db.stats().primary.validationFailures, 1);
			proxy.setMode("pass");
			assert.notEqual(await second, first);
		} finally {
			await db.close();
			await proxy.close();
		}
	});

	it("the connect timeout is honoured when the server accepts but never answers, and the socket is closed", async () => {
		const proxy = await TcpProxy.start(server.port, server.host);
		proxy.setMode("stall");
		const db = createPostgresClient({
			primary: serverOptions(appName("connect-timeout"), { port: proxy.port }),
			pool: { max: 1, createTimeoutMs: 300, acquireTimeoutMs: 1_000 },
		});
		try {
			const started = performance.now();
			const error = (await db.query("SELECT 1").catch((e) => e)) as Error & { code: string; cause: { code?: string } };
			const elapsed = performance.now() - started;
			// The caller waits its acquire deadline, and learns why: every create timed out.
			assert.equal(error.code, ErrorCode.POOL_TIMEOUT);
			assert.equal(error.cause?.code, ErrorCode.CREATE_TIMEOUT);
			assert.ok(elapsed >= 950 && elapsed < 5_000, `waited ${elapsed} ms`);
			assert.ok(db.stats().primary.createFailures >= 2, `create attempts: ${db.stats().primary.createFailures}`);
			// The stalled sockets were destroyed at each create deadline, not left open behind it.
			assert.ok(await eventually(() => establishedTo(proxy.port) === 0, 1_000), `${establishedTo(proxy.port)} sockets still open`);
		} finally {
			await db.close();
			await proxy.close();
		}
	});

	it("afterCreate sets up every new connection's session", async () => {
		let runs = 0;
		const { db } = testClient("after-create", {
			pool: { max: 2 },
			afterCreate: async (session) => {
				runs++;
				await session.query("SET TIME ZONE 'Pacific/Auckland'");
			},
		});
		try {
			const rows = await Promise.all([1, 2].map(() => db.query("SELECT current_setting('TimeZone') AS tz, pg_sleep(0.05)", [], { fetch: "one" })));
			for (const row of rows) assert.equal((row as { tz: string }).tz, "Pacific/Auckland");
			assert.equal(runs, 2);
		} finally {
			await db.close();
		}
	});

	it("a failing afterCreate fails the connection, with the error as cause", async () => {
		const { db } = testClient("after-create-fails", {
			pool: { max: 1, acquireTimeoutMs: 500 },
			afterCreate: async (session) => {
				await session.query("SET search_path TO 'x', ");
			},
		});
		try {
			await assert.rejects(db.query("SELECT 1"), { code: ErrorCode.POOL_TIMEOUT });
			assert.match(db.stats().primary.lastCreateError ?? "", /syntax error/);
		} finally {
			await db.close();
		}
	});

	it("sessionParameters are sent at connect and survive DISCARD ALL; SET values do not", async () => {
		const app = appName("discard");
		const db = createPostgresClient({
			primary: serverOptions(app, { sessionParameters: { search_path: "lg_none, public", work_mem: "7MB" } }),
			pool: { max: 1 },
			reset: "discard",
		});
		try {
			const conn = await db.acquire();
			await conn.query("SET statement_timeout = '123s'");
			await conn.query("CREATE TEMP TABLE lg_discard_tmp (x int)");
			const pid = await pidOf(conn);
			conn.release();
			const row = (await db.query<Record<string, string>>(
				"SELECT current_setting('search_path') AS sp, current_setting('work_mem') AS wm, current_setting('statement_timeout') AS st, pg_backend_pid() AS pid",
				[],
				{ fetch: "one" },
			)) as Record<string, unknown>;
			assert.equal(row.pid, pid);
			assert.equal(row.sp, "lg_none, public");
			assert.equal(row.wm, "7MB");
			assert.equal(row.st, "0");
			await assert.rejects(db.query("SELECT * FROM lg_discard_tmp"), { sqlState: "42P01" });
		} finally {
			await db.close();
		}
	});

	it("without reset: 'discard', session settings stay (only an open transaction is rolled back)", async () => {
		const { db } = testClient("keep-session", { pool: { max: 1 } });
		try {
			const conn = await db.acquire();
			await conn.query("SET statement_timeout = '123s'");
			conn.release();
			assert.deepEqual(await db.query("SHOW statement_timeout", [], { fetch: "one" }), { statement_timeout: "123s" });
		} finally {
			await db.close();
		}
	});

	it("application_name identifies the client's backends", async () => {
		const { db, app } = testClient("app-name", { pool: { max: 1 } });
		try {
			const pid = await pidOf(db);
			assert.deepEqual(await backendsOf(a, app), [pid]);
		} finally {
			await db.close();
		}
	});
});
