import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Redis } from "ioredis";
import { RedisErrorCode } from "../../src/adapters/redis/errors.ts";
import { createRedisClient, type RedisClient } from "../../src/adapters/redis/index.ts";
import { ErrorCode } from "../../src/core/errors.ts";
import { requireService } from "../support/services.ts";
import { adminConnection, deleteKeys, TEST_DB, uniqueName } from "./fixtures.ts";

const name = uniqueName("transaction");
const prefix = `${name}:`;
let admin: Redis;
let client: RedisClient;

before(async () => {
	await requireService("redis");
	admin = await adminConnection();
	client = createRedisClient({ db: TEST_DB, keyPrefix: prefix, max: 2 });
});

after(async () => {
	await client?.close();
	if (admin !== undefined) {
		await deleteKeys(admin, prefix);
		admin.disconnect();
	}
});

describe("transactions: WATCH, MULTI, EXEC", () => {
	it("commits the queued commands and returns each one's result", async () => {
		await client.set("balance", "100");
		const outcome = await client.transaction(
			async (tx) => {
				const balance = Number(await tx.command("get", "balance"));
				tx.queue("set", "balance", balance - 30).queue("incr", "withdrawals");
				return balance;
			},
			{ watch: ["balance"] },
		);
		assert.equal(outcome.committed, true);
		assert.equal(outcome.value, 100);
		assert.deepEqual(outcome.committed && outcome.results, [
			[null, "OK"],
			[null, 1],
		]);
		assert.equal(await client.get("balance"), "70");
	});

	it("refuses EXEC when a watched key changed after WATCH: committed is false and nothing is written", async () => {
		await client.set("stock", "5");
		const outcome = await client.transaction(
			async (tx) => {
				const stock = Number(await tx.command("get", "stock"));
				await admin.set(`${prefix}stock`, "0");
				tx.queue("set", "stock", stock - 1);
			},
			{ watch: ["stock"] },
		);
		assert.equal(outcome.committed, false);
		assert.equal(outcome.attempts, 1);
		assert.equal(await client.get("stock"), "0");
	});

	it("runs again, up to attempts, while watched keys keep changing", async () => {
		await client.set("seats", "10");
		let runs = 0;
		const outcome = await client.transaction(
			async (tx) => {
				runs++;
				const seats = Number(await tx.command("get", "seats"));
				if (runs === 1) await admin.decr(`${prefix}seats`);
				tx.queue("set", "seats", seats - 1);
			},
			{ watch: ["seats"], attempts: 3 },
		);
		assert.equal(outcome.committed, true);
		assert.equal(outcome.attempts, 2);
		assert.equal(await client.get("seats"), "8");
	});

	it("reports a failing command inside EXEC in its result; the other commands still commit", async () => {
		await client.set("text", "abc");
		const outcome = await client.transaction((tx) => {
			tx.queue("incr", "text").queue("set", "after-failure", "written");
		});
		assert.equal(outcome.committed, true);
		const [[error], [, value]] = outcome.committed ? outcome.results : [];
		assert.equal(error?.code, RedisErrorCode.REDIS_COMMAND_FAILED);
		assert.equal(error?.command, "INCR");
		assert.equal(value, "OK");
		assert.equal(await client.get("after-failure"), "written");
	});

	it("rejects the whole EXEC when a queued command is malformed (EXECABORT) with QUERY_FAILED", async () => {
		await assert.rejects(
			client.transaction((tx) => {
				tx.queue("set", "only-key");
			}),
			(error: Error & { code?: string }) => error.code === RedisErrorCode.REDIS_COMMAND_FAILED,
		);
		assert.equal(await client.get("only-key"), null);
	});

	it("sends nothing when fn throws, and gives the connection back unwatched", async () => {
		const single = createRedisClient({ db: TEST_DB, keyPrefix: prefix, max: 1 });
		try {
			await assert.rejects(
				single.transaction(
					(tx) => {
						tx.queue("set", "never", "written");
						throw new Error("changed my mind");
					},
					{ watch: ["guarded"] },
				),
				/changed my mind/,
			);
			assert.equal(await single.get("never"), null);
			await admin.set(`${prefix}guarded`, "changed");
			const outcome = await single.transaction((tx) => {
				tx.queue("set", "guarded", "mine");
			});
			assert.equal(outcome.committed, true, "a WATCH left from the failed transaction made EXEC fail");
			assert.equal(await single.get("guarded"), "mine");
		} finally {
			await single.close();
		}
	});

	it("rejects attempts below 1", async () => {
		await assert.rejects(
			client.transaction(() => {}, { attempts: 0 }),
			(error: Error & { code?: string }) => error.code === ErrorCode.CONFIG_INVALID,
		);
	});
});
