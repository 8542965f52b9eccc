/**
 * Read/write routing over the real server: the primary and the "replicas" are all the local
 * PostgreSQL, told apart by application_name, which each statement reports back.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type pg from "pg";
import { createPostgresClient, type PostgresClientOptions } from "../../src/adapters/postgres/index.ts";
import type { SqlClient, SqlExecutor } from "../../src/adapters/sql/types.ts";
import { requireService } from "../support/services.ts";
import { TcpProxy } from "../support/tcp-proxy.ts";
import { admin, appName, eventually, server, serverOptions, sleep } from "./helpers.ts";

const TABLE = "lg_pg_routing";
const WHERE = "current_setting('application_name') AS app";

interface Topology {
	db: SqlClient;
	primary: string;
	replicas: string[];
}

function topology(replicaCount: number, options: Partial<PostgresClientOptions> = {}): Topology {
	const primary = appName("primary");
	const replicas = Array.from({ length: replicaCount }, (_, i) => appName(`replica${i + 1}`));
	const db = createPostgresClient({
		primary: serverOptions(primary),
		replicas: replicas.map((name) => serverOptions(name)),
		// min 1, opened by start(): reads go to a replica only once a connection to it is ready.
		pool: { max: 3, min: 1 },
		...options,
	});
	return { db, primary, replicas };
}

/** A topology whose replicas are ready to take reads. */
async function started(replicaCount: number, options: Partial<PostgresClientOptions> = {}): Promise<Topology> {
	const t = topology(replicaCount, options);
	await t.db.start();
	return t;
}

/** Where a read ran. */
async function readsFrom(db: SqlExecutor, sql = `SELECT ${WHERE}`, options: object = {}): Promise<string> {
	return ((await db.query<{ app: string }>(sql, [], { fetch: "one", ...options })) as { app: string }).app;
}

/** Where a write ran. */
async function writesTo(db: SqlExecutor): Promise<string> {
	return ((await db.query<{ app: string }>(`INSERT INTO ${TABLE} (v) VALUES (1) RETURNING ${WHERE}`, [], { fetch: "one" })) as { app: string }).app;
}

