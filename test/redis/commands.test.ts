import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Redis } from "ioredis";
import { RedisErrorCode } from "../../src/adapters/redis/errors.ts";
import { createRedisClient, type RedisClient } from "../../src/adapters/redis/index.ts";
import { requireService } from "../support/services.ts";
import { adminConnection, deleteKeys, sleep, TEST_DB, uniqueName, waitFor } from "./fixtures.ts";

const name = uniqueName("commands");
const prefix = `${name}:`;
let admin: Redis;
let client: RedisClient;

before(async () => {
	await requireService("redis");
	admin = await adminConnection();
	client = createRedisClient({ db: TEST_DB, keyPrefix: prefix, connectionName: name, max: 6 });
});

after(async () => {
	await client?.close();
	if (admin !== undefined) {
		await deleteKeys(admin, prefix);
		admin.disconnect();
	}
});

describe("the command path", () => {
	it("runs commands and the typed helpers", async () => {
		await client.set("greeting", "hello");
		assert.equal(await client.get("greeting"), "hello");
		assert.equal(await client.command("append", "greeting", " world"), 11);
		assert.equal(await client.command({ name: "strlen", args: ["greeting"] }), 11);
		assert.equal(await client.get("missing"), null);
		assert.equal(await client.del(["greeting", "missing"]), 1);
	});

	it("sets a time to live with ttlMs", async () => {
		await client.set("short-lived", "x", { ttlMs: 60_000 });
		const ttl = (await client.command("pttl", "short-lived")) as number;
		assert.ok(ttl > 0 && ttl <= 60_000, `pttl ${ttl}`);
	});

	it("prefixes keys with keyPrefix", async () => {
		await client.set("prefixed", "1");
		assert.equal(await admin.get(`${prefix}prefixed`), "1");
		assert.equal(await admin.get("prefixed"), null);
	});

	it("runs commands in the order they were sent, even when not awaited one by one", async () => {
		const sent = [client.set("order", "a"), client.command("append", "order", "b")];
		await new Promise((resolve) => setImmediate(resolve));
		sent.push(client.command("append", "order", "c"));
		const read = client.get("order");
		await Promise.all(sent);
		assert.equal(await read, "abc");
	});

	it("keeps the order of commands sent in the same tick when several connections are shared", async () => {
		const wide = createRedisClient({ db: TEST_DB, keyPrefix: prefix, sharedConnections: 3 });
		try {
			// Callers out of step: each tick finds commands still in flight, so the set grows to 3.
			const caller = async (c: number) => {
				for (let i = 0; i < 30 && wide.stats().shared < 3; i++) {
					void wide.get(`warm:${c}`);
					await new Promise((resolve) => setTimeout(resolve, c % 3));
				}
			};
			await Promise.all(Array.from({ length: 16 }, (_, c) => caller(c)));
			assert.equal(wide.stats().shared, 3, "three connections held, ready to share the next commands");
			const noise = Array.from({ length: 50 }, (_, i) => wide.get(`noise:${i}`));
			const sent = [wide.set("same-tick", "1"), ...Array.from({ length: 20 }, (_, i) => wide.command("append", "same-tick", String(i % 10)))];
			const read = wide.get("same-tick");
			await Promise.all([...noise, ...sent]);
			assert.equal(await read, "101234567890123456789");
		} finally {
			await wide.close();
		}
	});

	it("multiplexes many concurrent callers onto at most sharedConnections connections", async () => {
		const before = client.stats().pool.created;
		const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => client.command("incr", `counter:${i % 7}`)));
		assert.equal(replies.length, 200);
		const created = client.stats().pool.created - before;
		assert.ok(created <= 1, `the command path opened ${created} connections for 200 concurrent commands`);
		const counts = await Promise.all(Array.from({ length: 7 }, (_, i) => client.get(`counter:${i}`)));
		assert.equal(
			counts.reduce((sum, n) => sum + Number(n), 0),
			200,
		);
	});

	it("gives its connections back to the pool once no command is in flight", async () => {
		await Promise.all(Array.from({ length: 20 }, () => client.get("idle-check")));
		assert.ok(client.stats().shared >= 1, "held while in use");
		await waitFor("the command path to go idle", () => client.stats().shared === 0, 1_000);
		const stats = client.stats();
		assert.equal(stats.shared, 0);
		assert.equal(stats.pool.active, 0);
		assert.ok(stats.pool.idle >= 1);
	});

	it("rotates its connections after maxLifetimeMs even when it never goes idle", async () => {
		const rotating = createRedisClient({ db: TEST_DB, keyPrefix: prefix, maxLifetimeMs: 150, maxLifetimeJitterMs: 0 });
		try {
			let running = true;
			const caller = async (c: number) => {
				while (running) await rotating.get(`rotate:${c}`);
			};
			const load = Promise.all(Array.from({ length: 8 }, (_, c) => caller(c)));
			await sleep(500);
			running = false;
			await load;
			assert.ok(rotating.stats().pool.destroyedByReason.lifetime >= 2, JSON.stringify(rotating.stats().pool.destroyedByReason));
		} finally {
			await rotating.close();
		}
	});

	it("pipelines commands and returns each one's [error, value]; a failed command does not stop the others", async () => {
		const results = await client.pipeline([
			["set", "p", "text"],
			["incr", "p"],
			["get", "p"],
		]);
		assert.equal(results.length, 3);
		assert.deepEqual(results[0], [null, "OK"]);
		const [error] = results[1];
		assert.equal(error?.code, RedisErrorCode.REDIS_COMMAND_FAILED);
		assert.equal(error?.command, "INCR");
		assert.match(error?.message ?? "", /not an integer/);
		assert.deepEqual(results[2], [null, "text"]);
		assert.deepEqual(await client.pipeline([]), []);
	});

	it("refuses commands that change the session, pointing to the right API", async () => {
		for (const command of [
			["watch", "k"],
			["MULTI"],
			["select", "1"],
			["subscribe", "c"],
			["client", "setname", "x"],
			["hello", "3"],
			["SYNC"],
			["psync", "?", "-1"],
		] as const) {
			await assert.rejects(
				client.command(command[0], ...command.slice(1)),
				(error: Error & { code?: string }) => error.code === RedisErrorCode.REDIS_COMMAND_FAILED && /withConnection|transaction|subscribe/.test(error.message),
				command[0],
			);
		}
		await assert.rejects(
			client.pipeline([
				["get", "a"],
				["watch", "a"],
			]),
			/changes the connection's session/,
		);
		assert.equal(typeof (await client.command("client", "id")), "number", "CLIENT ID reads only and may share a connection");
	});

	it("runs a blocking command on a dedicated connection while other commands keep flowing", async () => {
		const popped = client.command("blpop", "queue", 5);
		const started = performance.now();
		for (let i = 0; i < 50; i++) await client.get("queue-side");
		const sideMs = performance.now() - started;
		// Behind the BLPOP they would wait its 5 s: 4 s tells the two apart on a loaded machine.
		assert.ok(sideMs < 4_000, `50 GETs took ${sideMs} ms while BLPOP was waiting`);
		await client.command("rpush", "queue", "job-1");
		assert.deepEqual(await popped, [`${prefix}queue`, "job-1"]);
	});

	it("moves a pipeline that contains a blocking command to a dedicated connection", async () => {
		await client.command("rpush", "pipe-queue", "a");
		const results = await client.pipeline([
			["blpop", "pipe-queue", 1],
			["get", "nothing"],
		]);
		assert.deepEqual(results, [
			[null, [`${prefix}pipe-queue`, "a"]],
			[null, null],
		]);
	});
});
