/**
 * Redis Sentinel: the client finds the primary through three sentinels and follows a forced
 * failover. The instances (a primary, its replica, three sentinels) are started by the test on
 * spare ports in a temporary directory, and stopped by the after() hook.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createRedisClient, type RedisClient } from "../../src/adapters/redis/index.ts";
import { type SentinelSetup, startSentinels } from "../support/redis-instances.ts";

const PREFIX = "lg-sentinel:";

describe("Redis Sentinel", () => {
	let setup: SentinelSetup;
	let redis: RedisClient;

	before(async () => {
		setup = await startSentinels();
		redis = createRedisClient({
			name: "sentinel-test",
			sentinel: { sentinels: setup.sentinels.map((s) => ({ host: "127.0.0.1", port: s.port })), masterName: setup.masterName },
			max: 4,
			commandTimeoutMs: 2_000,
			acquireTimeoutMs: 3_000,
		});
	});
	after(async () => {
		await redis?.close({ timeoutMs: 2_000 });
		await setup?.stop();
	});

	it("connects to the primary the sentinels name, not to a sentinel or the replica", async () => {
		await redis.set(`${PREFIX}hello`, "world");
		assert.equal(await redis.get(`${PREFIX}hello`), "world");
		const role = (await redis.command("role")) as unknown[];
		assert.equal(role[0], "master");
		const reply = (await redis.command("config", "get", "port")) as string[];
		assert.equal(Number(reply[1]), setup.primary.port);
	});

	it("refuses a sentinel option without sentinels or a master name, naming each path", () => {
		assert.throws(
			() => createRedisClient({ sentinel: { sentinels: [], masterName: "" } }),
			(error: Error & { problems?: { path: string }[] }) => {
				const paths = (error.problems ?? []).map((p) => p.path);
				assert.deepEqual(paths.sort(), ["sentinel.masterName", "sentinel.sentinels"]);
				return true;
			},
		);
	});

	it("follows SENTINEL FAILOVER mid-load: writes resume within seconds on the new primary and no acknowledged write is lost", async () => {
		// A write counts as acknowledged once WAIT, on the connection that wrote it, says a replica has
		// it: a write the old primary took after the promotion never reaches the new one, and WAIT does
		// not confirm it.
		const acknowledged = new Map<string, string>();
		let stop = false;
		let failoverAt = 0;
		let failures = 0;
		const writer = async (id: number) => {
			for (let i = 0; !stop; ) {
				const key = `${PREFIX}w${id}:${i}`;
				try {
					// SET and WAIT in one pipeline, so on one connection: WAIT counts the replicas that have
					// the connection's own last write, and a WAIT on another connection would confirm nothing.
					const [[setError], [waitError, replicas]] = await redis.pipeline([
						["set", key, String(i)],
						["wait", 1, 500],
					]);
					if (setError !== null || waitError !== null) throw setError ?? waitError;
					if ((replicas as number) >= 1) {
						acknowledged.set(key, String(i));
						i++;
					}
				} catch {
					failures++;
					await new Promise((r) => setTimeout(r, 50));
				}
			}
		};
		const writers = [0, 1, 2, 3].map(writer);
		await new Promise((r) => setTimeout(r, 500));
		const before = acknowledged.size;
		assert.ok(before > 0, "writes are acknowledged before the failover");

		const sentinel = setup.sentinels[0].admin();
		await sentinel.connect();
		assert.equal(await sentinel.call("sentinel", "failover", setup.masterName), "OK");
		failoverAt = Date.now();

		// The new primary is the old replica; wait for the client to write there and keep writing.
		const deadline = Date.now() + 35_000;
		let onNewPrimary = false;
		while (Date.now() < deadline && !onNewPrimary) {
			await new Promise((r) => setTimeout(r, 200));
			try {
				const reply = (await redis.command("config", "get", "port")) as string[];
				onNewPrimary = Number(reply[1]) === setup.replica.port && ((await redis.command("role")) as unknown[])[0] === "master";
			} catch {}
		}
		const switchedAfterMs = Date.now() - failoverAt;
		// Acknowledged again once the demoted primary has resynced as the new primary's replica
		// (sentinel reconfigures it some seconds after the switch: its INFO must first show the mismatch).
		const countAtSwitch = acknowledged.size;
		while (Date.now() < deadline && acknowledged.size < countAtSwitch + 20) await new Promise((r) => setTimeout(r, 50));
		const resumedAfterMs = Date.now() - failoverAt;
		stop = true;
		await Promise.all(writers);

		assert.ok(onNewPrimary, "the client reaches the promoted replica");
		assert.ok(acknowledged.size >= countAtSwitch + 20, `writes continue on the new primary (${failures} failed attempts)`);
		assert.ok(switchedAfterMs < 5_000, `commands reached the new primary ${switchedAfterMs} ms after the failover`);
		assert.ok(resumedAfterMs < 35_000, `replica-acknowledged writes resumed ${resumedAfterMs} ms after the failover`);
		console.log(
			`sentinel failover: on the new primary after ${switchedAfterMs} ms, replica-acknowledged writes again after ${resumedAfterMs} ms, ${failures} failed attempts, ${acknowledged.size} acknowledged`,
		);

		const primary = setup.replica.admin();
		await primary.connect();
		const keys = [...acknowledged.keys()];
		const values = await primary.mget(...keys);
		const lost = keys.filter((key, i) => values[i] !== acknowledged.get(key));
		assert.deepEqual(lost, [], `${lost.length} of ${keys.length} acknowledged writes are missing on the new primary`);
	});
});
