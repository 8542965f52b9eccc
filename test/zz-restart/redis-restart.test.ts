/**
 * Stops the real Redis server and starts it again. Runs alone, after every other test file:
 * Redis is down for about a second. The after hook starts Redis again whatever happened.
 */
import assert from "node:assert/strict";
import { execFile, execSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { createRedisClient, type RedisClient } from "../../src/adapters/redis/index.ts";
import { ErrorCode, type LifeguardError } from "../../src/core/errors.ts";
import { recordProcessErrors, sleep, TEST_DB, uniqueName, waitFor } from "../redis/fixtures.ts";
import { requireService, services } from "../support/services.ts";

const run = promisify(execFile);
const name = uniqueName("restart");

async function answersPing(): Promise<boolean> {
	try {
		const { stdout } = await run("redis-cli", ["-h", services.redis.host, "-p", String(services.redis.port), "ping"], { timeout: 1_000 });
		return stdout.trim() === "PONG";
	} catch {
		return false;
	}
}

async function startRedis(): Promise<void> {
	execSync(services.redis.start, { stdio: "ignore" });
	await waitFor("Redis to answer PONG", answersPing, 10_000);
}

let client: RedisClient;

before(async () => {
	await requireService("redis");
});

after(async () => {
	try {
		await client?.close();
	} finally {
		if (!(await answersPing())) await startRedis();
	}
});

describe("Redis restarts", () => {
	it("fails acquires at their deadline while Redis is down, then recovers by itself once it is back", async (t) => {
		client = createRedisClient({ db: TEST_DB, keyPrefix: `${name}:`, min: 2, acquireTimeoutMs: 500 });
		const recorder = recordProcessErrors();
		try {
			await client.start();
			await client.set("alive", "yes");

			await run("redis-cli", ["-h", services.redis.host, "-p", String(services.redis.port), "shutdown", "nosave"]).catch(() => {});
			await waitFor("Redis to stop", async () => !(await answersPing()), 5_000);
			await waitFor("the dead idle connections to be dropped", () => client.stats().pool.destroyedByReason.error >= 2, 2_000);

			for (const attempt of [() => client.get("alive"), () => client.acquire({ timeoutMs: 300 })]) {
				const started = performance.now();
				const error = (await attempt().then(
					() => assert.fail("a call succeeded while Redis was down"),
					(e: unknown) => e,
				)) as LifeguardError;
				const waited = performance.now() - started;
				assert.equal(error.code, ErrorCode.POOL_TIMEOUT, error.message);
				assert.ok(error.cause !== undefined, "the timeout carries the last connect error as its cause");
				assert.ok(waited >= 250 && waited < 1_000, `settled after ${waited} ms`);
			}
			await sleep(300);

			await startRedis();
			const back = performance.now();
			await waitFor(
				"a command to succeed",
				async () => {
					try {
						return (await client.set("alive", "again")) === undefined;
					} catch {
						return false;
					}
				},
				5_000,
			);
			const recoveredMs = performance.now() - back;
			t.diagnostic(`recovered ${Math.round(recoveredMs)} ms after Redis answered PONG`);
			// Reconnect backoff is capped at 1 s (createRetryMaxMs): 4 s leaves a loaded machine room and still fails a pool that waits for nothing.
			assert.ok(recoveredMs < 4_000, `the pool took ${recoveredMs} ms to recover`);
			assert.equal(await client.get("alive"), "again");
			await waitFor("min connections again", () => client.pool.size >= 2, 2_000);
			await client.del("alive");
			assert.deepEqual(recorder.errors, []);
		} finally {
			recorder.stop();
		}
	});
});
