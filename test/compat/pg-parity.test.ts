/**
 * `lifeguard/compat/pg` side by side with the real `pg.Pool` on the real PostgreSQL: each
 * behaviour runs against both and both must pass the same assertions. Differences on purpose
 * are in pg-safety.test.ts (and docs/migrating.md).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createRequire } from "node:module";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import pg from "pg";
import QueryStream from "pg-query-stream";
import * as compat from "../../src/compat/pg.ts";
import { admin, appName, server } from "../postgres/helpers.ts";
import { requireService } from "../support/services.ts";
import { TcpProxy } from "../support/tcp-proxy.ts";
import { waitFor } from "../support/wait.ts";

/** pg-cursor ships no typings: what the tests use of it. */
interface CursorLike extends pg.Submittable {
	read(rows: number): Promise<{ n: number }[]>;
	close(): Promise<void>;
}
const Cursor = createRequire(import.meta.url)("pg-cursor") as new (text: string, values?: unknown[]) => CursorLike;

type AnyPool = compat.Pool;
type MakePool = (config?: compat.PoolConfig) => AnyPool;

const implementations: [string, MakePool][] = [
	["pg.Pool", (config) => new pg.Pool(config as pg.PoolConfig) as unknown as AnyPool],
	["compat", (config) => new compat.Pool(config)],
];

function both(behaviour: string, test: (make: MakePool, label: string) => Promise<void>): void {
	for (const [label, make] of implementations) it(`${behaviour} [${label}]`, () => test(make, label));
}

function config(extra: compat.PoolConfig = {}): compat.PoolConfig {
	return { host: server.host, port: server.port, user: server.user, database: server.database, application_name: appName("compat-pg"), ...extra };
}

async function pidOf(client: pg.PoolClient): Promise<number> {
	return (await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0].pid;
}

function counters(pool: AnyPool) {
	return { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount };
}

let adminClient: pg.Client;

before(async () => {
	await requireService("postgres");
	adminClient = await admin();
	await adminClient.query("CREATE TABLE IF NOT EXISTS compat_pg_items (id int PRIMARY KEY, label text)");
});

after(async () => {
	await adminClient.query("DROP TABLE IF EXISTS compat_pg_items");
	await adminClient.end();
});

describe("options and defaults", () => {
	both("pool.options carries pg-pool's defaults and hides the password", async (make) => {
		const pool = make(config({ password: "s3cret" }));
		assert.equal(pool.options.max, 10);
		assert.equal(pool.options.min, 0);
		assert.equal(pool.options.idleTimeoutMillis, 10_000);
		assert.equal(pool.options.maxUses, Number.POSITIVE_INFINITY);
		assert.equal(pool.options.maxLifetimeSeconds, 0);
		assert.equal(pool.options.allowExitOnIdle, false);
		assert.equal(pool.options.password, "s3cret");
		assert.ok(!Object.keys(pool.options).includes("password"));
		assert.ok(!JSON.stringify(pool.options).includes("s3cret"));
		await pool.end();
	});

	both("poolSize is read as max", async (make) => {
		const pool = make(config({ poolSize: 3 }));
		assert.equal(pool.options.max, 3);
		await pool.end();
	});

	both("a client option (statement_timeout) reaches every client", async (make) => {
		const pool = make(config({ statement_timeout: 1234 }));
		const { rows } = await pool.query("SHOW statement_timeout");
		assert.equal(rows[0].statement_timeout, "1234ms");
		await pool.end();
	});
});