describe("postgres: read/write routing", () => {
	let a: pg.Client;
	let t: Topology;

	before(async () => {
		await requireService("postgres");
		a = await admin();
		await a.query(`DROP TABLE IF EXISTS ${TABLE}`);
		await a.query(`CREATE TABLE ${TABLE} (id serial PRIMARY KEY, v int)`);
		await a.query("DROP SEQUENCE IF EXISTS lg_pg_routing_seq");
		await a.query("CREATE SEQUENCE lg_pg_routing_seq");
		t = await started(2);
	});

	after(async () => {
		await t?.db.close();
		await a?.query(`DROP TABLE IF EXISTS ${TABLE}`);
		await a?.query("DROP SEQUENCE IF EXISTS lg_pg_routing_seq");
		await a?.end();
	});

	it("plain reads go to the replicas, round-robin", async () => {
		const seen = [];
		for (let i = 0; i < 4; i++) seen.push(await readsFrom(t.db));
		assert.deepEqual(seen, [t.replicas[0], t.replicas[1], t.replicas[0], t.replicas[1]]);
	});

	it("writes go to the primary", async () => {
		assert.equal(await writesTo(t.db), t.primary);
		const updated = await t.db.query<{ app: string }>(`UPDATE ${TABLE} SET v = 2 RETURNING ${WHERE}`, [], { fetch: "one" });
		assert.deepEqual(updated, { app: t.primary });
	});

	it("locking reads, data-modifying CTEs, sequence calls and SELECT INTO go to the primary", async () => {
		for (const sql of [
			`SELECT ${WHERE} FROM ${TABLE} FOR UPDATE`,
			`SELECT ${WHERE} FROM ${TABLE} FOR SHARE`,
			`SELECT ${WHERE}, nextval('lg_pg_routing_seq')`,
			`WITH d AS (DELETE FROM ${TABLE} WHERE false RETURNING 1) SELECT ${WHERE}`,
			`SELECT ${WHERE}, pg_advisory_unlock_all()`,
		]) {
			assert.equal(await readsFrom(t.db, sql), t.primary, sql);
		}
	});

	it("comments and literals do not fool the router", async () => {
		assert.equal(await readsFrom(t.db, `SELECT ${WHERE}, 'INSERT INTO x; DELETE' AS s /* FOR UPDATE */`), t.replicas[0]);
		assert.equal(await readsFrom(t.db, `SELECT ${WHERE} /* it's a read */ FROM ${TABLE} FOR UPDATE`), t.primary);
	});

	it("a per-call route overrides the router", async () => {
		assert.equal(await readsFrom(t.db, `SELECT ${WHERE}`, { route: "primary" }), t.primary);
		assert.ok(t.replicas.includes(await readsFrom(t.db, `SELECT ${WHERE}, nextval('lg_pg_routing_seq')`, { route: "replica" })));
	});

	it("an unknown route is CONFIG_INVALID", async () => {
		await assert.rejects(t.db.query("SELECT 1", [], { route: "replicas" as never }), { code: "CONFIG_INVALID" });
		await assert.rejects(t.db.acquire({ route: "secondary" as never }), { code: "CONFIG_INVALID" });
	});

	it("everything in a transaction runs on the primary, reads included", async () => {
		const apps = await t.db.transaction(async (tx) => [await readsFrom(tx), await writesTo(tx)]);
		assert.deepEqual(apps, [t.primary, t.primary]);
	});

	it("pinned connections and connection ids are on the primary unless a replica is asked for", async () => {
		const conn = await t.db.acquire();
		try {
			assert.equal(await readsFrom(conn), t.primary);
		} finally {
			conn.release();
		}
		const replica = await t.db.acquire({ route: "replica" });
		try {
			assert.ok(t.replicas.includes(await readsFrom(replica)));
		} finally {
			replica.release();
		}
		const id = await t.db.acquireId();
		assert.deepEqual(await t.db.execute(id, `SELECT ${WHERE}`, [], { fetch: "one" }), { app: t.primary });
		t.db.releaseId(id);
	});

	it("stats report each pool and the routing counts", async () => {
		const before = t.db.stats().routed;
		await readsFrom(t.db);
		await writesTo(t.db);
		const stats = t.db.stats();
		assert.equal(stats.routed.replica, before.replica + 1);
		assert.equal(stats.routed.primary, before.primary + 1);
		assert.equal(stats.replicas.length, 2);
		assert.ok(stats.primary.name !== stats.replicas[0].name && stats.replicas[0].name !== stats.replicas[1].name);
		assert.ok(stats.replicas[0].acquires.ok > 0 && stats.replicas[1].acquires.ok > 0);
	});

	it("batch follows the same rules as query", async () => {
		const beforePrimary = t.db.stats().primary.acquires.ok;
		await t.db.batch(`INSERT INTO ${TABLE} (v) VALUES ($1)`, [[1], [2]]);
		assert.equal(t.db.stats().primary.acquires.ok, beforePrimary + 1);
	});
});

describe("postgres: least-busy replica selection", () => {
	let t: Topology;

	before(async () => {
		await requireService("postgres");
		t = await started(2, { replicaSelection: "least-busy" });
	});

	after(async () => {
		await t?.db.close();
	});

	it("reads go to the replica with the fewest connections in use", async () => {
		const held = await t.db.acquire({ route: "replica" });
		const busy = await readsFrom(held);
		try {
			for (let i = 0; i < 4; i++) {
				const app = await readsFrom(t.db);
				assert.ok(t.replicas.includes(app));
				assert.notEqual(app, busy);
			}
		} finally {
			held.release();
		}
	});
});

describe("postgres: read-your-writes", () => {
	const WINDOW_MS = 300;
	let a: pg.Client;
	let t: Topology;

	before(async () => {
		await requireService("postgres");
		a = await admin();
		await a.query(`CREATE TABLE IF NOT EXISTS ${TABLE} (id serial PRIMARY KEY, v int)`);
		t = await started(1, { readYourWritesMs: WINDOW_MS });
	});

	after(async () => {
		await t?.db.close();
		await a?.query(`DROP TABLE IF EXISTS ${TABLE}`);
		await a?.end();
	});

	it("after a session's write, that session reads from the primary for the window; other sessions keep using the replica", async () => {
		const alice = t.db.session();
		const bob = t.db.session();
		assert.equal(await readsFrom(alice), t.replicas[0]);
		assert.equal(await writesTo(alice), t.primary);
		assert.equal(await readsFrom(alice), t.primary);
		assert.equal(await readsFrom(bob), t.replicas[0]);
		await sleep(WINDOW_MS + 50);
		assert.equal(await readsFrom(alice), t.replicas[0]);
	});

	it("a session's transaction counts as its write", async () => {
		const s = t.db.session();
		await s.transaction((tx) => writesTo(tx));
		assert.equal(await readsFrom(s), t.primary);
		const r = t.db.session();
		await r.transaction((tx) => readsFrom(tx), { readOnly: true });
		assert.equal(await readsFrom(r), t.replicas[0]);
	});

	it("session.run makes the session the caller of plain client calls inside it, across awaits", async () => {
		const s = t.db.session();
		const other = t.db.session();
		await s.run(async () => {
			await writesTo(t.db);
			await sleep(10);
			assert.equal(await readsFrom(t.db), t.primary);
		});
		assert.equal(await other.run(() => readsFrom(t.db)), t.replicas[0]);
	});

	it("calls outside every session share the client's own window", async () => {
		await sleep(WINDOW_MS + 50);
		assert.equal(await readsFrom(t.db), t.replicas[0]);
		await writesTo(t.db);
		assert.equal(await readsFrom(t.db), t.primary);
		// A session is a different caller: the client's window does not apply to it.
		assert.equal(await readsFrom(t.db.session()), t.replicas[0]);
	});

	it("without readYourWritesMs, reads go to replicas right after a write", async () => {
		const plain = await started(1);
		try {
			await writesTo(plain.db);
			assert.equal(await readsFrom(plain.db), plain.replicas[0]);
		} finally {
			await plain.db.close();
		}
	});
});

