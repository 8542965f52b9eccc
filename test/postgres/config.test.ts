import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { resolveServer } from "../../src/adapters/postgres/config.ts";
import { createPostgresClient, redactUrl } from "../../src/adapters/postgres/index.ts";
import { ErrorCode } from "../../src/core/errors.ts";
import { requireService } from "../support/services.ts";
import { appName, server, serverOptions } from "./helpers.ts";

const SECRET = "s3cret-Pa55word";

/** Every message in an error's cause chain. */
function messages(error: unknown): string {
	const parts: string[] = [];
	for (let e = error as { message?: string; cause?: unknown; input?: unknown } | undefined; e; e = e.cause as typeof e) {
		parts.push(String(e.message), String(e.input ?? ""));
	}
	return parts.join("\n");
}

describe("postgres: connection configuration", () => {
	before(async () => {
		await requireService("postgres");
	});

	it("a postgres:// URL gives host, port, user, password, database, sslmode and application_name", () => {
		const s = resolveServer(`postgresql://app%40corp:${SECRET}@db.example:6543/orders?sslmode=verify-full&application_name=api`, "primary");
		assert.equal(s.host, "db.example");
		assert.equal(s.port, 6543);
		assert.equal(s.user, "app@corp");
		assert.equal(s.password, SECRET);
		assert.equal(s.database, "orders");
		assert.deepEqual(s.ssl, { rejectUnauthorized: true });
		assert.equal(s.applicationName, "api");
	});

	it("fields given beside the URL win over it; a Unix socket directory and IPv6 hosts are understood", () => {
		assert.equal(resolveServer({ url: "postgres://u@a/db", host: "b", database: "other" }, "p").host, "b");
		assert.equal(resolveServer("postgres://u@[::1]:5433/db", "p").host, "::1");
		assert.equal(resolveServer("postgres://u@/db?host=/var/run/postgresql", "p").host, "/var/run/postgresql");
	});

	it("options=-c … and sessionParameters become the startup options, escaped", () => {
		const s = resolveServer({ url: "postgres://u@h/db?options=-c%20search_path%3Dapp", sessionParameters: { application_name_x: "a b" } }, "p");
		assert.equal(s.startupOptions, "-c search_path=app -c application_name_x=a\\ b");
	});

	it("a bad URL is CONFIG_INVALID without the password in the message", () => {
		for (const bad of [`postgres://u:${SECRET}@host:notaport/db`, `mysql://u:${SECRET}@h/db`, `postgres://u:${SECRET}@h/db?sslmode=sometimes`]) {
			const error = (() => {
				try {
					createPostgresClient({ primary: bad });
				} catch (e) {
					return e;
				}
			})();
			assert.equal((error as { code: string }).code, ErrorCode.CONFIG_INVALID, bad);
			assert.ok(!messages(error).includes(SECRET), messages(error));
		}
		assert.equal(redactUrl(`postgres://u:${SECRET}@h:5432/db`), "postgres://***@h:5432/db");
	});

	it("a URL whose password contains `/` never shows the password in CONFIG_INVALID, and says to percent-encode it", () => {
		const secret = "s3cr/et-pa55";
		let message = "";
		try {
			createPostgresClient({ primary: `postgres://app:${secret}@db.example:5432/shop` });
		} catch (error) {
			assert.equal((error as { code?: string }).code, ErrorCode.CONFIG_INVALID);
			message = messages(error);
		}
		assert.notEqual(message, "", "expected a CONFIG_INVALID error");
		assert.ok(!message.includes("s3cr"), `the password leaked into the error: ${message}`);
		assert.match(message, /percent-encode the user name and password/);
	});

	it("a URL whose password contains `#` or `?` never shows the password either", () => {
		for (const secret of ["pa#ss-word-1", "pa?ss-word-2"]) {
			let message = "";
			try {
				createPostgresClient({ primary: `postgres://app:${secret}@db.example:5432/shop` });
			} catch (error) {
				message = messages(error);
			}
			assert.notEqual(message, "", `expected a CONFIG_INVALID error for ${secret}`);
			assert.ok(!message.includes("ss-word"), `the password leaked into the error: ${message}`);
		}
	});

	it("a percent-encoded password with / ? # @ is read as it is; an unencoded @ in it still works", () => {
		const secret = "a/b?c#d@e";
		const s = resolveServer(`postgres://app:${encodeURIComponent(secret)}@db.example:5432/shop`, "p");
		assert.deepEqual([s.user, s.password, s.host, s.port, s.database], ["app", secret, "db.example", 5432, "shop"]);
		// The host part ends at its last @, as in every URL parser.
		assert.equal(resolveServer("postgres://app:p@ss@db.example/shop", "p").password, "p@ss");
	});

	it("redactUrl hides the whole password, whatever unencoded characters it holds", () => {
		for (const secret of ["s3cr/et-pa55", "pa#ss-word", "pa?ss-word", "pa@ss-word"]) {
			const redacted = redactUrl(`postgres://app:${secret}@db.example:5432/shop`);
			assert.equal(redacted, "postgres://***@db.example:5432/shop", secret);
		}
		assert.equal(redactUrl("postgres://db.example/shop"), "postgres://db.example/shop");
	});

	it("a connection failure never shows the password", async () => {
		const db = createPostgresClient({ primary: `postgres://postgres:${SECRET}@127.0.0.1:1/test`, pool: { acquireTimeoutMs: 300 } });
		try {
			const error = await db.query("SELECT 1").catch((e) => e);
			assert.equal(error.code, ErrorCode.POOL_TIMEOUT);
			assert.match(messages(error), /ECONNREFUSED/);
			assert.ok(!messages(error).includes(SECRET));
			assert.ok(!(db.stats().primary.lastCreateError ?? "").includes(SECRET));
		} finally {
			await db.close();
		}
	});

	it("a password function is called for every new connection (rotating credentials)", async () => {
		let calls = 0;
		const password = async () => {
			calls++;
			return `rotated-${calls}`;
		};
		const db = createPostgresClient({ primary: serverOptions(appName("password-fn"), { password }), pool: { max: 3 } });
		try {
			await Promise.all([1, 2, 3].map(() => db.query("SELECT pg_sleep(0.05)")));
			assert.equal(db.stats().primary.created, 3);
			assert.equal(calls, 3);
			await db.query("SELECT 1");
			assert.equal(calls, 3, "not called again for a reused connection");
		} finally {
			await db.close();
		}
	});

	it("a password function that fails fails the connection at once (no retry fixes it), with its error as cause", async () => {
		const db = createPostgresClient({
			primary: serverOptions(appName("password-fails"), {
				password: async () => {
					throw new Error("vault is sealed");
				},
			}),
			pool: { acquireTimeoutMs: 5_000 },
		});
		try {
			const started = performance.now();
			const error = await db.query("SELECT 1").catch((e) => e);
			assert.ok(performance.now() - started < 1_000);
			assert.equal(error.code, ErrorCode.CREATE_FAILED);
			assert.equal(error.cause.code, ErrorCode.CONFIG_INVALID);
			assert.match(error.cause.message, /the password function threw \(vault is sealed\)/);
			assert.match(error.cause.cause.message, /vault is sealed/);
		} finally {
			await db.close();
		}
	});

	it("TLS options are passed to pg: asking this non-TLS server for TLS fails at once, saying what to change", async () => {
		const db = createPostgresClient({ primary: { ...serverOptions(appName("tls")), ssl: { rejectUnauthorized: false } }, pool: { acquireTimeoutMs: 5_000 } });
		try {
			const error = await db.query("SELECT 1").catch((e) => e);
			assert.equal(error.code, ErrorCode.CREATE_FAILED);
			assert.match(error.cause.message, /the server has no TLS.*sslmode=prefer or disable/);
			assert.match(error.cause.cause.message, /does not support SSL/);
		} finally {
			await db.close();
		}
		const plain = createPostgresClient({ primary: `postgres://${server.user}@${server.host}:${server.port}/${server.database}?sslmode=disable` });
		try {
			assert.deepEqual(await plain.query("SELECT 1 AS ok", [], { fetch: "one" }), { ok: 1 });
		} finally {
			await plain.close();
		}
	});

	it("unknown options are rejected at construction", () => {
		assert.throws(() => createPostgresClient({ primary: serverOptions("x"), pool: { maxx: 3 } as never }), { code: ErrorCode.CONFIG_INVALID });
		assert.throws(() => createPostgresClient({ primary: serverOptions("x"), reset: "always" as never }), { code: ErrorCode.CONFIG_INVALID });
		assert.throws(() => createPostgresClient({ primary: serverOptions("x"), replicaSelection: "random" as never }), { code: ErrorCode.CONFIG_INVALID });
		assert.throws(() => createPostgresClient({ primary: serverOptions("x"), leaseTimeoutMs: -1 }), { code: ErrorCode.CONFIG_INVALID });
		assert.throws(() => createPostgresClient({} as never), { code: ErrorCode.CONFIG_INVALID });
		assert.throws(
			() => createPostgresClient({ primary: serverOptions("x"), reset: "discard", afterCreate: async () => {} }),
			(e: Error) => /sessionParameters/.test(e.message),
		);
		assert.throws(
			() => createPostgresClient({ primary: serverOptions("x"), readYourWriteMs: 100 } as never),
			(e: Error) => /readYourWriteMs: unknown option/.test(e.message),
		);
	});
});
