/** What a new user of the Redis client met: arguments Redis cannot take, bad timeouts, a BLPOP to stop, credentials no retry fixes. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createRedisClient, type RedisClient } from "../../src/adapters/redis/index.ts";
import { ErrorCode } from "../../src/core/errors.ts";
import { requireService } from "../support/services.ts";
import { adminConnection, clientsNamed, deleteKeys, TEST_DB, uniqueName, waitFor } from "./fixtures.ts";

const name = uniqueName("hardening");

describe("redis: calls are checked before anything is sent", () => {
	let client: RedisClient;

	before(async () => {
		await requireService("redis");
		client = createRedisClient({ db: TEST_DB, connectionName: name });
	});

	after(async () => {
		const admin = await adminConnection();
		await deleteKeys(admin, name);
		admin.disconnect();
		await client?.close();
	});

	it("undefined, objects, NaN as arguments are CONFIG_INVALID naming each one; nothing is written", async () => {
		const key = `${name}:k`;
		await assert.rejects(client.command("SET", key, undefined as never), (error: Error & { code?: string }) => {
			assert.equal(error.code, ErrorCode.CONFIG_INVALID);
			assert.match(error.message, /args\[1\]: is undefined/);
			return true;
		});
		await assert.rejects(client.set(key, { a: 1 } as never), /args\[1\]: is an object.*JSON\.stringify/);
		await assert.rejects(client.command({ name: "SET", args: [key, Number.NaN] }), /args\[1\]: is NaN/);
		await assert.rejects(client.pipeline([["SET", key, null as never]]), { code: ErrorCode.CONFIG_INVALID });
		assert.equal(await client.get(key), null);
		// What Redis takes still goes through.
		await client.command("SET", key, 5);
		assert.equal(await client.get(key), "5");
	});

	it("a per-call timeoutMs of 0, -1, NaN or a string is CONFIG_INVALID, never 'no timeout'", async () => {
		for (const timeoutMs of [0, -1, Number.NaN, "100", Number.POSITIVE_INFINITY]) {
			await assert.rejects(client.get(`${name}:k`, { timeoutMs: timeoutMs as number }), (error: Error & { code?: string }) => {
				assert.equal(error.code, ErrorCode.CONFIG_INVALID, String(timeoutMs));
				assert.match(error.message, /timeoutMs/);
				return true;
			});
		}
		await assert.rejects(client.command({ name: "BLPOP", args: [`${name}:list`, 1], timeoutMs: 0 }), { code: ErrorCode.CONFIG_INVALID });
		await assert.rejects(client.pipeline([["GET", "x"]], { timeoutMs: -1 }), { code: ErrorCode.CONFIG_INVALID });
	});

	it("an AbortSignal stops a BLPOP: its dedicated connection is closed on the server and the call rejects at once", async () => {
		const admin = await adminConnection();
		try {
			const controller = new AbortController();
			const blocked = client.command({ name: "BLPOP", args: [`${name}:never`, 0], signal: controller.signal });
			await waitFor("BLPOP to block", async () => (await clientsNamed(admin, name)).some((c) => c.cmd === "blpop"));
			const started = performance.now();
			controller.abort(new Error("no longer needed"));
			await assert.rejects(blocked, /no longer needed/);
			// BLPOP 0 never answers: rejecting "at once" is telling apart from never; 1 s leaves a loaded machine room (200 ms did not always).
			assert.ok(performance.now() - started < 1_000, `rejected after ${Math.round(performance.now() - started)} ms`);
			await waitFor("the blocked connection to be gone", async () => !(await clientsNamed(admin, name)).some((c) => c.cmd === "blpop"), 2_000);
			assert.equal(await client.get(`${name}:k`), "5");
		} finally {
			admin.disconnect();
		}
	});
});

describe("redis: connection errors no retry can fix fail at once", () => {
	before(() => requireService("redis"));

	const failsAtOnce = async (client: RedisClient, message: RegExp, secret?: string) => {
		const started = performance.now();
		try {
			await assert.rejects(client.get("k"), (error: Error & { code?: string; cause?: Error & { code?: string } }) => {
				assert.equal(error.code, ErrorCode.CREATE_FAILED);
				assert.equal(error.cause?.code, ErrorCode.CONFIG_INVALID);
				assert.match(String(error.cause?.message), message);
				if (secret !== undefined) assert.ok(!error.message.includes(secret) && !String(error.cause?.message).includes(secret));
				return true;
			});
			assert.ok(performance.now() - started < 1_000, `failed after ${Math.round(performance.now() - started)} ms`);
		} finally {
			await client.close();
		}
	};

	it("wrong credentials", async () => {
		await failsAtOnce(
			createRedisClient({ db: TEST_DB, username: "lg-no-such-user", password: "s3cret-redis", acquireTimeoutMs: 5_000 }),
			/refused the credentials; check username and password/,
			"s3cret-redis",
		);
	});

	it("a password function that throws", async () => {
		await failsAtOnce(
			createRedisClient({
				db: TEST_DB,
				password: () => {
					throw new Error("vault unreachable");
				},
				acquireTimeoutMs: 5_000,
			}),
			/the password function threw \(vault unreachable\)/,
		);
	});
});