describe("connect and release", () => {
	both("connect() resolves a client with release(); the counters follow", async (make) => {
		const pool = make(config({ max: 2 }));
		assert.deepEqual(counters(pool), { total: 0, idle: 0, waiting: 0 });
		const client = await pool.connect();
		assert.equal(typeof client.release, "function");
		assert.deepEqual(counters(pool), { total: 1, idle: 0, waiting: 0 });
		client.release();
		assert.deepEqual(counters(pool), { total: 1, idle: 1, waiting: 0 });
		const again = await pool.connect();
		assert.equal(again, client, "the idle client is reused");
		again.release();
		await pool.end();
	});

	both("connect(callback) passes (err, client, release)", async (make) => {
		const pool = make(config());
		const [client, release] = await new Promise<[pg.PoolClient, (e?: Error | boolean) => void]>((resolve, reject) =>
			pool.connect((err, c, done) => (err ? reject(err) : resolve([c as pg.PoolClient, done]))),
		);
		assert.equal((await client.query("SELECT 1 AS one")).rows[0].one, 1);
		assert.equal(release, client.release);
		release();
		await pool.end();
	});

	both("the most recently released idle client is lent first", async (make) => {
		const pool = make(config({ max: 3 }));
		const a = await pool.connect();
		const b = await pool.connect();
		a.release();
		b.release();
		const next = await pool.connect();
		assert.equal(next, b);
		next.release();
		await pool.end();
	});

	both("release() twice throws pg-pool's error", async (make) => {
		const pool = make(config());
		const client = await pool.connect();
		client.release();
		assert.throws(() => client.release(), { message: "Release called on client which has already been released to the pool." });
		await pool.end();
	});

	both("release(true) and release(err) close the client; the next connect gets a new one", async (make) => {
		const pool = make(config());
		const removed: unknown[] = [];
		pool.on("remove", (c) => removed.push(c));
		const first = await pool.connect();
		const firstPid = await pidOf(first);
		first.release(true);
		assert.equal(pool.totalCount, 0);
		const second = await pool.connect();
		assert.notEqual(await pidOf(second), firstPid);
		second.release(new Error("broken"));
		assert.equal(pool.totalCount, 0);
		await waitFor("removed.length === 2", () => removed.length === 2);
		assert.deepEqual(removed, [first, second]);
		await pool.end();
	});

	both("events: connect and acquire on a new client's checkout, release with the error, remove once closed", async (make) => {
		const pool = make(config());
		const seen: string[] = [];
		pool.on("connect", () => seen.push("connect"));
		pool.on("acquire", () => seen.push("acquire"));
		pool.on("release", (err) => seen.push(`release:${err === undefined ? "-" : String(err)}`));
		pool.on("remove", () => seen.push("remove"));
		const client = await pool.connect();
		client.release();
		const again = await pool.connect();
		again.release(true);
		await waitFor("seen.includes('remove')", () => seen.includes("remove"));
		assert.deepEqual(seen, ["connect", "acquire", "release:-", "acquire", "release:true", "remove"]);
		await pool.end();
	});

	both("a caller waits while max clients are out (waitingCount) and gets the one released", async (make) => {
		const pool = make(config({ max: 1 }));
		const holder = await pool.connect();
		const waiting = pool.connect();
		await sleep(10);
		assert.deepEqual(counters(pool), { total: 1, idle: 0, waiting: 1 });
		holder.release();
		const client = await waiting;
		assert.equal(client, holder);
		assert.equal(pool.waitingCount, 0);
		client.release();
		await pool.end();
	});

	both("connect(callback) answers after connect() returns, for an idle client too; a queued caller gets the client inside release()", async (make) => {
		const pool = make(config({ max: 1 }));
		(await pool.connect()).release();
		let returned = false;
		const holder = await new Promise<pg.PoolClient>((resolve, reject) => {
			pool.connect((error, client) => {
				if (error || client === undefined) return reject(error);
				assert.equal(returned, true, "called back before connect() returned");
				resolve(client);
			});
			returned = true;
		});
		let handed = false;
		pool.connect((error, client) => {
			assert.ifError(error);
			handed = true;
			client?.release();
		});
		await sleep(10);
		assert.equal(handed, false);
		holder.release();
		assert.equal(handed, true, "handed over inside release(), as pg-pool does");
		await pool.end();
	});

	both("callers queued behind a full pool are served first come, first served", async (make) => {
		const pool = make(config({ max: 1 }));
		const holder = await pool.connect();
		const order: number[] = [];
		const waits = [1, 2, 3].map((n) =>
			pool.connect().then((c) => {
				order.push(n);
				c.release();
			}),
		);
		await sleep(10);
		holder.release();
		await Promise.all(waits);
		assert.deepEqual(order, [1, 2, 3]);
		await pool.end();
	});
});

