/**
 * The server or the network kills pooled connections while work runs: nothing escapes to the
 * process, in-flight statements fail with CONNECTION_LOST, the next statements succeed, and the
 * pool is back at `min` by itself.
 */
import assert from "node:assert/strict";
import { after, afterEach, before, beforeEach, describe, it } from "node:test";
import { ConnectionLostError, createMysqlClient, type SqlClient } from "../../src/adapters/mysql/index.ts";
import { requireService } from "../support/services.ts";
import { TcpProxy } from "../support/tcp-proxy.ts";
import { type Admin, admin, countRunning, eventually, server, threadsOn, url } from "./helpers.ts";

/** The pool's connections are the server's only ones on this database: that is how the test finds them to KILL. */
const DATABASE = "lifeguard_mysql_faults";
const MIN = 4;

let a: Admin;
const escaped: unknown[] = [];
const onEscape = (error: unknown) => escaped.push(error);

before(async () => {
	await requireService("mysql");
	a = await admin();
	await a.query(`CREATE DATABASE IF NOT EXISTS ${DATABASE}`);
	await killAll();
	process.on("uncaughtException", onEscape);
	process.on("unhandledRejection", onEscape);
});

after(async () => {
	process.off("uncaughtException", onEscape);
	process.off("unhandledRejection", onEscape);
	// A network cut leaves the server's side running its statements: end them, so nothing outlives the test.
	await killAll();
	await a.query(`DROP DATABASE IF EXISTS ${DATABASE}`);
	await a.end();
});

beforeEach(() => {
	escaped.length = 0;
});

afterEach(() => {
	assert.deepEqual(escaped, [], "an error escaped to the process");
});

/** Starts `count` statements that run until their connection dies; resolves each with what it was rejected with. */
function inflight(db: SqlClient, count: number, marker: string): Promise<unknown>[] {
	return Array.from({ length: count }, () =>
		db.query(`SELECT SLEEP(10) AS ${marker}`).then(
			() => new Error("the statement survived its connection"),
			(error: unknown) => error,
		),
	);
}

async function serverThreads(): Promise<number[]> {
	return threadsOn(a, DATABASE);
}

async function killAll(): Promise<void> {
	for (const id of await serverThreads()) await a.query(`KILL CONNECTION ${id}`).catch(() => {});
}

describe("MySQL faults: every pooled connection killed server-side", () => {
	let db: SqlClient;

	before(async () => {
		db = createMysqlClient({ primary: { url, database: DATABASE }, pool: { min: MIN, max: 8 } });
		await db.start();
	});

	after(() => db.close({ timeoutMs: 1_000 }));

	it("idle connections killed: the pool notices by itself, the next query succeeds, min is restored", async () => {
		const killed = await serverThreads();
		assert.equal(killed.length, MIN);
		for (const id of killed) await a.query(`KILL CONNECTION ${id}`);
		assert.ok(await eventually(() => db.stats().primary.destroyedByReason.error >= MIN), "the pool did not notice the deaths");
		assert.deepEqual(await db.query("SELECT 1 AS ok"), [{ ok: 1 }]);
		assert.ok(await eventually(async () => (await serverThreads()).length >= MIN && db.stats().primary.idle >= MIN));
		const now = await serverThreads();
		assert.equal(now.filter((id) => killed.includes(id)).length, 0);
	});

	it("killed while statements run: those fail with CONNECTION_LOST, later ones succeed, min is restored", async () => {
		const before = db.stats().primary.destroyedByReason.error;
		const running = inflight(db, 3, "lifeguard_fault_server");
		assert.ok(await eventually(async () => (await countRunning(a, "lifeguard_fault_server")) === 3));
		assert.ok(await eventually(async () => (await serverThreads()).length >= MIN));
		const killed = await serverThreads();
		for (const id of killed) await a.query(`KILL CONNECTION ${id}`);
		const outcomes = await Promise.all(running);
		for (const outcome of outcomes) assert.ok(outcome instanceof ConnectionLostError, String(outcome));
		// A statement sent in the instant between the server's KILL and the client reading the closed socket fails too (typed):
		// "next" means after the pool has seen the deaths, which it does by itself.
		assert.ok(await eventually(() => db.stats().primary.destroyedByReason.error - before >= killed.length), "the pool did not notice the deaths");
		const results = await Promise.all(Array.from({ length: 6 }, (_, i) => db.query<{ n: number }>("SELECT ? AS n", [i], { fetch: "one" })));
		assert.deepEqual(
			results.map((r) => r?.n),
			[0, 1, 2, 3, 4, 5],
		);
		assert.ok(await eventually(() => db.stats().primary.total >= MIN && db.stats().primary.active === 0));
		assert.ok(await eventually(async () => (await serverThreads()).length >= MIN));
	});

	it("a pinned connection killed between its statements fails the next one with CONNECTION_LOST and is not reused", async () => {
		const conn = await db.acquire();
		const id = (await conn.query<{ id: number }>("SELECT CONNECTION_ID() AS id", [], { fetch: "one" }))?.id;
		await a.query(`KILL CONNECTION ${id}`);
		assert.ok(await eventually(async () => !(await serverThreads()).includes(id as number)));
		await assert.rejects(conn.query("SELECT 1"), (error: unknown) => error instanceof ConnectionLostError);
		conn.release();
		const ids = await Promise.all(
			Array.from({ length: MIN }, () => db.query<{ id: number }>("SELECT CONNECTION_ID() AS id, SLEEP(0.05) AS s", [], { fetch: "one" })),
		);
		assert.ok(!ids.some((r) => r?.id === id));
	});
});

describe("MySQL faults: the network cuts every connection (TcpProxy cutAll)", () => {
	let proxy: TcpProxy;
	let db: SqlClient;

	before(async () => {
		proxy = await TcpProxy.start(server.port, server.host);
		db = createMysqlClient({ primary: { host: "127.0.0.1", port: proxy.port, user: "root", database: DATABASE }, pool: { min: MIN, max: 8 } });
		await db.start();
	});

	after(async () => {
		await db.close({ timeoutMs: 1_000 });
		await proxy.close();
	});

	it("in-flight statements fail with CONNECTION_LOST, the next succeed, and min comes back", async () => {
		assert.equal(proxy.connections, MIN);
		const running = inflight(db, 3, "lifeguard_fault_cut");
		assert.ok(await eventually(async () => (await countRunning(a, "lifeguard_fault_cut")) === 3));
		assert.ok(await eventually(() => proxy.connections >= MIN));
		const destroyedBefore = db.stats().primary.destroyed;
		const cut = proxy.connections;
		proxy.cutAll();
		const outcomes = await Promise.all(running);
		for (const outcome of outcomes) assert.ok(outcome instanceof ConnectionLostError, String(outcome));
		assert.ok(await eventually(() => db.stats().primary.destroyed - destroyedBefore >= cut), "every cut connection was closed");
		assert.deepEqual(await db.query("SELECT 'after the cut' AS v"), [{ v: "after the cut" }]);
		assert.ok(await eventually(() => db.stats().primary.idle >= MIN && proxy.connections >= MIN), "min was not restored");
	});
});
