import assert from "node:assert/strict";
import { once } from "node:events";
import { after, before, describe, it } from "node:test";
import type pg from "pg";
import type { ConnectionIdUnknownError } from "../../src/adapters/sql/errors.ts";
import type { LeaseReclaimedEvent, SqlClient } from "../../src/adapters/sql/types.ts";
import { ErrorCode } from "../../src/core/errors.ts";
import { requireService } from "../support/services.ts";
import { admin, eventually, sleep, terminateAll, testClient, watchCrashes } from "./helpers.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("postgres: connection ids", () => {
	let db: SqlClient;
	let a: pg.Client;

	before(async () => {
		await requireService("postgres");
		a = await admin();
		db = testClient("ids", { pool: { max: 2 }, leaseTimeoutMs: 60_000 }).db;
	});

	after(async () => {
		await db?.close();
		await a?.end();
	});

	const pidVia = async (id: string) => ((await db.execute<{ pid: number }>(id, "SELECT pg_backend_pid() AS pid", [], { fetch: "one" })) as { pid: number }).pid;

	it("acquireId returns a random UUID; execute runs on the same connection every time; releaseId gives it back", async () => {
		const id = await db.acquireId();
		assert.match(id, UUID);
		assert.equal(db.stats().leases.open, 1);
		const first = await pidVia(id);
		await db.execute(id, "SET application_name = 'lg-id-session'");
		assert.equal(await pidVia(id), first);
		assert.deepEqual(await db.execute(id, "SELECT current_setting('application_name') AS a", [], { fetch: "one" }), { a: "lg-id-session" });
		db.releaseId(id);
		assert.equal(db.stats().leases.open, 0);
		assert.equal(db.stats().primary.active, 0);
	});

	it("ids are never reused, even for the same connection", async () => {
		const seen = new Set<string>();
		for (let i = 0; i < 20; i++) {
			const id = await db.acquireId();
			assert.ok(!seen.has(id));
			seen.add(id);
			db.releaseId(id);
		}
		assert.equal(db.stats().primary.created <= 2, true);
	});

	it("an unknown or already released id is CONNECTION_ID_UNKNOWN, on execute and on release", async () => {
		await assert.rejects(db.execute("not-an-id", "SELECT 1"), { code: ErrorCode.CONNECTION_ID_UNKNOWN });
		const id = await db.acquireId();
		db.releaseId(id);
		await assert.rejects(
			db.execute(id, "SELECT 1"),
			(e: ConnectionIdUnknownError) => e.code === ErrorCode.CONNECTION_ID_UNKNOWN && /already released/.test(e.message),
		);
		assert.throws(() => db.releaseId(id), { code: ErrorCode.CONNECTION_ID_UNKNOWN });
		// The error names the id only in part.
		const error = (await db.execute(id, "SELECT 1").catch((e) => e)) as Error;
		assert.ok(!error.message.includes(id));
	});

	it("a transaction opened through an id is rolled back when the id is released", async () => {
		const id = await db.acquireId();
		await db.execute(id, "BEGIN");
		await db.execute(id, "CREATE TEMP TABLE lg_ids_tmp (x int)");
		db.releaseId(id);
		const next = await db.acquireId();
		await assert.rejects(db.execute(next, "SELECT * FROM lg_ids_tmp"), { sqlState: "42P01" });
		db.releaseId(next);
	});

	it("close() does not wait for ids nobody can release any more", async () => {
		const { db: other } = testClient("ids-close", { pool: { max: 1 } });
		await other.acquireId();
		const started = performance.now();
		await other.close({ timeoutMs: 10_000 });
		assert.ok(performance.now() - started < 1_000);
	});

	it("acquireId takes acquire options: with the pool full it fails at timeoutMs", async () => {
		await assert.rejects(
			(async () => {
				const held = [await db.acquireId(), await db.acquireId()];
				try {
					await db.acquireId({ timeoutMs: 50 });
				} finally {
					for (const id of held) db.releaseId(id);
				}
			})(),
			{ code: ErrorCode.POOL_TIMEOUT },
		);
	});
});

describe("postgres: connection ids not released in time", () => {
	let db: SqlClient;
	let a: pg.Client;

	before(async () => {
		await requireService("postgres");
		a = await admin();
		db = testClient("ids-reclaim", { pool: { max: 2 }, leaseTimeoutMs: 200 }).db;
	});

	after(async () => {
		await db?.close();
		await a?.end();
	});

	it("are reclaimed after leaseTimeoutMs: connection closed (not reused), counted, reported, and the id is dead", async () => {
		const id = await db.acquireId();
		const pid = ((await db.execute<{ pid: number }>(id, "SELECT pg_backend_pid() AS pid", [], { fetch: "one" })) as { pid: number }).pid;
		const [event] = (await once(db as never, "leaseReclaimed")) as [LeaseReclaimedEvent];
		assert.ok(event.heldMs >= 190, `held ${event.heldMs} ms`);
		assert.ok(!event.connectionId.includes(id));
		assert.equal(db.stats().leases.reclaimed, 1);
		assert.equal(db.stats().leases.open, 0);
		// The pool counts it as a leak, closed with reason `leaked` (not as a connection error).
		assert.equal(db.stats().primary.destroyedByReason.leaked, 1);
		assert.equal(db.stats().primary.destroyedByReason.error, 0);
		assert.equal(db.stats().primary.leaks, 1);
		await assert.rejects(
			db.execute(id, "SELECT 1"),
			(e: Error) => (e as ConnectionIdUnknownError).code === ErrorCode.CONNECTION_ID_UNKNOWN && /reclaimed/.test(e.message),
		);
		assert.throws(() => db.releaseId(id), { code: ErrorCode.CONNECTION_ID_UNKNOWN });
		// Its backend is gone: the connection was closed, not put back.
		assert.ok(await eventually(async () => (await a.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1", [pid])).rowCount === 0));
		const next = await db.acquireId();
		assert.notEqual(((await db.execute<{ pid: number }>(next, "SELECT pg_backend_pid() AS pid", [], { fetch: "one" })) as { pid: number }).pid, pid);
		db.releaseId(next);
	});

	it("an id whose connection was already lost is reclaimed quietly: counted, no leak, no crash", async () => {
		const { db: lost, app } = testClient("ids-reclaim-lost", { leaseTimeoutMs: 1_000 });
		const crashes = watchCrashes();
		try {
			const id = await lost.acquireId();
			await lost.execute(id, "SELECT 1");
			assert.equal(await terminateAll(a, app), 1);
			await assert.rejects(lost.execute(id, "SELECT 1"), { code: ErrorCode.CONNECTION_LOST });
			await once(lost as never, "leaseReclaimed");
			const stats = lost.stats();
			assert.equal(stats.leases.reclaimed, 1);
			assert.equal(stats.primary.destroyedByReason.error, 1);
			assert.equal(stats.primary.destroyedByReason.leaked, 0);
			assert.equal(stats.primary.leaks, 0);
			await sleep(50);
		} finally {
			await lost.close();
			assert.deepEqual(crashes.stop(), []);
		}
	});

	it("warn through process warnings when nobody listens for leaseReclaimed", async () => {
		const id = await db.acquireId();
		const [warning] = (await once(process, "warning")) as [Error & { code?: string }];
		assert.equal(warning.code, "LIFEGUARD_LEASE_RECLAIMED");
		assert.ok(!warning.message.includes(id));
		assert.equal(db.stats().leases.reclaimed, 2);
	});
});
