/**
 * Connecting to PostgreSQL as users copy it from libpq and pg: errors no retry fixes fail at once
 * and say what to fix, sslmode means what libpq means, fields and URL parameters not understood
 * are refused with where their setting goes.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type pg from "pg";
import { resolveServer } from "../../src/adapters/postgres/config.ts";
import { createPostgresClient } from "../../src/adapters/postgres/index.ts";
import type { SqlClient } from "../../src/adapters/sql/types.ts";
import { type ConfigError, ErrorCode } from "../../src/core/errors.ts";
import { requireService } from "../support/services.ts";
import { admin, appName, server, serverOptions } from "./helpers.ts";

const SECRET = "pg-S3cret-never-shown";
const ROLE = "lg_pg_connect_role";

describe("postgres: connect errors no retry can fix fail at once", () => {
	let a: pg.Client;

	before(async () => {
		await requireService("postgres");
		a = await admin();
		await a.query(`DROP ROLE IF EXISTS ${ROLE}`);
		await a.query(`CREATE ROLE ${ROLE} LOGIN PASSWORD '${SECRET}'`);
	});

	after(async () => {
		await a?.query(`DROP ROLE IF EXISTS ${ROLE}`);
		await a?.end();
	});

	const failsAtOnce = async (db: SqlClient, message: RegExp) => {
		const started = performance.now();
		try {
			const error = await db.query("SELECT 1").then(
				() => assert.fail("expected a failure"),
				(e: Error & { code?: string; cause?: Error & { code?: string } }) => e,
			);
			assert.ok(performance.now() - started < 2_000, `failed after ${Math.round(performance.now() - started)} ms`);
			assert.equal(error.code, ErrorCode.CREATE_FAILED, error.message);
			assert.equal(error.cause?.code, ErrorCode.CONFIG_INVALID);
			assert.match(String(error.cause?.message), message);
			assert.ok(!String(error.message).includes(SECRET) && !String(error.cause?.message).includes(SECRET));
		} finally {
			await db.close();
		}
	};

	it("an unknown database", async () => {
		await failsAtOnce(
			createPostgresClient({ primary: serverOptions(appName("nodb"), { database: "lg_no_such_db" }), pool: { acquireTimeoutMs: 10_000 } }),
			/lg_no_such_db.*create the database or fix its name/,
		);
	});

	it("an unknown role", async () => {
		await failsAtOnce(
			createPostgresClient({ primary: serverOptions(appName("norole"), { user: "lg_no_such_role" }), pool: { acquireTimeoutMs: 10_000 } }),
			/check that the role exists|password authentication failed/,
		);
	});

	it("sslmode=require against a server without TLS", async () => {
		await failsAtOnce(
			createPostgresClient({
				primary: `postgres://${server.user}@${server.host}:${server.port}/${server.database}?sslmode=require`,
				pool: { acquireTimeoutMs: 10_000 },
			}),
			/the server has no TLS/,
		);
	});
});

describe("postgres: sslmode as libpq means it", () => {
	before(() => requireService("postgres"));

	it("prefer tries TLS and falls back to a plain connection only because this server has none", async () => {
		const db = createPostgresClient({ primary: `postgres://${server.user}@${server.host}:${server.port}/${server.database}?sslmode=prefer` });
		try {
			assert.deepEqual(await db.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", [], { fetch: "one" }), { ssl: false });
		} finally {
			await db.close();
		}
		const resolved = resolveServer({ ...serverOptions("x"), sslmode: "prefer" }, "primary");
		assert.deepEqual([resolved.ssl, resolved.sslFallback], [{ rejectUnauthorized: false }, true]);
	});

	it("verify-ca checks the certificate chain but not the host name; verify-full checks both", () => {
		const ca = resolveServer("postgres://u@db.example/app?sslmode=verify-ca", "primary");
		const tls = ca.ssl as { rejectUnauthorized: boolean; checkServerIdentity?: (host: string, cert: unknown) => Error | undefined };
		assert.equal(tls.rejectUnauthorized, true);
		assert.equal(tls.checkServerIdentity?.("db.example", { subject: { CN: "other.example" } }), undefined);
		const full = resolveServer("postgres://u@db.example/app?sslmode=verify-full", "primary").ssl as { checkServerIdentity?: unknown };
		assert.equal(full.checkServerIdentity, undefined);
		assert.equal(ca.sslFallback, false);
	});
});

describe("postgres: server fields and URL parameters not understood are refused", () => {
	it("an unknown field is CONFIG_INVALID naming it, with the field to use for pg's and libpq's spellings", () => {
		assert.throws(
			() => resolveServer({ host: "h", dbname: "app", connectionTimeoutMillis: 5_000, colour: "blue" } as never, "primary"),
			(error: ConfigError) => {
				const text = error.problems.map((p) => `${p.path}: ${p.message}`).join("\n");
				assert.match(text, /primary\.dbname: unknown field; use database/);
				assert.match(text, /primary\.connectionTimeoutMillis: unknown field; use the pool's createTimeoutMs/);
				assert.match(text, /primary\.colour: unknown field; known: url, host/);
				return true;
			},
		);
	});

	it("connect_timeout in a URL is refused with a hint (createTimeoutMs), never silently ignored, and never quotes the password", () => {
		assert.throws(
			() => resolveServer(`postgres://u:${SECRET}@h/db?connect_timeout=10`, "primary"),
			(error: ConfigError) => {
				assert.match(error.message, /unsupported URL parameter "connect_timeout": set the pool's createTimeoutMs/);
				assert.ok(!error.message.includes(SECRET));
				return true;
			},
		);
	});
});