describe("postgres: a replica that is down", () => {
	let proxy: TcpProxy;
	let primary: string;
	let replica: string;
	let db: SqlClient;

	before(async () => {
		await requireService("postgres");
		proxy = await TcpProxy.start(server.port, server.host);
		primary = appName("fo-primary");
		replica = appName("fo-replica");
		proxy.setMode("refuse");
		db = createPostgresClient({
			primary: serverOptions(primary),
			replicas: [serverOptions(replica, { port: proxy.port })],
			pool: { max: 2, acquireTimeoutMs: 5_000 },
		});
	});

	after(async () => {
		await db?.close();
		await proxy?.close();
	});

	it("a read waiting for it moves to the primary as soon as its connection fails, not at its deadline", async () => {
		const started = performance.now();
		assert.equal(await readsFrom(db), primary);
		assert.ok(performance.now() - started < 1_000, `took ${performance.now() - started} ms`);
	});

	it("is skipped while down: reads go to the primary without waiting", async () => {
		for (let i = 0; i < 3; i++) {
			const started = performance.now();
			assert.equal(await readsFrom(db), primary);
			assert.ok(performance.now() - started < 200);
		}
	});

	it("an explicit route: 'replica' still goes to it", async () => {
		await assert.rejects(db.query("SELECT 1", [], { route: "replica", signal: AbortSignal.timeout(300) }), { code: "ACQUIRE_ABORTED" });
	});

	it("takes reads again once it is back, found by the background probe", async () => {
		proxy.setMode("pass");
		assert.ok(await eventually(async () => (await readsFrom(db)) === replica, 3_000, 100));
	});

	it("going down under a running client (every connection cut) moves reads to the primary at once", async () => {
		proxy.setMode("refuse");
		proxy.cutAll();
		// Once the client has seen its sockets close (a statement sent before that fails with CONNECTION_LOST):
		assert.ok(await eventually(() => db.stats().replicas[0].total === 0, 1_000));
		const started = performance.now();
		assert.equal(await readsFrom(db), primary);
		assert.ok(performance.now() - started < 200);
	});
});

describe("postgres: a replica whose host vanishes (connections die, new connects hang)", () => {
	let proxy: TcpProxy;
	let primary: string;
	let replica: string;
	let db: SqlClient;

	before(async () => {
		await requireService("postgres");
		proxy = await TcpProxy.start(server.port, server.host);
		primary = appName("gone-primary");
		replica = appName("gone-replica");
		db = createPostgresClient({
			primary: serverOptions(primary),
			replicas: [serverOptions(replica, { port: proxy.port })],
			pool: { max: 2, createTimeoutMs: 5_000 },
		});
		// A connection to the replica, so that reads go there (not min: the pool would keep reconnecting after the cut).
		await db.query("SELECT 1", [], { route: "replica" });
	});

	after(async () => {
		await db?.close();
		await proxy?.close();
	});

	it("is down as soon as its last connection dies: reads go to the primary without waiting out a connect", async () => {
		assert.equal(await readsFrom(db), replica);
		proxy.setMode("stall");
		proxy.cutAll();
		assert.ok(await eventually(() => db.stats().replicas[0].total === 0, 1_000));
		const started = performance.now();
		assert.equal(await readsFrom(db), primary);
		assert.ok(performance.now() - started < 200, `took ${performance.now() - started} ms`);
	});
});