describe("timeouts and failures", () => {
	both("connectionTimeoutMillis: a queued caller fails with 'timeout exceeded when trying to connect' after the timeout", async (make) => {
		const pool = make(config({ max: 1, connectionTimeoutMillis: 100 }));
		const holder = await pool.connect();
		const started = performance.now();
		await assert.rejects(pool.connect(), { message: "timeout exceeded when trying to connect" });
		const waited = performance.now() - started;
		assert.ok(waited >= 95 && waited < 600, `waited ${waited} ms`);
		assert.equal(pool.waitingCount, 0);
		holder.release();
		await pool.end();
	});

	both(
		"connectionTimeoutMillis: a server that accepts and never answers fails the connect with 'Connection terminated due to connection timeout'",
		async (make) => {
			const sockets = new Set<net.Socket>();
			const silent = net.createServer((socket) => sockets.add(socket));
			await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
			const port = (silent.address() as net.AddressInfo).port;
			const pool = make(config({ host: "127.0.0.1", port, connectionTimeoutMillis: 150 }));
			try {
				const started = performance.now();
				await assert.rejects(pool.connect(), { message: "Connection terminated due to connection timeout" });
				const waited = performance.now() - started;
				assert.ok(waited >= 140 && waited < 900, `waited ${waited} ms`);
				assert.equal(pool.totalCount, 0);
			} finally {
				await pool.end();
				for (const s of sockets) s.destroy();
				silent.close();
			}
		},
	);

	both("a refused connection fails the connect at once with the driver's error", async (make) => {
		const closed = net.createServer();
		await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
		const port = (closed.address() as net.AddressInfo).port;
		await new Promise<void>((resolve) => closed.close(() => resolve()));
		const pool = make(config({ host: "127.0.0.1", port }));
		const started = performance.now();
		await assert.rejects(pool.connect(), (error: NodeJS.ErrnoException) => error.code === "ECONNREFUSED");
		await assert.rejects(pool.query("SELECT 1"), (error: NodeJS.ErrnoException) => error.code === "ECONNREFUSED");
		assert.ok(performance.now() - started < 1_000);
		assert.equal(pool.totalCount, 0);
		await pool.end();
	});

	both("with max 1 and a refusing server, every one of three concurrent callers fails with the driver's error", async (make) => {
		const proxy = await TcpProxy.start(server.port, server.host);
		proxy.setMode("refuse");
		const pool = make(config({ host: "127.0.0.1", port: proxy.port, max: 1 }));
		try {
			const results = await Promise.allSettled([pool.connect(), pool.connect(), pool.connect()]);
			assert.deepEqual(
				results.map((r) => r.status),
				["rejected", "rejected", "rejected"],
			);
		} finally {
			await pool.end();
			await proxy.close();
		}
	});

	both(
		"a caller queued behind a full pool fails with the driver's error when the client it waits for is closed and its replacement cannot connect",
		async (make) => {
			const proxy = await TcpProxy.start(server.port, server.host);
			const pool = make(config({ host: "127.0.0.1", port: proxy.port, max: 1 }));
			try {
				const holder = await pool.connect();
				const queued = pool.connect();
				await sleep(20);
				proxy.setMode("refuse");
				holder.release(new Error("compat broken client"));
				await assert.rejects(
					queued,
					(error: Error & { code?: string }) => error.code === "ECONNRESET" || error.code === "ECONNREFUSED" || /terminated/.test(error.message),
				);
			} finally {
				await pool.end();
				await proxy.close();
			}
		},
	);

	both("a wrong database fails the connect at once with PostgreSQL's error (3D000)", async (make) => {
		const pool = make(config({ database: "compat_no_such_db" }));
		await assert.rejects(pool.connect(), (error: { code?: string }) => error.code === "3D000");
		await pool.end();
	});

	both("an idle client ended by the server is emitted as 'error' on the pool with err.client, and leaves the pool", async (make) => {
		const cfg = config();
		const pool = make(cfg);
		const errors: [Error & { client?: unknown }, unknown][] = [];
		pool.on("error", (err, client) => errors.push([err, client]));
		const client = await pool.connect();
		client.release();
		assert.equal(pool.idleCount, 1);
		await adminClient.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", [cfg.application_name]);
		await waitFor("errors.length === 1", () => errors.length === 1);
		assert.equal(errors[0][1], client);
		assert.equal(errors[0][0].client, client);
		assert.equal(pool.totalCount, 0);
		assert.equal((await pool.query("SELECT 1 AS one")).rows[0].one, 1, "the pool connects anew");
		await pool.end();
	});
});

