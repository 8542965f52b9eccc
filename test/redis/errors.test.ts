import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Redis, ReplyError } from "ioredis";
import { RedisErrorCode } from "../../src/adapters/redis/errors.ts";
import { classifyRedisError, createRedisClient, type RedisClient, RedisConnectionLostError, RedisTimeoutError } from "../../src/adapters/redis/index.ts";
import { ErrorCode } from "../../src/core/errors.ts";
import { requireService } from "../support/services.ts";
import { adminConnection, deleteKeys, TEST_DB, uniqueName } from "./fixtures.ts";

const name = uniqueName("errors");
const prefix = `${name}:`;
let admin: Redis;
let client: RedisClient;

before(async () => {
	await requireService("redis");
	admin = await adminConnection();
	client = createRedisClient({ db: TEST_DB, keyPrefix: prefix, max: 4 });
});

after(async () => {
	await client?.close();
	if (admin !== undefined) {
		await deleteKeys(admin, prefix);
		admin.disconnect();
	}
});

type Coded = Error & { code?: string; command?: string; serverCode?: string; cause?: unknown };

describe("error classification", () => {
	it("treats the server's rejections of a command as the caller's", () => {
		for (const message of ["WRONGTYPE Operation against a key holding the wrong kind of value", "ERR syntax error", "NOSCRIPT No matching script"]) {
			assert.equal(classifyRedisError(new ReplyError(message)), "caller", message);
		}
	});

	it("treats dead sockets, closed connections, timeouts and lost authentication as the connection's", () => {
		const reset = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
		const pipe = Object.assign(new Error("write EPIPE"), { code: "EPIPE" });
		const timedOut = Object.assign(new Error("connect ETIMEDOUT"), { code: "ETIMEDOUT" });
		for (const error of [
			reset,
			pipe,
			timedOut,
			new Error("Connection is closed."),
			new Error("Stream isn't writeable and enableOfflineQueue options is false"),
			new ReplyError("NOAUTH Authentication required."),
			new RedisTimeoutError("p", "GET", 10),
			new RedisConnectionLostError("p", "GET", reset),
		]) {
			assert.equal(classifyRedisError(error), "connection", error.message);
		}
	});

	it("treats anything else as the caller's", () => {
		assert.equal(classifyRedisError(new TypeError("bad argument")), "caller");
		assert.equal(classifyRedisError("a string"), "caller");
	});
});

describe("typed errors", () => {
	it("a server error is QUERY_FAILED with the server's message, and the connection stays in use", async () => {
		await client.set("a-string", "text");
		const destroyedBefore = client.stats().pool.destroyed;
		await assert.rejects(client.command("lpush", "a-string", "x"), (error: Coded) => {
			assert.equal(error.code, RedisErrorCode.REDIS_COMMAND_FAILED);
			assert.equal(error.command, "LPUSH");
			assert.equal(error.serverCode, "WRONGTYPE");
			assert.match(error.message, /^redis LPUSH: WRONGTYPE/);
			assert.ok(error.cause instanceof ReplyError);
			return true;
		});
		await assert.rejects(client.command("evalsha", "0000000000000000000000000000000000000000", 0), (error: Coded) => error.serverCode === "NOSCRIPT");
		await assert.rejects(client.command("set", "k", "v", "BOGUS"), (error: Coded) => error.serverCode === "ERR");
		assert.equal(client.stats().pool.destroyed, destroyedBefore, "a command error must not cost the connection");
		assert.equal(await client.get("a-string"), "text");
	});

	it("withConnection turns Redis errors into typed ones, passes the caller's own errors through, and keeps the connection", async () => {
		const destroyedBefore = client.stats().pool.destroyed;
		await assert.rejects(
			client.withConnection((redis) => redis.lpush("a-string", "x")),
			(error: Coded) => error.code === RedisErrorCode.REDIS_COMMAND_FAILED && error.command === "LPUSH",
		);
		const own = new Error("my own failure");
		await assert.rejects(
			client.withConnection(() => {
				throw own;
			}),
			(error) => error === own,
		);
		assert.equal(client.stats().pool.destroyed, destroyedBefore);
	});

	it("withConnection destroys a connection that died under it and says CONNECTION_LOST", async () => {
		const destroyedBefore = client.stats().pool.destroyedByReason.error;
		await assert.rejects(
			client.withConnection(async (redis) => {
				redis.stream.destroy();
				return redis.get("anything");
			}),
			(error: Coded) => error.code === ErrorCode.CONNECTION_LOST,
		);
		assert.equal(client.stats().pool.destroyedByReason.error, destroyedBefore + 1);
		assert.equal(await client.withConnection((redis) => redis.ping()), "PONG");
	});

	it("a blocking command with no reply within timeoutMs is QUERY_TIMEOUT, and its connection is destroyed", async () => {
		const destroyedBefore = client.stats().pool.destroyedByReason.error;
		const started = performance.now();
		await assert.rejects(client.command({ name: "blpop", args: ["never-filled", 10], timeoutMs: 150 }), (error: Coded) => {
			assert.equal(error.code, RedisErrorCode.REDIS_TIMEOUT);
			assert.equal(error.command, "BLPOP");
			return true;
		});
		const waited = performance.now() - started;
		assert.ok(waited >= 140 && waited < 1_000, `waited ${waited} ms`);
		assert.equal(client.stats().pool.destroyedByReason.error, destroyedBefore + 1);
		assert.equal(await client.get("never-filled"), null);
	});

	it("a command answered in time is not affected by timeoutMs", async () => {
		await client.set("quick", "1", { timeoutMs: 1_000 });
		assert.equal(await client.get("quick", { timeoutMs: 1_000 }), "1");
	});
});