describe("postgres: routing without replicas", () => {
	it("everything goes to the primary, including route: 'replica'", async () => {
		await requireService("postgres");
		const primary = appName("alone");
		const db = createPostgresClient({ primary: serverOptions(primary) });
		try {
			assert.equal(await readsFrom(db), primary);
			assert.equal(await readsFrom(db, `SELECT ${WHERE}`, { route: "replica" }), primary);
		} finally {
			await db.close();
		}
	});
});

describe("postgres: what a read-only replica would refuse stays on the primary", () => {
	// The "replica" is the local server with default_transaction_read_only=on, which, like a hot standby,
	// refuses a locking read or a sequence call (25006): a statement routed there by mistake fails.
	const table = "lg_pg_routing_read_only";
	const sequence = "lg_pg_routing_read_only_seq";
	let a: pg.Client;
	let db: SqlClient;

	before(async () => {
		await requireService("postgres");
		a = await admin();
		await a.query(`DROP TABLE IF EXISTS ${table}`);
		await a.query(`CREATE TABLE ${table} (id int PRIMARY KEY, v int)`);
		await a.query(`INSERT INTO ${table} VALUES (1, 1)`);
		await a.query(`DROP SEQUENCE IF EXISTS ${sequence}`);
		await a.query(`CREATE SEQUENCE ${sequence}`);
		db = createPostgresClient({
			primary: serverOptions(appName("ro-primary")),
			replicas: [serverOptions(appName("ro-replica"), { sessionParameters: { default_transaction_read_only: "on" } })],
			pool: { max: 2, min: 1 },
		});
		await db.start();
	});

	after(async () => {
		await db?.close();
		await a?.query(`DROP TABLE IF EXISTS ${table}`);
		await a?.query(`DROP SEQUENCE IF EXISTS ${sequence}`);
		await a?.end();
	});

	it("the set-up is sound: a plain read goes to the replica, a locking read to the primary", async () => {
		const before = db.stats().routed.replica;
		await db.query(`SELECT * FROM ${table}`);
		assert.equal(db.stats().routed.replica, before + 1);
		await db.query(`SELECT * FROM ${table} FOR UPDATE`);
		assert.equal(db.stats().routed.replica, before + 1);
	});

	it("a locking clause after a `--` comment ended by a carriage return (PostgreSQL ends -- comments at \\r)", async () => {
		const sql = `SELECT id FROM ${table} WHERE id = 1 -- lock it\rFOR UPDATE`;
		// The server reads it as a locking read: a read-only transaction refuses it.
		await assert.rejects(a.query(`BEGIN READ ONLY; ${sql}`), /read-only transaction/);
		await a.query("ROLLBACK");
		assert.deepEqual(await db.query(sql), [{ id: 1 }]);
	});

	it("a quoted function name, a block comment, then `(`: nextval is a call", async () => {
		const rows = (await db.query(`SELECT "nextval"/* the next id */('${sequence}') AS n`)) as { n: string }[];
		assert.equal(rows.length, 1);
	});

	it("a quoted function name, a line comment, then `(`: nextval is a call", async () => {
		const rows = (await db.query(`SELECT "nextval" -- the next id\n('${sequence}') AS n`)) as { n: string }[];
		assert.equal(rows.length, 1);
	});
});

describe("postgres: a replica whose first connect is pending", () => {
	let proxy: TcpProxy;
	let db: SqlClient;
	const primary = appName("pending-primary");
	const replica = appName("pending-replica");

	before(async () => {
		await requireService("postgres");
		proxy = await TcpProxy.start(server.port, server.host);
		// Accepts TCP, never answers: its first connect hangs until createTimeoutMs.
		proxy.setMode("stall");
		db = createPostgresClient({
			primary: serverOptions(primary),
			replicas: [serverOptions(replica, { port: proxy.port })],
			pool: { max: 2, createTimeoutMs: 3_000 },
		});
	});

	after(async () => {
		await db?.close();
		await proxy?.close();
	});

	it("gets no reads while its first connection is not ready: they go to the primary at once", async () => {
		const started = performance.now();
		for (let i = 0; i < 3; i++) assert.equal(await readsFrom(db), primary);
		assert.ok(performance.now() - started < 1_000, `took ${Math.round(performance.now() - started)} ms`);
		// The first read started a connection to it in the background.
		assert.ok(db.stats().replicas[0].creating + db.stats().replicas[0].total >= 1, JSON.stringify(db.stats().replicas[0]));
	});

	it("takes reads once a connection to it is ready", async () => {
		proxy.setMode("pass");
		proxy.cutAll();
		assert.ok(await eventually(async () => (await readsFrom(db)) === replica, 8_000));
	});
});
