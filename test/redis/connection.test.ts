import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { Redis } from "ioredis";
import { createRedisClient, type RedisClientOptions } from "../../src/adapters/redis/index.ts";
import { ConfigError, ErrorCode } from "../../src/core/errors.ts";
import { requireService, services } from "../support/services.ts";
import { adminConnection, clientsNamed, TEST_DB, uniqueName, waitFor } from "./fixtures.ts";

const run = promisify(execFile);
const name = uniqueName("connection");
const user = `${name}-user`;
const secret = `s3cret-${process.pid}-do-not-print`;
let admin: Redis;

/** Every message in an error's cause chain, to check that a secret appears nowhere. */
function everything(error: unknown): string {
	const parts: string[] = [];
	for (let e = error; e !== undefined && e !== null; e = (e as { cause?: unknown }).cause) {
		parts.push(String(e), (e as Error).stack ?? "", JSON.stringify(e));
	}
	return parts.join("\n");
}

before(async () => {
	await requireService("redis");
	admin = await adminConnection();
	await admin.call("ACL", "SETUSER", user, "on", `>${secret}`, "~*", "&*", "+@all");
});

after(async () => {
	if (admin !== undefined) {
		await admin.call("ACL", "DELUSER", user);
		admin.disconnect();
	}
});

describe("connection setup", () => {
	it("warms min connections, each on the configured database and named", async () => {
		const client = createRedisClient({ db: TEST_DB, connectionName: `${name}-warm`, min: 2 });
		try {
			await client.start();
			const seen = await clientsNamed(admin, `${name}-warm`);
			assert.equal(seen.length, 2);
			for (const c of seen) assert.equal(c.db, String(TEST_DB));
		} finally {
			await client.close();
		}
	});

	it("calls the password function for every new connection and authenticates as the user", async () => {
		let calls = 0;
		const client = createRedisClient({
			db: TEST_DB,
			username: user,
			password: async () => {
				calls++;
				return secret;
			},
			max: 2,
		});
		try {
			const [a, b] = [await client.acquire(), await client.acquire()];
			assert.equal(calls, 2);
			assert.equal(await a.resource.call("ACL", "WHOAMI"), user);
			a.release();
			b.release();
		} finally {
			await client.close();
		}
	});

	it("authenticates again after RESET, so the next borrower is still the user", async () => {
		const client = createRedisClient({ db: TEST_DB, username: user, password: secret, max: 1 });
		try {
			await client.withConnection((redis) => redis.select(5));
			const whoami = await client.withConnection((redis) => redis.call("ACL", "WHOAMI"));
			assert.equal(whoami, user);
			assert.equal(client.stats().pool.created, 1, "reset, not replaced");
		} finally {
			await client.close();
		}
	});

	it("connects from a redis:// URL with credentials and database, explicit options overriding it", async () => {
		const url = `redis://${encodeURIComponent(user)}:${encodeURIComponent(secret)}@${services.redis.host}:${services.redis.port}/3`;
		const client = createRedisClient({ url, db: TEST_DB, connectionName: `${name}-url` });
		try {
			assert.equal(await client.withConnection((redis) => redis.call("ACL", "WHOAMI")), user);
			await client.withConnection((redis) => redis.ping());
			const [seen] = await clientsNamed(admin, `${name}-url`);
			assert.equal(seen?.db, String(TEST_DB));
		} finally {
			await client.close();
		}
	});

	it("never shows the password of a URL, whether the server is unreachable or refuses it", async () => {
		const unreachable = createRedisClient({ url: `redis://${user}:${secret}@127.0.0.1:1/0`, acquireTimeoutMs: 300 });
		const refused = createRedisClient({ url: `redis://${user}:${secret}-wrong@${services.redis.host}:${services.redis.port}/0`, acquireTimeoutMs: 300 });
		try {
			for (const client of [unreachable, refused]) {
				const error = await client.get("k").then(
					() => assert.fail("expected a failure"),
					(e: unknown) => e,
				);
				// Unreachable is retried until acquireTimeoutMs; refused credentials fail at once (no retry can fix them).
				assert.equal((error as { code?: string }).code, client === unreachable ? ErrorCode.POOL_TIMEOUT : ErrorCode.CREATE_FAILED);
				assert.ok(!everything(error).includes(secret), everything(error));
				assert.ok(!JSON.stringify(client.stats()).includes(secret));
			}
		} finally {
			await Promise.all([unreachable.close(), refused.close()]);
		}
		assert.throws(
			() => createRedisClient({ url: `redis://${user}:${secret}@[not a host` }),
			(error: Error) => error instanceof ConfigError && !everything(error).includes(secret),
		);
	});

	it("a URL whose password contains `/` never shows any part of the password in CONFIG_INVALID", async () => {
		let error: unknown;
		try {
			const client = createRedisClient({ url: "redis://app:2024/Summer-pass@cache.example:6379/0" });
			await client.close();
		} catch (thrown) {
			error = thrown;
		}
		assert.ok(error instanceof ConfigError, "expected CONFIG_INVALID");
		assert.ok(!everything(error).includes("Summer-pass"), `part of the password leaked: ${everything(error)}`);
		assert.match(error.message, /percent-encode the user name and password/);
	});

	it("a URL path that is not a database index is refused without being echoed", () => {
		assert.throws(
			() => createRedisClient({ url: "redis://cache.example:6379/not-a-db-index" }),
			(error: Error) => error instanceof ConfigError && /database index/.test(error.message) && !everything(error).includes("not-a-db-index"),
		);
	});

	it("fails a connection whose database Redis refuses instead of silently using database 0", async () => {
		const client = createRedisClient({ db: 100_000, acquireTimeoutMs: 5_000 });
		try {
			const started = performance.now();
			// A permanent error: the caller is failed at once, not after acquireTimeoutMs of retries.
			await assert.rejects(client.get("k"), (error: Error & { code?: string; cause?: Error & { code?: string; cause?: unknown } }) => {
				assert.equal(error.code, ErrorCode.CREATE_FAILED);
				assert.equal(error.cause?.code, ErrorCode.CONFIG_INVALID);
				assert.match(String(error.cause?.message), /database 100000 does not exist on the server; use a db below/);
				assert.match(String((error.cause?.cause as Error)?.message), /DB index is out of range/);
				return true;
			});
			assert.ok(performance.now() - started < 1_000, `failed after ${Math.round(performance.now() - started)} ms`);
			assert.equal(client.stats().pool.total, 0);
		} finally {
			await client.close();
		}
	});

	it("keepaliveMs PINGs idle connections", async () => {
		const client = createRedisClient({ db: TEST_DB, connectionName: `${name}-keepalive`, min: 1, keepaliveMs: 50 });
		try {
			await client.start();
			await client.withConnection((redis) => redis.get("k"));
			await waitFor("a keepalive PING", async () => (await clientsNamed(admin, `${name}-keepalive`))[0]?.cmd === "ping", 2_000);
		} finally {
			await client.close();
		}
	});
});

