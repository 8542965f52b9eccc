import assert from "node:assert/strict";
import { once } from "node:events";
import { after, before, describe, it } from "node:test";
import type { Redis } from "ioredis";
import { createRedisClient, type RedisClient } from "../../src/adapters/redis/index.ts";
import { requireService } from "../support/services.ts";
import { adminConnection, clientsNamed, deleteKeys, TEST_DB, uniqueName } from "./fixtures.ts";

const name = uniqueName("reset");
const prefix = `${name}:`;
let admin: Redis;
let client: RedisClient;
let afterCreateCalls = 0;

before(async () => {
	await requireService("redis");
	admin = await adminConnection();
	// One connection: every acquire gets the connection the previous borrower released.
	client = createRedisClient({
		db: TEST_DB,
		keyPrefix: prefix,
		connectionName: name,
		max: 1,
		afterCreate: async (redis) => {
			afterCreateCalls++;
			await redis.set("after-create-ran", String(afterCreateCalls));
		},
	});
});

after(async () => {
	await client?.close();
	if (admin !== undefined) {
		await deleteKeys(admin, prefix);
		admin.disconnect();
	}
});

/** The server's view of the client's only connection. */
async function serverView(): Promise<Record<string, string>> {
	const [only, ...others] = await clientsNamed(admin, name);
	assert.ok(only !== undefined, `no connection named ${name}`);
	assert.equal(others.length, 0);
	return only;
}

describe("reset on release: a connection goes back clean", () => {
	it("reuses a clean connection without sending anything on release", async () => {
		await client.withConnection((redis) => redis.get("clean"));
		await client.withConnection((redis) => redis.get("clean"));
		const view = await serverView();
		assert.equal(view.cmd, "get", "the last command the server saw is the borrower's GET, not UNWATCH or RESET");
		assert.equal(client.stats().pool.created, 1);
	});

	it("unwatches a connection left in WATCH", async () => {
		const first = await client.acquire();
		await first.resource.watch("watched");
		first.release();
		await admin.set(`${prefix}watched`, "changed by someone else");
		const second = await client.acquire();
		assert.equal(second.connectionId, first.connectionId);
		const exec = await second.resource.multi().set("watched", "mine").exec();
		second.release();
		assert.notEqual(exec, null, "EXEC was refused: the WATCH survived the release");
		assert.equal(await admin.get(`${prefix}watched`), "mine");
	});

	it("discards a MULTI left open", async () => {
		const first = await client.acquire();
		await first.resource.call("multi");
		await first.resource.call("set", "in-multi", "queued");
		first.release();
		const second = await client.acquire();
		assert.equal(second.connectionId, first.connectionId);
		assert.equal(await second.resource.get("in-multi"), null, "a GET answered QUEUED or the queued SET ran");
		second.release();
	});

	it("RESETs a connection that changed database and selects the configured one again", async () => {
		const first = await client.acquire();
		await first.resource.select(3);
		first.release();
		const second = await client.acquire();
		assert.equal(second.connectionId, first.connectionId, "reset, not replaced");
		await second.resource.set("db-check", "here");
		second.release();
		assert.equal(await admin.get(`${prefix}db-check`), "here");
		assert.equal((await serverView()).db, String(TEST_DB));
	});

	it("RESETs a renamed connection and gives it its configured name back, running afterCreate again", async () => {
		const callsBefore = afterCreateCalls;
		await client.withConnection((redis) => redis.client("SETNAME", "borrowers-name"));
		await client.withConnection((redis) => redis.ping());
		const view = await serverView();
		assert.equal(view.name, name);
		assert.equal(afterCreateCalls, callsBefore + 1, "afterCreate sets the session up again after RESET");
	});

	it("speaks the negotiated protocol again after RESET", async () => {
		await client.withConnection((redis) => redis.select(2));
		await client.withConnection((redis) => redis.ping());
		const view = await serverView();
		assert.equal(view.resp, "3", "RESET falls back to RESP2; HELLO 3 must follow it");
		const hash = await client.withConnection(async (redis) => {
			await redis.hset("hash", "field", "value");
			return redis.hgetall("hash");
		});
		assert.deepEqual(hash, { field: "value" });
	});

	it("unsubscribes a connection left subscribed and drops the borrower's message listeners", async () => {
		const first = await client.acquire();
		const seen: string[] = [];
		first.resource.on("message", (_channel: string, message: string) => seen.push(message));
		await first.resource.subscribe(`${name}-left-open`);
		await first.resource.psubscribe(`${name}-pattern-*`);
		first.release();
		const second = await client.acquire();
		assert.equal(second.connectionId, first.connectionId);
		assert.equal(second.resource.listenerCount("message"), 0);
		assert.equal(await second.resource.set("after-sub", "ok"), "OK");
		second.release();
		const view = await serverView();
		assert.equal(view.sub, "0");
		assert.equal(view.psub, "0");
		assert.equal(await admin.publish(`${name}-left-open`, "nobody listens"), 0);
		assert.deepEqual(seen, []);
	});

	it("destroys a connection whose reset fails instead of lending it", async () => {
		let failSetup = false;
		const fragile = createRedisClient({
			db: TEST_DB,
			keyPrefix: prefix,
			max: 1,
			afterCreate: () => {
				if (failSetup) throw new Error("session setup failed");
			},
		});
		try {
			const first = await fragile.acquire();
			await first.resource.select(4);
			failSetup = true;
			const closed = once(fragile.pool, "connectionClosed");
			first.release();
			const [event] = await closed;
			failSetup = false;
			assert.equal(event.connectionId, first.connectionId);
			assert.equal(event.reason, "error");
			const second = await fragile.acquire();
			assert.notEqual(second.connectionId, first.connectionId);
			const stats = fragile.stats().pool;
			assert.equal(stats.destroyedByReason.error, 1);
			assert.equal(await second.resource.ping(), "PONG");
			second.release();
		} finally {
			await fragile.close();
		}
	});
});
