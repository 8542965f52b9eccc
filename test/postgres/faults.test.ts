import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type pg from "pg";
import { createPostgresClient } from "../../src/adapters/postgres/index.ts";
import { ErrorCode } from "../../src/core/errors.ts";
import { requireService } from "../support/services.ts";
import { TcpProxy } from "../support/tcp-proxy.ts";
import { admin, appName, backendsOf, eventually, server, serverOptions, sleep, terminateAll, testClient, watchCrashes } from "./helpers.ts";

describe("postgres: connections killed under load", () => {
	let a: pg.Client;

	before(async () => {
		await requireService("postgres");
		a = await admin();
	});

	after(async () => {
		await a?.end();
	});

	it("every pooled backend terminated mid-work: in-flight calls fail with CONNECTION_LOST, nothing escapes, the next calls succeed, min comes back", async () => {
		const { db, app } = testClient("kill-all", { pool: { min: 3, max: 6 } });
		const crashes = watchCrashes();
		try {
			await db.start();
			// Statements that are surely running when the kill arrives.
			const inFlight = Array.from({ length: 6 }, () =>
				db.query("SELECT pg_sleep(2)").then(
					() => "ok",
					(e: { code: string }) => e.code,
				),
			);
			assert.ok(await eventually(async () => (await backendsOf(a, app)).length === 6, 2_000));
			await sleep(100);
			assert.equal(await terminateAll(a, app), 6);
			const outcomes = await Promise.all(inFlight);
			assert.deepEqual(outcomes, Array(6).fill(ErrorCode.CONNECTION_LOST));
			// Fresh connections serve the next calls.
			const next = await Promise.all(Array.from({ length: 4 }, (_, i) => db.query("SELECT $1::int AS i", [i], { fetch: "one" })));
			assert.deepEqual(next, [{ i: 0 }, { i: 1 }, { i: 2 }, { i: 3 }]);
			const stats = db.stats().primary;
			assert.ok(stats.destroyedByReason.error + stats.destroyedByReason.destroyed >= 6, JSON.stringify(stats.destroyedByReason));
			// The pool refills min by itself.
			assert.ok(await eventually(() => db.stats().primary.total >= 3, 3_000));
			assert.deepEqual(crashes.stop(), []);
		} finally {
			crashes.stop();
			await db.close();
		}
	});

	it("a pinned connection whose backend is terminated fails with CONNECTION_LOST and is not reused after release", async () => {
		const { db } = testClient("kill-pinned", { pool: { max: 1 } });
		try {
			const conn = await db.acquire();
			const { pid } = (await conn.query<{ pid: number }>("SELECT pg_backend_pid() AS pid", [], { fetch: "one" })) as { pid: number };
			await a.query("SELECT pg_terminate_backend($1)", [pid]);
			await assert.rejects(conn.query("SELECT 1"), { code: ErrorCode.CONNECTION_LOST });
			// Closed at once, not when released; later statements fail fast instead of queueing on a dead socket.
			assert.ok(await eventually(() => db.stats().primary.destroyed === 1, 1_000));
			await assert.rejects(conn.query("SELECT 1"), { code: ErrorCode.CONNECTION_LOST });
			conn.release();
			const { pid: next } = (await db.query<{ pid: number }>("SELECT pg_backend_pid() AS pid", [], { fetch: "one" })) as { pid: number };
			assert.notEqual(next, pid);
		} finally {
			await db.close();
		}
	});

	it("a statement on a connection already known dead is CONNECTION_LOST with sent: false, saying it was not sent (a retry is safe)", async () => {
		const { db } = testClient("kill-idle-pinned", { pool: { max: 1 } });
		try {
			const conn = await db.acquire();
			const { pid } = (await conn.query<{ pid: number }>("SELECT pg_backend_pid() AS pid", [], { fetch: "one" })) as { pid: number };
			// The next statement must go after pg saw the socket close (a fixed 300 ms was not always
			// enough under load). The client's own 'end' listener was added first, so it ran by then.
			let ended = false;
			(conn.raw as pg.Client).once("end", () => {
				ended = true;
			});
			await a.query("SELECT pg_terminate_backend($1)", [pid]);
			assert.ok(await eventually(() => ended, 10_000), "pg saw the server close the connection");
			await assert.rejects(conn.query("INSERT INTO nowhere VALUES (1)"), (error: Error & { code?: string; sent?: boolean }) => {
				assert.equal(error.code, ErrorCode.CONNECTION_LOST);
				assert.equal(error.sent, false);
				assert.match(error.message, /not sent/);
				assert.doesNotMatch(error.message, /may or may not/);
				return true;
			});
			conn.release();
		} finally {
			await db.close();
		}
	});

	it("a network cut (sockets reset under the client) is CONNECTION_LOST, and the pool recovers", async () => {
		const proxy = await TcpProxy.start(server.port, server.host);
		const db = createPostgresClient({ primary: serverOptions(appName("cut"), { port: proxy.port }), pool: { max: 2 } });
		const crashes = watchCrashes();
		try {
			await db.query("SELECT 1");
			const running = db.query("SELECT pg_sleep(1)").catch((e: { code: string }) => e.code);
			await sleep(100);
			proxy.cutAll();
			assert.equal(await running, ErrorCode.CONNECTION_LOST);
			assert.deepEqual(await db.query("SELECT 1 AS ok", [], { fetch: "one" }), { ok: 1 });
			assert.deepEqual(crashes.stop(), []);
		} finally {
			crashes.stop();
			await db.close();
			await proxy.close();
		}
	});
});