describe("query", () => {
	both("query(text) and query(text, values) resolve pg's result", async (make) => {
		const pool = make(config());
		assert.equal((await pool.query("SELECT 1 AS one")).rows[0].one, 1);
		assert.equal((await pool.query("SELECT $1::int + 1 AS n", [41])).rows[0].n, 42);
		assert.equal(pool.idleCount, 1, "the client went back");
		await pool.end();
	});

	both("query(config) takes text, values, rowMode and name", async (make) => {
		const pool = make(config());
		const result = await pool.query({ text: "SELECT $1::text AS a, 2 AS b", values: ["x"], rowMode: "array", name: "compat_pg_named" } as pg.QueryArrayConfig);
		assert.deepEqual(result.rows, [["x", 2]]);
		await pool.end();
	});

	both("query(text, callback) and query(text, values, callback)", async (make) => {
		const pool = make(config());
		const one = await new Promise<pg.QueryResult>((resolve, reject) => pool.query("SELECT 1 AS one", (err, res) => (err ? reject(err) : resolve(res!))));
		assert.equal(one.rows[0].one, 1);
		const two = await new Promise<pg.QueryResult>((resolve, reject) =>
			pool.query("SELECT $1::int AS n", [2], (err, res) => (err ? reject(err) : resolve(res!))),
		);
		assert.equal(two.rows[0].n, 2);
		await pool.end();
	});

	both("a failing statement rejects with PostgreSQL's error and the client is closed, as pg-pool releases it with the error", async (make) => {
		const pool = make(config());
		await assert.rejects(pool.query("SELECT * FROM compat_pg_missing_table"), (error: { code?: string }) => error.code === "42P01");
		assert.equal(pool.totalCount, 0);
		await pool.end();
	});

	both("query(function) calls that function back with pg-pool's refusal", async (make) => {
		const pool = make(config());
		const error = await new Promise<Error>((resolve) => (pool.query as unknown as (f: (e: Error) => void) => void)((e) => resolve(e)));
		assert.equal(error.message, "Passing a function as the first parameter to pool.query is not supported");
		await pool.end();
	});

	both("query() with a pg-query-stream streams the rows and settles when the stream ends", async (make) => {
		const pool = make(config());
		const stream = new QueryStream("SELECT generate_series(1, 250) AS n", [], { batchSize: 50 });
		const done = pool.query(stream as unknown as pg.Submittable);
		const rows: number[] = [];
		for await (const row of stream) rows.push((row as { n: number }).n);
		await done;
		assert.equal(rows.length, 250);
		assert.equal(rows[249], 250);
		await waitFor("pool.idleCount === 1", () => pool.idleCount === 1);
		await pool.end();
	});

	both("a pg-cursor on a checked-out client reads in batches", async (make) => {
		const pool = make(config());
		const client = await pool.connect();
		const cursor = client.query(new Cursor("SELECT generate_series(1, 10) AS n"));
		const first = await cursor.read(4);
		const second = await cursor.read(100);
		assert.deepEqual(
			first.map((r) => r.n),
			[1, 2, 3, 4],
		);
		assert.equal(second.length, 6);
		await cursor.close();
		client.release();
		await pool.end();
	});

	both("a transaction on a checked-out client commits", async (make, label) => {
		const pool = make(config());
		const id = label === "compat" ? 2 : 1;
		const client = await pool.connect();
		await client.query("BEGIN");
		await client.query("INSERT INTO compat_pg_items (id, label) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET label = $2", [id, label]);
		await client.query("COMMIT");
		client.release();
		assert.equal((await pool.query("SELECT label FROM compat_pg_items WHERE id = $1", [id])).rows[0].label, label);
		await pool.end();
	});
});

describe("client life: idle timeout, min, maxUses, maxLifetimeSeconds", () => {
	both("idleTimeoutMillis closes an idle client", async (make) => {
		const pool = make(config({ idleTimeoutMillis: 50 }));
		(await pool.connect()).release();
		assert.equal(pool.totalCount, 1);
		await waitFor("pool.totalCount === 0", () => pool.totalCount === 0, 1_000);
		await pool.end();
	});

	both("idle clients are not closed below min", async (make) => {
		const pool = make(config({ idleTimeoutMillis: 50, min: 1 }));
		const a = await pool.connect();
		const b = await pool.connect();
		a.release();
		b.release();
		await waitFor("pool.totalCount === 1", () => pool.totalCount === 1, 1_000);
		await sleep(150);
		assert.equal(pool.totalCount, 1);
		await pool.end();
	});

	both("idleTimeoutMillis 0 keeps idle clients", async (make) => {
		const pool = make(config({ idleTimeoutMillis: 0 }));
		(await pool.connect()).release();
		await sleep(100);
		assert.equal(pool.idleCount, 1);
		await pool.end();
	});

	both("maxUses: a client is closed after that many checkouts", async (make) => {
		const pool = make(config({ maxUses: 2 }));
		const first = await pool.connect();
		const pid = await pidOf(first);
		first.release();
		const second = await pool.connect();
		assert.equal(await pidOf(second), pid);
		second.release();
		assert.equal(pool.totalCount, 0);
		const third = await pool.connect();
		assert.notEqual(await pidOf(third), pid);
		third.release();
		await pool.end();
	});

	both("maxLifetimeSeconds: a checked-out client past its lifetime counts in expiredCount and is closed on release", async (make) => {
		const pool = make(config({ maxLifetimeSeconds: 1 }));
		const client = await pool.connect();
		assert.equal(pool.expiredCount, 0);
		await sleep(1_100);
		assert.equal(pool.expiredCount, 1);
		client.release();
		assert.equal(pool.totalCount, 0);
		assert.equal(pool.expiredCount, 0);
		await pool.end();
	});
});