describe("allowExitOnIdle", () => {
	it("lets the process exit while connections are idle in the pool, without close()", async () => {
		const fixture = fileURLToPath(new URL("exit-on-idle.fixture.ts", import.meta.url));
		const started = performance.now();
		const { stdout } = await run(process.execPath, [fixture], { env: { ...process.env, TEST_DB: String(TEST_DB) }, timeout: 10_000 });
		assert.equal(stdout.trim(), "idle");
		assert.ok(performance.now() - started < 5_000);
	});
});

describe("options", () => {
	it("rejects every invalid option at once, naming each", () => {
		const options = {
			port: 0,
			db: -1,
			max: 4,
			sharedConnections: 5,
			commandTimeoutMs: -1,
			driverOptions: { retryStrategy: () => 1, host: "elsewhere" },
			acquireTimeoutMs: "soon",
			bogus: true,
		} as unknown as RedisClientOptions;
		assert.throws(
			() => createRedisClient(options),
			(error: Error) => {
				assert.ok(error instanceof ConfigError);
				const paths = error.problems.map((p) => p.path).sort();
				assert.deepEqual(paths, [
					"acquireTimeoutMs",
					"bogus",
					"commandTimeoutMs",
					"db",
					"driverOptions.host",
					"driverOptions.retryStrategy",
					"port",
					"sharedConnections",
				]);
				assert.match(error.message, /^createRedisClient\("redis"\)/);
				return true;
			},
		);
	});

	it("rejects URLs that are not redis:// or rediss://, or whose path is not a database index", () => {
		for (const url of ["http://localhost:6379", "redis://localhost:6379/first"]) {
			assert.throws(
				() => createRedisClient({ url }),
				(error: Error) => error instanceof ConfigError && error.problems[0]?.path === "url",
				url,
			);
		}
	});
});
