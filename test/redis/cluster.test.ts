/**
 * Redis Cluster: a 6-node cluster (3 primaries, 3 replicas) started by the test on spare ports
 * in a temporary directory, and stopped by the after() hook, failed tests included.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createRedisClusterClient, type RedisClusterClient, RedisCrossSlotError } from "../../src/adapters/redis/index.ts";
import { type InstanceGroup, startCluster } from "../support/redis-instances.ts";

const PREFIX = "lg-cluster:";

describe("Redis Cluster", () => {
	let group: InstanceGroup;
	let cluster: RedisClusterClient;

	before(async () => {
		group = await startCluster();
		cluster = createRedisClusterClient({
			name: "cluster-test",
			nodes: [{ host: "127.0.0.1", port: group.instances[0].port }],
			max: 4,
			commandTimeoutMs: 3_000,
			acquireTimeoutMs: 3_000,
		});
		await cluster.start();
	});
	after(async () => {
		await cluster?.close({ timeoutMs: 2_000 });
		await group?.stop();
	});

	/** The primary ("host:port") that owns `key`'s slot, asked of a node directly. */
	async function ownerOf(key: string): Promise<string> {
		const admin = group.instances[0].admin();
		await admin.connect();
		const slot = (await admin.call("cluster", "keyslot", key)) as number;
		const ranges = (await admin.call("cluster", "slots")) as [number, number, [string, number]][];
		admin.disconnect();
		const range = ranges.find(([from, to]) => slot >= from && slot <= to);
		assert.ok(range, `slot ${slot} is covered`);
		return `${range[2][0]}:${range[2][1]}`;
	}

	describe("configuration", () => {
		it("refuses single-server options and a missing node list, naming every path", () => {
			assert.throws(
				() => createRedisClusterClient({ nodes: [], db: 2, url: "redis://x" } as never),
				(error: Error & { problems?: { path: string }[] }) => {
					assert.deepEqual((error.problems ?? []).map((p) => p.path).sort(), ["db", "nodes", "url"]);
					return true;
				},
			);
		});
	});

	describe("the command path", () => {
		it("sends each key to the primary of its slot: keys spread over all three primaries and read back", async () => {
			const keys = Array.from({ length: 300 }, (_, i) => `${PREFIX}spread:${i}`);
			await Promise.all(keys.map((key, i) => cluster.set(key, String(i))));
			const values = await Promise.all(keys.map((key) => cluster.get(key)));
			assert.deepEqual(
				values,
				keys.map((_, i) => String(i)),
			);
			let primariesWithKeys = 0;
			for (const node of group.instances) {
				const admin = node.admin();
				await admin.connect();
				const role = ((await admin.call("role")) as unknown[])[0];
				if (role === "master" && ((await admin.call("dbsize")) as number) > 0) primariesWithKeys++;
				admin.disconnect();
			}
			assert.equal(primariesWithKeys, 3);
		});
	});

	describe("dedicated connections per node", () => {
		it("runs BLPOP on a connection of its own to the key's primary while other commands go on", async () => {
			const key = `${PREFIX}queue`;
			const owner = await ownerOf(key);
			const popped = cluster.command("blpop", key, 5);
			// The command path is not blocked by the waiting BLPOP.
			await cluster.set(`${PREFIX}other`, "x");
			assert.equal(await cluster.get(`${PREFIX}other`), "x");
			await cluster.command("rpush", key, "job-1");
			assert.deepEqual(await popped, [key, "job-1"]);
			const pool = cluster.pools().find((p) => p.label === `node ${owner}`);
			assert.ok(pool, `a pool labelled node ${owner} among ${cluster.pools().map((p) => p.label)}`);
			assert.ok(pool.pool.stats().created >= 1);
		});

		it("commits a MULTI whose keys share a slot (hash tags) on that slot's primary", async () => {
			const a = `${PREFIX}{user:1}:balance`;
			const b = `${PREFIX}{user:1}:log`;
			await cluster.set(a, "10");
			const outcome = await cluster.transaction(
				async (tx) => {
					const balance = Number(await tx.command("get", a));
					tx.queue("set", a, String(balance - 3)).queue("rpush", b, "-3");
					return balance;
				},
				{ watch: [a] },
			);
			assert.equal(outcome.committed, true);
			assert.equal(outcome.value, 10);
			assert.equal(await cluster.get(a), "7");
			assert.deepEqual(await cluster.command("lrange", b, 0, -1), ["-3"]);
		});

		it("refuses a MULTI spanning slots with REDIS_CROSS_SLOT and sends none of it", async () => {
			const a = `${PREFIX}cross:a`;
			const b = `${PREFIX}cross:b`;
			await assert.rejects(
				cluster.transaction((tx) => void tx.queue("set", a, "1").queue("set", b, "1"), { key: a }),
				(error: unknown) => {
					assert.ok(error instanceof RedisCrossSlotError);
					assert.equal(error.code, "REDIS_CROSS_SLOT");
					assert.equal(error.slots.length, 2);
					return true;
				},
			);
			assert.equal(await cluster.get(a), null);
			assert.equal(await cluster.get(b), null);
			await assert.rejects(
				cluster.transaction(() => {}, { watch: [a, b] }),
				{ code: "REDIS_CROSS_SLOT" },
			);
		});
	});

	describe("pipelines and pub/sub", () => {
		it("pipelines commands of one slot in one round trip, each with its own result; refuses one spanning slots before sending", async () => {
			const counter = `${PREFIX}{order:7}:count`;
			const name = `${PREFIX}{order:7}:name`;
			const results = await cluster.pipeline([
				["set", counter, "1"],
				["incrby", counter, 4],
				["set", name, "seven"],
				["incr", name],
				["get", counter],
			]);
			assert.deepEqual(
				results.map(([error, value]) => (error === null ? value : error.code)),
				["OK", 5, "OK", "REDIS_COMMAND_FAILED", "5"],
				"the failing INCR did not stop the others",
			);
			const a = `${PREFIX}pipe:a`;
			const b = `${PREFIX}pipe:b`;
			await assert.rejects(
				cluster.pipeline([
					["set", a, "1"],
					["set", b, "1"],
				]),
				(error: unknown) => error instanceof RedisCrossSlotError && error.slots.length === 2,
			);
			assert.deepEqual([await cluster.get(a), await cluster.get(b)], [null, null], "nothing of it was sent");
			await assert.rejects(cluster.pipeline([["multi"]]), { code: "REDIS_COMMAND_FAILED" });
		});

		it("runs a pipeline with a blocking command on a dedicated connection to the slot's primary", async () => {
			const queue = `${PREFIX}{jobs}:queue`;
			const owner = await ownerOf(queue);
			const pool = () =>
				cluster
					.pools()
					.find((p) => p.label === `node ${owner}`)
					?.pool.stats();
			const before = pool()?.acquires.ok ?? 0;
			const results = await cluster.pipeline([
				["rpush", queue, "j1", "j2"],
				["blpop", queue, 1],
				["llen", queue],
			]);
			assert.deepEqual(
				results.map(([, value]) => value),
				[2, [queue, "j1"], 1],
			);
			assert.equal((pool()?.acquires.ok ?? 0) - before, 1, `one lease from node ${owner}'s pool`);
		});

		it("delivers messages published through any node to a subscription on a dedicated connection, and gives it back on unsubscribe", async () => {
			const channel = `${PREFIX}events`;
			const owner = await ownerOf(channel);
			const nodePool = () => cluster.pools().find((p) => p.label === `node ${owner}`)?.pool;
			const received: string[] = [];
			const activeBefore = nodePool()?.stats().active ?? 0;
			const subscription = await cluster.subscribe(channel, (message, from) => void received.push(`${from}=${message}`));
			assert.equal(nodePool()?.stats().active, activeBefore + 1, "the subscription holds a connection of the channel's primary");
			// Through the command path, and straight into a node that is not the subscriber's: the cluster bus carries it.
			await cluster.publish(channel, "one");
			const other = group.instances.find((i) => `127.0.0.1:${i.port}` !== owner);
			assert.ok(other);
			const admin = other.admin();
			await admin.connect();
			await admin.call("publish", channel, "two");
			admin.disconnect();
			const deadline = Date.now() + 5_000;
			while (received.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
			assert.deepEqual(received, [`${channel}=one`, `${channel}=two`]);
			await subscription.unsubscribe();
			assert.equal(nodePool()?.stats().active, activeBefore, "unsubscribe gave the connection back");
			await cluster.publish(channel, "three");
			await new Promise((r) => setTimeout(r, 100));
			assert.equal(received.length, 2, "nothing arrives after unsubscribe");
		});
	});

	describe("slot migration", () => {
		it("follows a slot moved to another primary: the command path and a blocking read on a stale slot map both reach the new owner", async () => {
			const key = `${PREFIX}migrating-queue`;
			await cluster.command("rpush", key, "a", "b");
			// The client knows the slot's owner now; its map goes stale when the slot moves behind its back.
			assert.deepEqual(await cluster.command("blpop", key, 1), [key, "a"]);
			const from = await ownerOf(key);
			const byAddress = new Map(group.instances.map((i) => [`127.0.0.1:${i.port}`, i]));
			const source = (byAddress.get(from) as (typeof group.instances)[number]).admin();
			await source.connect();
			const slot = (await source.call("cluster", "keyslot", key)) as number;
			// Roles asked of each node itself: another node's CLUSTER NODES may still list a fresh replica as a master.
			const ids = new Map<string, string>();
			const masters: string[] = [];
			for (const node of group.instances) {
				const admin = node.admin();
				await admin.connect();
				ids.set(`127.0.0.1:${node.port}`, (await admin.call("cluster", "myid")) as string);
				if (((await admin.call("role")) as unknown[])[0] === "master") masters.push(`127.0.0.1:${node.port}`);
				admin.disconnect();
			}
			const sourceId = ids.get(from) as string;
			const targetAddress = masters.find((m) => m !== from) as string;
			const targetId = ids.get(targetAddress) as string;
			const target = (byAddress.get(targetAddress) as (typeof group.instances)[number]).admin();
			await target.connect();
			await target.call("cluster", "setslot", slot, "importing", sourceId);
			await source.call("cluster", "setslot", slot, "migrating", targetId);
			const keys = (await source.call("cluster", "getkeysinslot", slot, 100)) as string[];
			await source.call("migrate", "127.0.0.1", Number(targetAddress.split(":")[1]), "", 0, 5_000, "KEYS", ...keys);
			for (const master of masters) {
				const admin = (byAddress.get(master) as (typeof group.instances)[number]).admin();
				await admin.connect();
				await admin.call("cluster", "setslot", slot, "node", targetId);
				admin.disconnect();
			}
			source.disconnect();
			target.disconnect();
			assert.equal(await ownerOf(key), targetAddress);

			assert.deepEqual(await cluster.command("blpop", key, 1), [key, "b"], "the dedicated path got MOVED, refreshed and ran on the new owner");
			await cluster.command("rpush", key, "c");
			assert.deepEqual(await cluster.command("lrange", key, 0, -1), ["c"]);
			assert.ok(cluster.pools().some((p) => p.label === `node ${targetAddress}`));
		});
	});

	describe("failover", () => {
		it("keeps working through CLUSTER FAILOVER on a replica: writes resume within seconds, none acknowledged is lost, blocking reads reach the new primary", async () => {
			const key = `${PREFIX}failover-queue`;
			const oldOwner = await ownerOf(key);
			const acknowledged = new Map<string, string>();
			let stop = false;
			let failures = 0;
			const writer = async (id: number) => {
				for (let i = 0; !stop; ) {
					const k = `${PREFIX}fo:${id}:${i}`;
					try {
						await cluster.set(k, String(i));
						acknowledged.set(k, String(i));
						i++;
					} catch {
						failures++;
						await new Promise((r) => setTimeout(r, 50));
					}
				}
			};
			const writers = [0, 1, 2, 3].map(writer);
			let newOwner = oldOwner;
			let replicaPort = 0;
			let resumedAfterMs = Number.NaN;
			let asks = 0;
			try {
				await new Promise((r) => setTimeout(r, 300));
				// The replica of the primary that owns `key` takes over (a coordinated, manual failover).
				let replica: (typeof group.instances)[number] | undefined;
				for (const node of group.instances) {
					const admin = node.admin();
					await admin.connect();
					const role = (await admin.call("role")) as unknown[];
					admin.disconnect();
					if (role[0] === "slave" && `${role[1]}:${role[2]}` === oldOwner) {
						replica = node;
						replicaPort = node.port;
						break;
					}
				}
				assert.ok(replica !== undefined, `found the replica of ${oldOwner}`);
				const askFailover = async () => {
					asks++;
					const admin = replica.admin();
					await admin.connect();
					try {
						assert.equal(await admin.call("cluster", "failover"), "OK");
					} finally {
						admin.disconnect();
					}
				};
				await askFailover();
				const failoverAt = Date.now();
				let askedAt = failoverAt;
				while (newOwner === oldOwner && Date.now() - failoverAt < 30_000) {
					await new Promise((r) => setTimeout(r, 100));
					newOwner = await ownerOf(key);
					// Redis aborts a manual failover the replica could not finish within 5 s (a busy machine: the
					// primary's offset to catch up keeps moving); asked again, it goes through. Not FORCE: that one
					// may drop writes the primary acknowledged, which is what this test checks does not happen.
					if (newOwner === oldOwner && Date.now() - askedAt > 6_000) {
						await askFailover();
						askedAt = Date.now();
					}
				}
				const countAtSwitch = acknowledged.size;
				// Timed from the failover request that went through.
				while (acknowledged.size < countAtSwitch + 200 && Date.now() - askedAt < 15_000) await new Promise((r) => setTimeout(r, 50));
				resumedAfterMs = Date.now() - askedAt;
			} finally {
				stop = true;
				await Promise.all(writers);
			}
			assert.equal(newOwner, `127.0.0.1:${replicaPort}`, "the replica owns the slot now");
			assert.ok(resumedAfterMs < 10_000, `writes resumed ${resumedAfterMs} ms after the failover that went through (${failures} failed attempts)`);
			console.log(
				`cluster failover: asked ${asks} time(s), ${acknowledged.size} acknowledged writes, resumed after ${resumedAfterMs} ms, ${failures} failed attempts`,
			);

			const keys = [...acknowledged.keys()];
			// Read back in batches: a failover that took a while leaves a few hundred thousand keys, and that many GETs at
			// once would queue past the client's reply deadline on a loaded machine.
			const values: (string | null)[] = [];
			for (let i = 0; i < keys.length; i += 500) values.push(...(await Promise.all(keys.slice(i, i + 500).map((k) => cluster.get(k)))));
			const lost = keys.filter((k, i) => values[i] !== acknowledged.get(k));
			assert.deepEqual(lost, [], `${lost.length} of ${keys.length} acknowledged writes are missing`);

			// A blocking read for the moved slot now runs on the new primary.
			const popped = cluster.command("blpop", key, 5);
			await cluster.command("rpush", key, "after-failover");
			assert.deepEqual(await popped, [key, "after-failover"]);
			assert.ok(cluster.pools().some((p) => p.label === `node ${newOwner}`));
		});
	});
});
