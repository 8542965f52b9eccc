import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Redis } from "ioredis";
import { createRedisClient, type RedisClient } from "../../src/adapters/redis/index.ts";
import { ErrorCode } from "../../src/core/errors.ts";
import { requireService } from "../support/services.ts";
import { adminConnection, clientsNamed, recordProcessErrors, TEST_DB, uniqueName, waitFor } from "./fixtures.ts";

const name = uniqueName("pubsub");
let admin: Redis;
let client: RedisClient;

before(async () => {
	await requireService("redis");
	admin = await adminConnection();
	client = createRedisClient({ db: TEST_DB, connectionName: name, max: 3 });
});

after(async () => {
	await client?.close();
	admin?.disconnect();
});

describe("pub/sub on a leased connection", () => {
	it("delivers messages until unsubscribe, then gives the connection back to the pool clean", async () => {
		const channel = `${name}-news`;
		const received: [string, string][] = [];
		const subscription = await client.subscribe(channel, (message, from) => {
			received.push([message, from]);
		});
		assert.equal(client.stats().subscriptions, 1);
		assert.equal(client.stats().pool.active, 1);
		const connectionId = subscription.connectionId;
		assert.equal(await admin.publish(channel, "first"), 1);
		assert.equal(await admin.publish(channel, "second"), 1);
		await waitFor("two messages", () => received.length === 2);
		assert.deepEqual(received, [
			["first", channel],
			["second", channel],
		]);

		await subscription.unsubscribe();
		await subscription.unsubscribe();
		assert.equal(subscription.active, false);
		assert.equal(await admin.publish(channel, "after"), 0);
		const stats = client.stats();
		assert.equal(stats.subscriptions, 0);
		assert.equal(stats.pool.destroyed, 0, "a clean UNSUBSCRIBE gives the connection back instead of destroying it");
		const lease = await client.acquire();
		assert.equal(lease.connectionId, connectionId);
		assert.equal(await lease.resource.set(`${name}:after-sub`, "1"), "OK");
		await lease.resource.del(`${name}:after-sub`);
		lease.release();
	});

	it("subscribes to patterns and tells the handler the channel and the pattern", async () => {
		const received: [string, string, string | undefined][] = [];
		const subscription = await client.subscribe(
			`${name}-orders.*`,
			(message, channel, pattern) => {
				received.push([message, channel, pattern]);
			},
			{ patterns: true },
		);
		await admin.publish(`${name}-orders.eu`, "o-1");
		await waitFor("a pattern message", () => received.length === 1);
		assert.deepEqual(received, [["o-1", `${name}-orders.eu`, `${name}-orders.*`]]);
		await subscription.unsubscribe();
	});

	it("reports a handler's throw or rejection to onError and keeps delivering", async () => {
		const channel = `${name}-faulty`;
		const errors: Error[] = [];
		const delivered: string[] = [];
		const subscription = await client.subscribe(
			channel,
			async (message) => {
				delivered.push(message);
				if (message === "throw") throw new Error("handler threw");
				if (message === "reject") await Promise.reject(new Error("handler rejected"));
			},
			{ onError: (error) => errors.push(error) },
		);
		for (const message of ["throw", "reject", "fine"]) await admin.publish(channel, message);
		await waitFor("three deliveries and two errors", () => delivered.length === 3 && errors.length === 2);
		assert.deepEqual(
			errors.map((e) => e.message),
			["handler threw", "handler rejected"],
		);
		await subscription.unsubscribe();
	});

	it("moves to a new connection by itself when its connection is killed, and says so", async () => {
		const channel = `${name}-resilient`;
		const errors: (Error & { code?: string })[] = [];
		const received: string[] = [];
		const recorder = recordProcessErrors();
		try {
			const subscription = await client.subscribe(channel, (message) => void received.push(message), { onError: (error) => errors.push(error) });
			const before = subscription.connectionId;
			const [victim] = (await clientsNamed(admin, name)).filter((c) => c.sub === "1");
			assert.ok(victim !== undefined, "the subscriber connection is visible with sub=1");
			await admin.client("KILL", "ID", victim.id);
			await waitFor("the subscription to move", () => subscription.connectionId !== undefined && subscription.connectionId !== before);
			assert.equal(errors[0]?.code, ErrorCode.CONNECTION_LOST);
			await waitFor("a subscriber again", async () => (await admin.publish(channel, "after the kill")) === 1);
			await waitFor("the message after the kill", () => received.includes("after the kill"));
			await subscription.unsubscribe();
			assert.deepEqual(recorder.errors, []);
		} finally {
			recorder.stop();
		}
	});

	it("rejects an empty channel list", async () => {
		await assert.rejects(
			client.subscribe([], () => {}),
			(error: Error & { code?: string }) => error.code === ErrorCode.CONFIG_INVALID,
		);
	});

	it("close() ends the subscriptions still open", async () => {
		const own = createRedisClient({ db: TEST_DB, max: 2 });
		const channel = `${name}-closing`;
		await own.subscribe(channel, () => {});
		await own.subscribe([`${channel}-2`, `${channel}-3`], () => {});
		assert.equal(own.stats().subscriptions, 2);
		await own.close({ timeoutMs: 2_000 });
		assert.equal(own.stats().subscriptions, 0);
		assert.equal(own.stats().pool.total, 0);
		assert.equal(await admin.publish(channel, "anyone?"), 0);
	});
});
