import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { connectionOptions, resolveMysqlConfig, sessionStatement } from "../../src/adapters/mysql/config.ts";
import { createMysqlClient } from "../../src/adapters/mysql/index.ts";
import type { SqlClient } from "../../src/adapters/sql/types.ts";
import { ConfigError, ErrorCode } from "../../src/index.ts";

describe("MySQL config", () => {
	it("reads user, password, host, port, database and parameters from a URL", async () => {
		const config = resolveMysqlConfig("mysql://app%40svc:p%3Ass@db.example:3307/orders?ssl=true&charset=utf8mb4");
		assert.equal(config.user, "app@svc");
		assert.equal(config.host, "db.example");
		assert.equal(config.port, 3307);
		assert.equal(config.database, "orders");
		assert.deepEqual(config.ssl, {});
		const options = await connectionOptions(config);
		assert.equal(options.password, "p:ss");
		assert.equal(options.charset, "utf8mb4");
	});

	it("accepts mariadb:// and lets fields override the URL's parts", () => {
		const config = resolveMysqlConfig({ url: "mariadb://u:pw@h1/db1", host: "h2", database: "db2" });
		assert.equal(config.host, "h2");
		assert.equal(config.database, "db2");
		assert.equal(config.user, "u");
		assert.equal(config.port, 3306);
	});

	it("never echoes the password of a bad URL or config", () => {
		const secret = "hunter2-secret";
		for (const bad of [`postgres://u:${secret}@h/db`, `mysql://u:${secret}@h/db?sslmode=require`, `mysql://u:${secret}@h:99999/db`, `not a url ${secret}`]) {
			assert.throws(
				() => resolveMysqlConfig(bad),
				(error: unknown) => error instanceof ConfigError && error.code === ErrorCode.CONFIG_INVALID && !error.message.includes(secret),
				bad.replace(secret, "***"),
			);
		}
	});

	it("a password containing `/` in the URL never appears in errors: the URL is refused, saying to percent-encode it", async () => {
		let message = "";
		let code: string | undefined;
		let db: SqlClient | undefined;
		try {
			// Unencoded, the `/` ends the host part: host "app", port 2024, database "Summer-pass@127.0.0.1:3306/test".
			db = createMysqlClient({ primary: "mysql://app:2024/Summer-pass@127.0.0.1:3306/test", pool: { acquireTimeoutMs: 800, createTimeoutMs: 500 } });
			await db.query("SELECT 1");
		} catch (error) {
			code = (error as { code?: string }).code;
			message = `${(error as Error).message} | ${(error as { cause?: Error }).cause?.message ?? ""}`;
		} finally {
			await db?.close();
		}
		assert.notEqual(message, "");
		assert.ok(!message.includes("Summer-pass"), `the password leaked: ${message}`);
		assert.equal(code, ErrorCode.CONFIG_INVALID);
		assert.match(message, /percent-encode the user name and password/);
	});

	it("a percent-encoded password with / ? # is read as it is and never appears in the server's label", () => {
		const secret = "2024/Summer?pass#1";
		const config = resolveMysqlConfig(`mysql://app:${encodeURIComponent(secret)}@db.example:3307/orders`);
		assert.deepEqual([config.user, config.password, config.host, config.port, config.database], ["app", secret, "db.example", 3307, "orders"]);
		assert.equal(config.label, "app@db.example:3307/orders");
	});

	it("refuses autocommit as a session variable: every release switches it back on", () => {
		assert.throws(
			() => resolveMysqlConfig({ url: "mysql://u@h/db", session: { variables: { autocommit: 0 } } }),
			(error: unknown) =>
				error instanceof ConfigError && error.problems.some((p) => p.path === "mysql.session.variables.autocommit" && /transaction\(\)/.test(p.message)),
		);
	});

	it("lists every problem at once", () => {
		assert.throws(
			() => resolveMysqlConfig({ host: "", port: 0, hots: "x", timeoutMethod: "nope", session: { variables: { "a;b": 1 } } } as never),
			(error: unknown) => {
				assert.ok(error instanceof ConfigError);
				const paths = error.problems.map((p) => p.path).sort();
				assert.deepEqual(paths, ["mysql.host", "mysql.hots", "mysql.port", "mysql.session.variables.a;b", "mysql.timeoutMethod"]);
				return true;
			},
		);
	});

	it("calls a password function for every new connection's options", async () => {
		let calls = 0;
		const config = resolveMysqlConfig({ host: "h", password: async () => `token-${++calls}` });
		assert.equal((await connectionOptions(config)).password, "token-1");
		assert.equal((await connectionOptions(config)).password, "token-2");
	});

	it("passes a copy of the SSL options, so mysql2 cannot change the caller's object", async () => {
		const ssl = { ca: "pem" };
		const options = await connectionOptions(resolveMysqlConfig({ host: "h", ssl }));
		assert.notEqual(options.ssl, ssl);
		assert.deepEqual(options.ssl, ssl);
	});

	it("describes the server in labels without the password", () => {
		const config = resolveMysqlConfig("mysql://u:topsecret@h:3306/db");
		assert.equal(config.label, "u@h:3306/db");
	});

	it("turns session settings into one SET SESSION with escaped values", () => {
		assert.equal(sessionStatement(undefined), undefined);
		assert.equal(sessionStatement({}), undefined);
		assert.deepEqual(sessionStatement({ timeZone: "+00:00", sqlMode: "STRICT_ALL_TABLES", variables: { lock_wait_timeout: 5 } }), {
			sql: "SET SESSION time_zone = ?, sql_mode = ?, lock_wait_timeout = ?",
			params: ["+00:00", "STRICT_ALL_TABLES", 5],
		});
	});
});
