import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Redis } from "ioredis";
import { RedisErrorCode } from "../../src/adapters/redis/errors.ts";
import { createRedisClient } from "../../src/adapters/redis/index.ts";
import { ErrorCode, LifeguardError } from "../../src/core/errors.ts";
import { requireService, services } from "../support/services.ts";
import { TcpProxy } from "../support/tcp-proxy.ts";
import { adminConnection, clientsNamed, deleteKeys, killClientsNamed, recordProcessErrors, sleep, TEST_DB, uniqueName, waitFor } from "./fixtures.ts";

const name = uniqueName("faults");
const prefix = `${name}:`;
let admin: Redis;

before(async () => {
	await requireService("redis");
	admin = await adminConnection();
});

after(async () => {
	if (admin !== undefined) {
		await deleteKeys(admin, prefix);
		admin.disconnect();
	}
});

describe("connections killed by the server (CLIENT KILL)", () => {
	it("fails only the calls in flight, with a typed error, lets nothing escape, and recovers to min by itself", async () => {
		const connectionName = `${name}-busy`;
		const client = createRedisClient({ db: TEST_DB, keyPrefix: prefix, connectionName, min: 3, max: 8 });
		const recorder = recordProcessErrors();
		try {
			await client.start();
			const failures: unknown[] = [];
			let successes = 0;
			let running = true;
			const call = async (work: () => Promise<unknown>) => {
				try {
					await work();
					successes++;
				} catch (error) {
					failures.push(error);
				}
			};
			const commandLoop = async (i: number) => {
				while (running) await call(() => (i % 2 === 0 ? client.set(`k${i}`, String(i)) : client.get(`k${i}`)));
			};
			const blockingLoop = async (i: number) => {
				while (running) await call(() => client.command("blpop", `never-${i}`, 1));
			};
			const transactionLoop = async () => {
				while (running) await call(() => client.transaction((tx) => void tx.queue("incr", "tx-count"), { watch: ["tx-count"] }));
			};
			const load = Promise.all([...Array.from({ length: 12 }, (_, i) => commandLoop(i)), blockingLoop(1), blockingLoop(2), transactionLoop()]);

			await sleep(200);
			const killedFirst = await killClientsNamed(admin, connectionName);
			await sleep(300);
			// The second kill must find the pool's new connections: wait for them (a loaded machine may reconnect later than 300 ms).
			await waitFor("the pool to reconnect to min", async () => (await clientsNamed(admin, connectionName)).length >= 3);
			const killedSecond = await killClientsNamed(admin, connectionName);
			await sleep(300);
			const successesBeforeStop = successes;
			running = false;
			await load;

			assert.ok(killedFirst >= 3 && killedSecond >= 3, `killed ${killedFirst} then ${killedSecond} connections`);
			assert.ok(failures.length > 0, "the kills hit calls in flight");
			for (const error of failures) {
				assert.ok(error instanceof LifeguardError, `untyped failure: ${String(error)}`);
				assert.equal(error.code, ErrorCode.CONNECTION_LOST, error.message);
			}
			assert.ok(successesBeforeStop > 100, `only ${successesBeforeStop} calls succeeded`);

			assert.equal(await client.get("k0"), "0");
			assert.equal(await client.command("blpop", "never-1", 0.01), null);
			await waitFor("min connections again, all alive", async () => client.pool.size >= 3 && (await clientsNamed(admin, connectionName)).length >= 3);
			assert.ok(client.stats().pool.destroyedByReason.error >= killedFirst);
			assert.deepEqual(recorder.errors, []);
		} finally {
			recorder.stop();
			await client.close();
		}
	});

	it("drops idle connections the server killed without crashing, counts them, and restores min", async () => {
		const connectionName = `${name}-idle`;
		const client = createRedisClient({ db: TEST_DB, connectionName, min: 2 });
		const recorder = recordProcessErrors();
		try {
			await client.start();
			const before = (await clientsNamed(admin, connectionName)).map((c) => c.id);
			assert.equal(before.length, 2);
			await killClientsNamed(admin, connectionName);
			await waitFor("both closed as errors", () => client.stats().pool.destroyedByReason.error === 2);
			await waitFor("two new connections", async () => {
				const now = (await clientsNamed(admin, connectionName)).map((c) => c.id);
				return now.length === 2 && now.every((id) => !before.includes(id));
			});
			assert.equal(await client.get("k"), null);
			assert.deepEqual(recorder.errors, []);
		} finally {
			recorder.stop();
			await client.close();
		}
	});
});

describe("network faults (TcpProxy)", () => {
	let proxy: TcpProxy;

	before(async () => {
		proxy = await TcpProxy.start(services.redis.port, services.redis.host);
	});

	after(async () => {
		await proxy?.close();
	});

	it("gives up a connect to a server that accepts but never answers at createTimeoutMs, and closes the socket", async () => {
		proxy.setMode("stall");
		const client = createRedisClient({ port: proxy.port, db: TEST_DB, createTimeoutMs: 200, acquireTimeoutMs: 700 });
		try {
			const started = performance.now();
			await assert.rejects(client.get("k"), (error: LifeguardError & { cause?: LifeguardError }) => {
				assert.equal(error.code, ErrorCode.POOL_TIMEOUT);
				assert.equal(error.cause?.code, ErrorCode.CREATE_TIMEOUT);
				return true;
			});
			const waited = performance.now() - started;
			assert.ok(waited >= 650 && waited < 1_200, `the acquire settled after ${waited} ms, not at its 700 ms deadline`);
			assert.ok(client.stats().pool.createFailures >= 2, "each create was cut at 200 ms and retried");
			// A stalled proxy reads nothing, so it sees our side close only once it reads again.
			proxy.setMode("pass");
			await waitFor("every stalled socket closed by the client", () => proxy.connections === 0, 1_000);
		} finally {
			await client.close();
			proxy.setMode("pass");
		}
	});

	it("a stalled connection: the timed-out command is QUERY_TIMEOUT, the one behind it CONNECTION_LOST, and the pool moves on", async () => {
		proxy.setMode("pass");
		const client = createRedisClient({ port: proxy.port, db: TEST_DB, keyPrefix: prefix, sharedConnections: 1 });
		try {
			await client.set("stall", "before");
			proxy.setMode("stall");
			const [timed, behind] = await Promise.allSettled([client.get("stall", { timeoutMs: 200 }), client.get("stall")]);
			assert.equal(timed.status, "rejected");
			assert.equal((timed as PromiseRejectedResult).reason.code, RedisErrorCode.REDIS_TIMEOUT);
			assert.equal(behind.status, "rejected");
			assert.equal((behind as PromiseRejectedResult).reason.code, ErrorCode.CONNECTION_LOST);
			proxy.setMode("pass");
			assert.equal(await client.get("stall"), "before");
			assert.equal(client.stats().pool.destroyedByReason.error, 1);
		} finally {
			proxy.setMode("pass");
			await client.close();
		}
	});

	it("a cut network fails the call in flight with CONNECTION_LOST and the next call reconnects", async () => {
		proxy.setMode("pass");
		const client = createRedisClient({ port: proxy.port, db: TEST_DB, keyPrefix: prefix });
		const recorder = recordProcessErrors();
		try {
			await client.set("cut", "1");
			const pending = client.command("blpop", "cut-queue", 5);
			await sleep(50);
			proxy.cutAll();
			await assert.rejects(pending, (error: LifeguardError) => error.code === ErrorCode.CONNECTION_LOST);
			assert.equal(await client.get("cut"), "1");
			assert.deepEqual(recorder.errors, []);
		} finally {
			recorder.stop();
			await client.close();
		}
	});
});
