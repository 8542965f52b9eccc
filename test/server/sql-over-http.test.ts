/**
 * SQL over HTTP end to end: the service as a child process in front of the real PostgreSQL and
 * an SQLite file, driven over HTTP like a workflow engine would.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { requireService, services } from "../support/services.ts";
import { type Json, type ServiceProcess, startServiceProcess } from "./service-process.ts";

const PG = "svc_pg";
const LITE = "svc_lite";
const IDLE_MS = 1_500;

describe("SQL over HTTP", () => {
	let service: ServiceProcess;
	let dir: string;

	before(async () => {
		await requireService("postgres");
		dir = mkdtempSync(join(tmpdir(), "lifeguard-sql-http-"));
		const config = join(dir, "lifeguard.yaml");
		const pg = services.postgres;
		writeFileSync(
			config,
			[
				"service:",
				"  notReadyGraceMs: 0",
				"  sessions:",
				`    idleTimeoutMs: ${IDLE_MS}`,
				"    statementTimeoutMs: 10000",
				"pools:",
				`  ${PG}:`,
				"    kind: postgres",
				`    url: postgres://${pg.user}@${pg.host}:${pg.port}/${pg.database}`,
				"    min: 1",
				"    max: 4",
				`  ${LITE}:`,
				"    kind: sqlite",
				`    filename: ${join(dir, "lite.db")}`,
				"    min: 1",
				"    max: 4",
				"",
			].join("\n"),
		);
		service = await startServiceProcess({ args: ["--config", config] });
		for (const [pool, ddl] of [
			[PG, "CREATE TABLE IF NOT EXISTS svc_items (id serial PRIMARY KEY, name text NOT NULL)"],
			[LITE, "CREATE TABLE IF NOT EXISTS svc_items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)"],
		]) {
			assert.equal((await service.request("POST", `/api/v1/pools/${pool}/query`, { sql: ddl, fetch: "none" })).status, 200);
			await service.request("POST", `/api/v1/pools/${pool}/query`, { sql: "DELETE FROM svc_items", fetch: "none" });
		}
	});

	after(async () => {
		await service?.request("POST", `/api/v1/pools/${PG}/query`, { sql: "DROP TABLE IF EXISTS svc_items", fetch: "none" });
		assert.equal(await service?.stop(), 0);
		rmSync(dir, { recursive: true, force: true });
	});

	const open = async (pool: string) => {
		const r = await service.request("POST", `/api/v1/pools/${pool}/sessions`, {});
		assert.equal(r.status, 201, JSON.stringify(r.body));
		return r.body.sessionId as string;
	};
	const exec = (pool: string, id: string, body: Json) => service.request("POST", `/api/v1/pools/${pool}/sessions/${id}/execute`, body);
	const tx = (pool: string, id: string, action: string) => service.request("POST", `/api/v1/pools/${pool}/sessions/${id}/transaction`, { action });
	const count = async (pool: string, name: string) => {
		const p = pool === PG ? "$1" : "?";
		const r = await service.request("POST", `/api/v1/pools/${pool}/query`, {
			sql: `SELECT count(*) AS n FROM svc_items WHERE name = ${p}`,
			params: [name],
			fetch: "one",
		});
		return Number(r.body.row.n);
	};
	const sqlClient = async (pool: string) => {
		const r = await service.request("GET", "/api/v1/admin/connection-pools");
		return r.body.clients.find((c: Json) => c.name === pool);
	};

	for (const pool of [PG, LITE]) {
		const p = (n: number) => (pool === PG ? `$${n}` : "?");
		describe(pool === PG ? "on PostgreSQL" : "on SQLite", () => {
			it("a session commits a transaction: its rows are visible to everyone after COMMIT, not before", async () => {
				const id = await open(pool);
				assert.deepEqual((await tx(pool, id, "begin")).body, { action: "begin", inTransaction: true });
				const ins = await exec(pool, id, { sql: `INSERT INTO svc_items (name) VALUES (${p(1)})`, params: ["committed"], fetch: "none" });
				assert.equal(ins.status, 200);
				assert.equal(ins.body.rowCount, 1);
				assert.equal(typeof ins.body.executionTimeMs, "number");
				if (pool === PG) assert.equal(await count(pool, "committed"), 0, "not visible before COMMIT");
				assert.deepEqual((await tx(pool, id, "commit")).body, { action: "commit", inTransaction: false });
				assert.equal(await count(pool, "committed"), 1);
				assert.equal((await service.request("DELETE", `/api/v1/pools/${pool}/sessions/${id}`)).status, 204);
			});

			it("a rolled-back transaction leaves nothing behind", async () => {
				const id = await open(pool);
				await tx(pool, id, "begin");
				await exec(pool, id, { sql: `INSERT INTO svc_items (name) VALUES (${p(1)})`, params: ["rolled-back"], fetch: "none" });
				const inside = await exec(pool, id, { sql: `SELECT count(*) AS n FROM svc_items WHERE name = ${p(1)}`, params: ["rolled-back"], fetch: "one" });
				assert.equal(Number(inside.body.row.n), 1, "the session sees its own write");
				assert.equal((await tx(pool, id, "rollback")).status, 200);
				assert.equal(await count(pool, "rolled-back"), 0);
				await service.request("DELETE", `/api/v1/pools/${pool}/sessions/${id}`);
			});

			it("returns the fetch modes' shapes and binds parameters (a quote in a value stays a value)", async () => {
				const id = await open(pool);
				const tricky = "x'); DROP TABLE svc_items; --";
				await exec(pool, id, { sql: `INSERT INTO svc_items (name) VALUES (${p(1)}), (${p(2)}), (${p(3)})`, params: [tricky, "m1", "m2"], fetch: "none" });
				const all = await exec(pool, id, {
					sql: `SELECT name FROM svc_items WHERE name IN (${p(1)}, ${p(2)}, ${p(3)}) ORDER BY name`,
					params: [tricky, "m1", "m2"],
				});
				assert.deepEqual(all.body.rows, [{ name: "m1" }, { name: "m2" }, { name: tricky }]);
				assert.equal(all.body.rowCount, 3);
				const many = await exec(pool, id, { sql: "SELECT name FROM svc_items ORDER BY id", fetch: "many", limit: 2 });
				assert.equal(many.body.rows.length, 2);
				assert.equal(many.body.rowCount, 2);
				const none = await exec(pool, id, { sql: `SELECT name FROM svc_items WHERE name = ${p(1)}`, params: ["absent"], fetch: "one" });
				assert.deepEqual({ row: none.body.row, rowCount: none.body.rowCount }, { row: null, rowCount: 0 });
				const deleted = await exec(pool, id, {
					sql: `DELETE FROM svc_items WHERE name IN (${p(1)}, ${p(2)}, ${p(3)})`,
					params: [tricky, "m1", "m2"],
					fetch: "none",
				});
				assert.deepEqual(Object.keys(deleted.body).sort(), ["executionTimeMs", "rowCount"]);
				assert.equal(deleted.body.rowCount, 3);
				await service.request("DELETE", `/api/v1/pools/${pool}/sessions/${id}`);
			});

			it("one-shot queries and batches run on a pooled connection per call", async () => {
				const batch = await service.request("POST", `/api/v1/pools/${pool}/batch`, {
					sql: `INSERT INTO svc_items (name) VALUES (${p(1)})`,
					paramSets: [["b1"], ["b1"], ["b1"]],
				});
				assert.equal(batch.status, 200, JSON.stringify(batch.body));
				assert.equal(batch.body.rowCount, 3);
				assert.equal(await count(pool, "b1"), 3);
			});

			it("an idle session expires: its transaction is rolled back, its connection returned, its id a 404 that says it expired", async () => {
				const id = await open(pool);
				await tx(pool, id, "begin");
				await exec(pool, id, { sql: `INSERT INTO svc_items (name) VALUES (${p(1)})`, params: ["expired"], fetch: "none" });
				await new Promise((resolve) => setTimeout(resolve, IDLE_MS + 700));
				const late = await exec(pool, id, { sql: "SELECT 1" });
				assert.equal(late.status, 404);
				assert.equal(late.body.error.code, "SESSION_NOT_FOUND");
				assert.match(late.body.error.message, /expired after being idle/);
				assert.equal(await count(pool, "expired"), 0);
				const client = await sqlClient(pool);
				assert.equal(client.sql.leases.open, 0);
			});

			it("an unknown or released id is a 404 that says so", async () => {
				const unknown = await exec(pool, "3b241101-e2bb-4255-8caf-4136c566a962", { sql: "SELECT 1" });
				assert.equal(unknown.status, 404);
				assert.match(unknown.body.error.message, /never opened/);
				const id = await open(pool);
				await service.request("DELETE", `/api/v1/pools/${pool}/sessions/${id}`);
				const released = await exec(pool, id, { sql: "SELECT 1" });
				assert.equal(released.status, 404);
				assert.match(released.body.error.message, /released/);
				const other = await exec(pool === PG ? LITE : PG, id, { sql: "SELECT 1" });
				assert.equal(other.status, 404, "a session belongs to its pool");
			});

			it("transaction misuse is a 409 that says what to do", async () => {
				const id = await open(pool);
				const commit = await tx(pool, id, "commit");
				assert.equal(commit.status, 409);
				assert.match(commit.body.error.message, /no transaction is open/);
				await tx(pool, id, "begin");
				const again = await tx(pool, id, "begin");
				assert.equal(again.status, 409);
				assert.match(again.body.error.message, /already open/);
				await service.request("DELETE", `/api/v1/pools/${pool}/sessions/${id}`);
			});

			it("transaction control sent as a statement keeps the session's state true: commit after a ROLLBACK statement is a 409, not a success", async () => {
				const id = await open(pool);
				await tx(pool, id, "begin");
				await exec(pool, id, { sql: `INSERT INTO svc_items (name) VALUES (${p(1)})`, params: ["raw-rollback"], fetch: "none" });
				assert.equal((await exec(pool, id, { sql: "ROLLBACK", fetch: "none" })).status, 200);
				const commit = await tx(pool, id, "commit");
				assert.equal(commit.status, 409, "the write was rolled back: a commit must not report success");
				assert.match(commit.body.error.message, /no transaction is open/);
				assert.equal(await count(pool, "raw-rollback"), 0);

				assert.equal((await exec(pool, id, { sql: "BEGIN", fetch: "none" })).status, 200);
				await exec(pool, id, { sql: `INSERT INTO svc_items (name) VALUES (${p(1)})`, params: ["raw-begin"], fetch: "none" });
				assert.equal((await tx(pool, id, "begin")).status, 409, "a BEGIN statement opened the transaction");
				assert.deepEqual((await tx(pool, id, "commit")).body, { action: "commit", inTransaction: false });
				assert.equal(await count(pool, "raw-begin"), 1);
				await service.request("DELETE", `/api/v1/pools/${pool}/sessions/${id}`);
			});

			it("a statement past its per-call timeout is stopped: 504 QUERY_TIMEOUT, and the pool serves the next call", async () => {
				const sql = pool === PG ? "SELECT pg_sleep(5)" : "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n";
				const t0 = performance.now();
				const r = await service.request("POST", `/api/v1/pools/${pool}/query`, { sql, timeoutMs: 300 });
				assert.equal(r.status, 504, JSON.stringify(r.body));
				assert.equal(r.body.error.code, "QUERY_TIMEOUT");
				assert.ok(performance.now() - t0 < 3_000);
				const next = await service.request("POST", `/api/v1/pools/${pool}/query`, { sql: "SELECT 1 AS one", fetch: "one" });
				assert.equal(Number(next.body.row.one), 1);
			});

			it("a failed statement is a 400 with the server's SQLSTATE where it has one, never a 500", async () => {
				const r = await service.request("POST", `/api/v1/pools/${pool}/query`, { sql: "SELECT * FROM svc_no_such_table" });
				assert.equal(r.status, 400);
				assert.equal(r.body.error.code, "QUERY_FAILED");
				if (pool === PG) assert.equal(r.body.error.sqlState, "42P01");
			});
		});
	}

	describe("PostgreSQL specifics", () => {
		it("a backend killed mid-session (pg_terminate_backend) is a 502 CONNECTION_LOST; the session ends and says why", async () => {
			const id = await open(PG);
			await tx(PG, id, "begin");
			await exec(PG, id, { sql: "INSERT INTO svc_items (name) VALUES ($1)", params: ["killed"], fetch: "none" });
			const pid = (await exec(PG, id, { sql: "SELECT pg_backend_pid() AS pid", fetch: "one" })).body.row.pid;
			const killed = await service.request("POST", `/api/v1/pools/${PG}/query`, { sql: "SELECT pg_terminate_backend($1) AS ok", params: [pid], fetch: "one" });
			assert.equal(killed.body.row.ok, true);
			await new Promise((resolve) => setTimeout(resolve, 100));
			const lost = await exec(PG, id, { sql: "SELECT 1" });
			assert.equal(lost.status, 502, JSON.stringify(lost.body));
			assert.equal(lost.body.error.code, "CONNECTION_LOST");
			const after = await exec(PG, id, { sql: "SELECT 1" });
			assert.equal(after.status, 404);
			assert.match(after.body.error.message, /connection was lost/);
			assert.equal(await count(PG, "killed"), 0, "the uncommitted insert died with the backend");
			const fresh = await open(PG);
			assert.equal((await exec(PG, fresh, { sql: "SELECT 1 AS one", fetch: "one" })).body.row.one, 1);
			await service.request("DELETE", `/api/v1/pools/${PG}/sessions/${fresh}`);
		});

		it("COMMIT of a transaction a failed statement aborted is a 409 saying nothing was committed", async () => {
			const id = await open(PG);
			await tx(PG, id, "begin");
			await exec(PG, id, { sql: "INSERT INTO svc_items (name) VALUES ($1)", params: ["aborted"], fetch: "none" });
			const failed = await exec(PG, id, { sql: "SELECT 1/0" });
			assert.equal(failed.status, 400);
			assert.equal(failed.body.error.sqlState, "22012");
			const commit = await tx(PG, id, "commit");
			assert.equal(commit.status, 409);
			assert.match(commit.body.error.message, /nothing was committed/);
			assert.equal(await count(PG, "aborted"), 0);
			await service.request("DELETE", `/api/v1/pools/${PG}/sessions/${id}`);
		});
	});

	describe("a bounded load test", () => {
		it("64 callers × 10 rounds of sessions, transactions and one-shot queries leave no session, lease or connection in use", async () => {
			const failures: string[] = [];
			await Promise.all(
				Array.from({ length: 64 }, async (_, caller) => {
					const pool = caller % 2 === 0 ? PG : LITE;
					const p = pool === PG ? "$1" : "?";
					for (let round = 0; round < 10; round++) {
						if (round % 2 === 0) {
							const r = await service.request("POST", `/api/v1/pools/${pool}/query`, { sql: `SELECT ${p} AS v`, params: [caller], fetch: "one" });
							if (r.status !== 200 || Number(r.body.row.v) !== caller) failures.push(`query ${r.status}`);
							continue;
						}
						const s = await service.request("POST", `/api/v1/pools/${pool}/sessions`, { acquireTimeoutMs: 20_000 });
						if (s.status !== 201) {
							failures.push(`open ${s.status} ${s.body?.error?.code}`);
							continue;
						}
						const id = s.body.sessionId;
						await tx(pool, id, "begin");
						await exec(pool, id, { sql: `INSERT INTO svc_items (name) VALUES (${p})`, params: ["load"], fetch: "none" });
						const end = await tx(pool, id, round % 4 === 1 ? "commit" : "rollback");
						if (end.status !== 200) failures.push(`end ${end.status}`);
						const del = await service.request("DELETE", `/api/v1/pools/${pool}/sessions/${id}`);
						if (del.status !== 204) failures.push(`delete ${del.status}`);
					}
				}),
			);
			assert.deepEqual(failures, []);
			const admin = await service.request("GET", "/api/v1/admin/connection-pools");
			assert.equal(admin.body.sessions.open, 0);
			for (const name of [PG, LITE]) {
				const client = admin.body.clients.find((c: Json) => c.name === name);
				assert.equal(client.sql.leases.open, 0, `${name} leases`);
				const stats = client.pools[0].stats;
				assert.equal(stats.active, 0, `${name} active`);
				assert.equal(stats.pending, 0, `${name} pending`);
				assert.ok(stats.total <= stats.max, `${name} within max`);
			}
			// 16 callers per pool committed 1 of every 2 sessions: 32 callers × 5 sessions, rounds 1,5,9 commit.
			assert.equal(await count(PG, "load"), 32 * 3);
			assert.equal(await count(LITE, "load"), 32 * 3);
		});
	});

	describe("secrets", () => {
		it("a pool whose server refuses it answers 503 with lifeguard's error, and no response or log holds its password", async () => {
			const secretDir = mkdtempSync(join(tmpdir(), "lifeguard-sql-secret-"));
			const password = "Sup3r-S3cret-Passw0rd";
			const config = join(secretDir, "lifeguard.yaml");
			writeFileSync(
				config,
				`service:\n  notReadyGraceMs: 0\npools:\n  svc_down:\n    kind: postgres\n    url: postgres://svc_user:${password}@127.0.0.1:1/test\n    min: 0\n    max: 2\n    acquireTimeoutMs: 500\n`,
			);
			const down = await startServiceProcess({ args: ["--config", config] });
			try {
				const r = await down.request("POST", "/api/v1/pools/svc_down/query", { sql: "SELECT 1" });
				assert.equal(r.status, 503, JSON.stringify(r.body));
				assert.equal(r.body.error.code, "POOL_TIMEOUT");
				const admin = await down.request("GET", "/api/v1/admin/connection-pools");
				const metrics = await (await fetch(`${down.url}/metrics`, { headers: down.auth() })).text();
				const health = await down.request("GET", "/health/connections");
				const everything = JSON.stringify([r.body, admin.body, health.body]) + metrics + down.stdout() + down.stderr();
				assert.ok(!everything.includes(password), "the password appears nowhere");
			} finally {
				await down.stop();
				rmSync(secretDir, { recursive: true, force: true });
			}
		});
	});
});