describe("hooks: Client, onConnect, verify, log, Promise", () => {
	both("Client: the pool creates its clients with the given class", async (make) => {
		let made = 0;
		class CountingClient extends pg.Client {
			constructor(c: pg.ClientConfig) {
				super(c);
				made++;
			}
		}
		const pool = make(config({ Client: CountingClient as unknown as compat.ClientConstructor }));
		const client = await pool.connect();
		assert.ok(client instanceof CountingClient);
		assert.equal(made, 1);
		client.release();
		await pool.end();
	});

	both("onConnect runs once per new client before its first checkout; its rejection fails that checkout", async (make) => {
		let calls = 0;
		const pool = make(
			config({
				onConnect: async (client) => {
					calls++;
					if (calls === 1) throw new Error("compat onConnect refused");
					await client.query("SET application_name = 'compat_onconnect'");
				},
			}),
		);
		await assert.rejects(pool.connect(), { message: "compat onConnect refused" });
		const client = await pool.connect();
		assert.equal((await client.query("SHOW application_name")).rows[0].application_name, "compat_onconnect");
		client.release();
		(await pool.connect()).release();
		assert.equal(calls, 2);
		await pool.end();
	});

	both("verify checks each new client once; its error fails the checkout and closes the client", async (make) => {
		let calls = 0;
		const pool = make(
			config({
				verify: (_client, done) => {
					calls++;
					done(calls === 1 ? new Error("compat verify refused") : undefined);
				},
			}),
		);
		await assert.rejects(pool.connect(), { message: "compat verify refused" });
		assert.equal(pool.totalCount, 0);
		(await pool.connect()).release();
		(await pool.connect()).release();
		assert.equal(calls, 2);
		await pool.end();
	});

	both("log receives the pool's debug messages", async (make) => {
		const messages: string[] = [];
		const pool = make(config({ log: (...m: unknown[]) => messages.push(String(m[0])) }));
		await pool.query("SELECT 1");
		await pool.end();
		assert.ok(messages.includes("connecting new client"));
		assert.ok(messages.includes("dispatching query"));
	});

	both("Promise: the promises the pool returns are of the given class", async (make) => {
		class TaggedPromise<T> extends Promise<T> {}
		const pool = make(config({ Promise: TaggedPromise as unknown as PromiseConstructorLike }));
		const connecting = pool.connect();
		assert.ok(connecting instanceof TaggedPromise);
		(await connecting).release();
		const ending = pool.end();
		assert.ok(ending instanceof TaggedPromise);
		await ending;
	});
});

describe("end", () => {
	both("end() closes idle clients, sets ending then ended, and refuses later work with pg-pool's messages", async (make) => {
		const pool = make(config());
		const removed: unknown[] = [];
		pool.on("remove", (c) => removed.push(c));
		(await pool.connect()).release();
		const ending = pool.end();
		assert.equal(pool.ending, true);
		await ending;
		assert.equal(pool.ended, true);
		assert.equal(pool.totalCount, 0);
		await waitFor("removed.length === 1", () => removed.length === 1);
		await assert.rejects(pool.connect(), { message: "Cannot use a pool after calling end on the pool" });
		await assert.rejects(pool.query("SELECT 1"), { message: "Cannot use a pool after calling end on the pool" });
		await assert.rejects(pool.end(), { message: "Called end on pool more than once" });
	});

	both("end() waits for a checked-out client, which is closed when released", async (make) => {
		const pool = make(config());
		const client = await pool.connect();
		let ended = false;
		const ending = pool.end().then(() => (ended = true));
		await sleep(50);
		assert.equal(ended, false);
		assert.equal((await client.query("SELECT 1 AS one")).rows[0].one, 1, "the client still works");
		client.release();
		await ending;
		assert.equal(pool.totalCount, 0);
	});

	both("end(callback)", async (make) => {
		const pool = make(config());
		await pool.query("SELECT 1");
		await new Promise<void>((resolve, reject) => pool.end((err?: Error) => (err ? reject(err) : resolve())));
		assert.equal(pool.ended, true);
	});
});

describe("allowExitOnIdle", () => {
	const run = promisify(execFile);
	const fixture = new URL("./fixtures/pg-exit-on-idle.ts", import.meta.url).pathname;
	for (const impl of ["pg", "compat"]) {
		it(`a process whose only pool is idle exits without end() [${impl}]`, async () => {
			const { stdout } = await run(process.execPath, [fixture, impl], { timeout: 15_000 });
			assert.match(stdout, /queried 1/);
		});
	}
});
