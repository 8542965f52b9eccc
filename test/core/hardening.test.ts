/** Issue 7's core items: each describe is a bug a new user hit, and the family around it. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import fc from "fast-check";
import { type ConfigError, createKeyedPool, createPool, ErrorCode, type LifeguardError, MAX_DURATION_MS, type PoolOptions } from "../../src/index.ts";
import { waitFor } from "../support/wait.ts";

const INDEX = JSON.stringify(new URL("../../src/index.ts", import.meta.url).href);

function runScript(script: string) {
	return spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 15_000 });
}

describe("keyed pools: a key's identity", () => {
	it("refuses a plain object key without keyToString at the first acquire, saying what to do", async () => {
		const keyed = createKeyedPool<{ host: string; port: number }, string>({ create: (key) => `${key.host}:${key.port}` });
		await assert.rejects(keyed.acquire({ host: "db-a", port: 5432 }), (error: ConfigError) => {
			assert.equal(error.code, ErrorCode.CONFIG_INVALID);
			assert.equal(error.problems[0].path, "keyToString");
			assert.match(error.message, /give the keyed pool a keyToString/);
			return true;
		});
		assert.throws(() => keyed.pool({ host: "db-b", port: 5432 }), { code: ErrorCode.CONFIG_INVALID });
		assert.deepEqual(keyed.keys(), []);
		await keyed.close();
	});

	it("refuses arrays and symbols too (they would share a name with other keys)", async () => {
		const keyed = createKeyedPool<unknown, number>({ create: () => 1 });
		await assert.rejects(keyed.acquire(["a", "b"]), { code: ErrorCode.CONFIG_INVALID });
		await assert.rejects(keyed.acquire(Symbol("a")), { code: ErrorCode.CONFIG_INVALID });
		await keyed.close();
	});

	it("with keyToString, two object keys get two pools and each caller its own key's connection", async () => {
		const keyed = createKeyedPool<{ host: string; port: number }, string>({
			create: (key) => `${key.host}:${key.port}`,
			keyToString: (key) => `${key.host}:${key.port}`,
		});
		const a = await keyed.acquire({ host: "db-a", port: 5432 });
		const b = await keyed.acquire({ host: "db-b", port: 5432 });
		assert.equal(a.resource, "db-a:5432");
		assert.equal(b.resource, "db-b:5432");
		a.release();
		b.release();
		await keyed.close();
	});

	it("primitives and objects with their own toString (URL) are named by String()", async () => {
		const keyed = createKeyedPool<unknown, string>({ create: (key) => String(key) });
		const url = await keyed.acquire(new URL("https://a.example/"));
		const n = await keyed.acquire(5432);
		assert.equal(url.resource, "https://a.example/");
		assert.equal(n.resource, "5432");
		url.release();
		n.release();
		await keyed.close();
	});

	it("property: distinct keys named by keyToString never get each other's connection", async () => {
		await fc.assert(
			fc.asyncProperty(
				fc.uniqueArray(fc.record({ host: fc.constantFrom("a", "b", "c"), port: fc.integer({ min: 1, max: 5 }) }), {
					selector: (k) => `${k.host}:${k.port}`,
					minLength: 1,
					maxLength: 8,
				}),
				async (keys) => {
					const keyed = createKeyedPool<{ host: string; port: number }, string>({
						create: (key) => `${key.host}:${key.port}`,
						keyToString: (key) => `${key.host}:${key.port}`,
						maxTotal: 100,
					});
					const leases = await Promise.all(keys.map((k) => keyed.acquire({ ...k })));
					for (const [i, lease] of leases.entries()) assert.equal(lease.resource, `${keys[i].host}:${keys[i].port}`);
					for (const lease of leases) lease.release();
					await keyed.close();
				},
			),
			{ numRuns: 30 },
		);
	});
});

describe("keyed pools: per-key pools that hold nothing are forgotten", () => {
	it("1,000 one-off keys whose connections were destroyed leave no pool behind", async () => {
		const keyed = createKeyedPool<string, object>({ create: () => ({}), maxTotal: 2_000 });
		for (let i = 0; i < 1_000; i++) (await keyed.acquire(`one-off-${i}`)).destroy();
		await sleep(0);
		assert.equal(keyed.keys().length, 0);
		assert.deepEqual(Object.keys(keyed.stats().keys), []);
		await keyed.close();
	});

	it("with keepIdleKeys a key's pool stays, and its counters with it, after its last connection closed", async () => {
		const keyed = createKeyedPool<string, object>({ create: () => ({}), keepIdleKeys: true });
		(await keyed.acquire("origin-a")).destroy();
		await sleep(0);
		(await keyed.acquire("origin-a")).release();
		assert.deepEqual(keyed.keys(), ["origin-a"]);
		assert.equal(keyed.stats().keys["origin-a"].created, 2);
		assert.throws(() => createKeyedPool<string, object>({ create: () => ({}), keepIdleKeys: "yes" as unknown as boolean }), /keepIdleKeys: must be a boolean/);
		await keyed.close();
	});

	it("1,000 one-off keys whose idle connections time out leave no pool behind", async () => {
		const keyed = createKeyedPool<string, object>({ create: () => ({}), maxTotal: 2_000, idleTimeoutMs: 20 });
		for (let i = 0; i < 1_000; i++) (await keyed.acquire(`one-off-${i}`)).release();
		assert.equal(keyed.keys().length, 1_000);
		await waitFor("every one-off key's pool to be forgotten", () => keyed.keys().length === 0, 3_000);
		assert.equal(keyed.size, 0);
		await keyed.close();
	});

	it("a key whose creates fail is forgotten once its waiter gives up, and served again afterwards", async () => {
		let fail = true;
		const keyed = createKeyedPool<string, string>({ create: (key) => (fail ? Promise.reject(new Error("ECONNREFUSED")) : key), createRetryInitialMs: 5 });
		await assert.rejects(keyed.acquire("down", { timeoutMs: 30 }), { code: ErrorCode.POOL_TIMEOUT });
		await sleep(10);
		assert.deepEqual(keyed.keys(), []);
		fail = false;
		const lease = await keyed.acquire("down");
		assert.equal(lease.resource, "down");
		lease.release();
		await keyed.close();
	});

	it("a key with a connection leased or idle is kept", async () => {
		const keyed = createKeyedPool<string, object>({ create: () => ({}) });
		const held = await keyed.acquire("held");
		(await keyed.acquire("idle")).release();
		await sleep(10);
		assert.deepEqual(keyed.keys().sort(), ["held", "idle"]);
		held.release();
		await keyed.close();
	});
});

/** Bad durations of every kind the validator must refuse. */
const badDuration = fc.oneof(
	fc.double({ max: -Number.MIN_VALUE, noNaN: true }),
	fc.double({ min: MAX_DURATION_MS + 1, max: Number.MAX_VALUE, noNaN: true }),
	fc.constant(Number.NaN),
	fc.constant(Number.POSITIVE_INFINITY),
	fc.integer({ min: 1, max: 100_000 }).map(String),
	fc.constant(null),
	fc.boolean(),
);
const TIMER_DURATIONS = ["createTimeoutMs", "destroyTimeoutMs", "validateTimeoutMs", "createRetryInitialMs", "createRetryMaxMs"] as const;
const ZERO_OK_DURATIONS = ["idleTimeoutMs", "maxLifetimeMs", "leakDetectionMs", "reclaimAfterMs"] as const;

describe("durations: every one the core takes is validated", () => {
	it("property: createPool refuses any bad value of any duration option, naming the option and quoting the value", () => {
		fc.assert(
			fc.property(fc.constantFrom(...TIMER_DURATIONS, ...ZERO_OK_DURATIONS), badDuration, (key, value) => {
				assert.throws(
					() => createPool({ create: () => ({}), [key]: value } as PoolOptions<object>),
					(error: ConfigError) => {
						assert.equal(error.code, ErrorCode.CONFIG_INVALID);
						assert.equal(error.problems[0].path, key);
						if (typeof value === "string") assert.match(error.message, new RegExp(`got "${value}"`));
						if (Number.isNaN(value)) assert.match(error.message, /got NaN/);
						return true;
					},
				);
			}),
			{ numRuns: 300 },
		);
	});

	it("Infinity and values above 2^31-1 are refused for timers that would fire after 1 ms", () => {
		for (const key of TIMER_DURATIONS) {
			assert.throws(() => createPool({ create: () => ({}), [key]: Number.POSITIVE_INFINITY }), /got Infinity/, key);
			assert.throws(() => createPool({ create: () => ({}), [key]: 2 ** 31 }), /at most 2147483647/, key);
		}
	});

	it("acquireTimeoutMs: Infinity is accepted (no deadline), above 2^31-1 refused", () => {
		createPool({ create: () => ({}), acquireTimeoutMs: Number.POSITIVE_INFINITY });
		assert.throws(() => createPool({ create: () => ({}), acquireTimeoutMs: 2 ** 31 }), /use Infinity for no limit/);
	});

	it("property: acquire({ timeoutMs }) rejects bad values even when a connection is idle", async () => {
		const pool = createPool({ create: () => ({}) });
		(await pool.acquire()).release();
		await fc.assert(
			fc.asyncProperty(
				badDuration.filter((v) => v !== Number.POSITIVE_INFINITY),
				async (timeoutMs) => {
					await assert.rejects(pool.acquire({ timeoutMs: timeoutMs as number }), (error: ConfigError) => {
						assert.equal(error.code, ErrorCode.CONFIG_INVALID);
						assert.equal(error.problems[0].path, "timeoutMs");
						return true;
					});
				},
			),
			{ numRuns: 200 },
		);
		assert.equal(pool.idleCount, 1, "the idle connection was not lent");
		await pool.close();
	});

	it('acquire({ timeoutMs: "100" }), 0, -1 and NaN are refused clearly, quoting the value', async () => {
		const pool = createPool({ create: () => ({}) });
		(await pool.acquire()).release();
		await assert.rejects(pool.acquire({ timeoutMs: "100" as unknown as number }), /timeoutMs: must be a number of milliseconds, got "100"/);
		await assert.rejects(pool.acquire({ timeoutMs: 0 }), /timeoutMs: must be greater than 0, got 0/);
		await assert.rejects(pool.acquire({ timeoutMs: -1 }), /timeoutMs: must not be negative, got -1/);
		await assert.rejects(pool.acquire({ timeoutMs: Number.NaN }), /timeoutMs: must be a number of milliseconds, got NaN/);
		const lease = await pool.acquire({ timeoutMs: Number.POSITIVE_INFINITY });
		lease.release();
		await pool.close();
	});

	it("close({ timeoutMs }) refuses -1, NaN, strings and values above 2^31-1, and leaves the pool open", async () => {
		const pool = createPool({ create: () => ({}) });
		for (const timeoutMs of [-1, Number.NaN, "500", 2 ** 31]) {
			await assert.rejects(pool.close({ timeoutMs: timeoutMs as number }), { code: ErrorCode.CONFIG_INVALID });
		}
		assert.equal(pool.closed, false);
		await pool.close({ timeoutMs: 0 });
		assert.equal(pool.closed, true);
	});

	it("keyed close({ timeoutMs }) and remove(key, { timeoutMs }) refuse bad values before closing anything", async () => {
		const keyed = createKeyedPool<string, object>({ create: () => ({}) });
		(await keyed.acquire("a")).release();
		await assert.rejects(keyed.remove("a", { timeoutMs: -1 }), { code: ErrorCode.CONFIG_INVALID });
		await assert.rejects(keyed.close({ timeoutMs: Number.NaN }), /got NaN/);
		assert.deepEqual(keyed.keys(), ["a"]);
		(await keyed.acquire("a")).release();
		await keyed.close();
	});

	it("close() refuses an option it does not know (a misspelt timeoutMs got the 30 s default), saying what was meant, and leaves the pool open", async () => {
		const pool = createPool({ create: () => ({}) });
		(await pool.acquire()).release();
		await assert.rejects(pool.close({ timoutMs: 0 } as never), (error: ConfigError) => {
			assert.equal(error.code, ErrorCode.CONFIG_INVALID);
			assert.deepEqual(
				error.problems.map((p) => p.path),
				["timoutMs"],
			);
			assert.match(error.message, /timoutMs: unknown close\(\) option \(did you mean "timeoutMs"\?\); known: timeoutMs/);
			return true;
		});
		// Every problem at once: the unknown key and the bad value of the known one.
		await assert.rejects(pool.drain({ timeoutMs: -1, force: true } as never), (error: ConfigError) => {
			assert.deepEqual(error.problems.map((p) => p.path).sort(), ["force", "timeoutMs"]);
			return true;
		});
		await assert.rejects(pool.close("fast" as never), /options: must be an object/);
		assert.equal(pool.closed, false);
		assert.equal(pool.idleCount, 1);
		await pool.close({ timeoutMs: 0 });
	});

	it("keyed close() and remove() refuse unknown options before closing anything", async () => {
		const keyed = createKeyedPool<string, object>({ create: () => ({}) });
		(await keyed.acquire("a")).release();
		await assert.rejects(keyed.remove("a", { timeout: 5 } as never), /timeout: unknown close\(\) option \(did you mean "timeoutMs"\?\)/);
		await assert.rejects(keyed.close({ timeoutMS: 5 } as never), /timeoutMS: unknown close\(\) option \(did you mean "timeoutMs"\?\)/);
		assert.deepEqual(keyed.keys(), ["a"]);
		(await keyed.acquire("a")).release();
		await keyed.close();
	});

	it("close({ timeoutMs: Infinity }) waits for the lease however long it takes", async () => {
		const pool = createPool({ create: () => ({}) });
		const lease = await pool.acquire();
		let closed = false;
		const closing = pool.close({ timeoutMs: Number.POSITIVE_INFINITY }).then(() => (closed = true));
		await sleep(30);
		assert.equal(closed, false, "a timer clamped to 1 ms would have destroyed the lease already");
		lease.release();
		await closing;
	});

	it("integer options quote what they got (NaN, not null)", () => {
		assert.throws(() => createPool({ create: () => ({}), max: Number.NaN }), /max: must be an integer, got NaN/);
		assert.throws(() => createPool({ create: () => ({}), min: "2" as unknown as number }), /min: must be an integer, got "2"/);
		assert.throws(() => createKeyedPool({ create: () => ({}), maxTotal: Number.NaN }), /maxTotal: must be an integer >= 1, got NaN/);
	});
});

describe("await pool.close() keeps the process alive until it settles", () => {
	it("with a leaked lease: the code after the await runs and the exit code is 0", () => {
		const child = runScript(`
			import { createPool } from ${INDEX};
			const pool = createPool({ create: () => ({}) });
			await pool.acquire();
			await pool.close({ timeoutMs: 200 });
			console.log("after close", pool.stats().destroyedByReason.poolClosed);
		`);
		assert.equal(child.stdout.trim(), "after close 1", child.stderr);
		assert.equal(child.status, 0);
	});

	it("with a destroy that never settles: the code after the await runs and the exit code is 0", () => {
		const child = runScript(`
			import { createPool } from ${INDEX};
			const pool = createPool({ create: () => ({}), destroy: () => new Promise(() => {}), destroyTimeoutMs: 200 });
			(await pool.acquire()).release();
			const started = performance.now();
			await pool.close();
			console.log("after close", performance.now() - started >= 190);
		`);
		assert.equal(child.stdout.trim(), "after close true", child.stderr);
		assert.equal(child.status, 0);
	});
});

describe("stats().reuseRatio counts acquires served by an existing connection", () => {
	it("after warming min 10, ten acquires report 1", async () => {
		const pool = createPool({ create: () => ({}), min: 10, max: 10 });
		await pool.start();
		const leases = await Promise.all(Array.from({ length: 10 }, () => pool.acquire()));
		assert.equal(pool.stats().reuseRatio, 1);
		for (const lease of leases) lease.release();
		await pool.close();
	});

	it("an acquire served by a connection created for it is not a reuse", async () => {
		const pool = createPool({ create: () => ({}) });
		(await pool.acquire()).release();
		assert.equal(pool.stats().reuseRatio, 0);
		(await pool.acquire()).release();
		assert.equal(pool.stats().reuseRatio, 0.5);
		await pool.close();
	});
});

describe("a factory that returns an object already in the pool", () => {
	it("fails the acquire with CREATE_FAILED naming the problem, and never lends the object twice", async () => {
		const shared = { id: 1 };
		let destroyed = 0;
		const pool = createPool({ create: () => shared, destroy: () => void destroyed++, max: 2 });
		const first = await pool.acquire();
		await assert.rejects(pool.acquire({ timeoutMs: 5_000 }), (error: LifeguardError) => {
			assert.equal(error.code, ErrorCode.CREATE_FAILED);
			assert.match(error.message, /already in the pool \(connection 1\)/);
			return true;
		});
		assert.equal(first.active, true);
		assert.equal(destroyed, 0, "the object belongs to the first connection: not destroyed");
		assert.equal(pool.size, 1);
		first.release();
		await pool.close();
	});
});

describe("a keyed factory that returns one object for two keys", () => {
	it("fails the second key's acquire with CREATE_FAILED instead of lending the object under both keys", async () => {
		const shared = { id: 1 };
		const keyed = createKeyedPool<string, object>({ create: () => shared });
		const a = await keyed.acquire("a");
		await assert.rejects(keyed.acquire("b", { timeoutMs: 5_000 }), { code: ErrorCode.CREATE_FAILED, message: /already in another key's pool/ });
		a.destroy();
		await sleep(0);
		const b = await keyed.acquire("b");
		assert.equal(b.resource, shared, "once closed under key a, the object may serve key b");
		b.release();
		await keyed.close();
	});
});

describe("Symbol.asyncDispose", () => {
	it("await using closes a pool and a keyed pool at scope exit", async () => {
		const pool = createPool({ create: () => ({}) });
		const keyed = createKeyedPool<string, object>({ create: () => ({}) });
		{
			await using p = pool;
			await using k = keyed;
			(await p.acquire()).release();
			(await k.acquire("a")).release();
		}
		assert.equal(pool.closed, true);
		await assert.rejects(keyed.acquire("a"), { code: ErrorCode.POOL_CLOSED });
	});
});

describe("lease.resource after the lease ended", () => {
	it("throws LEASE_INVALID after release, destroy and reclaim", async () => {
		const pool = createPool({ create: () => ({}) });
		const released = await pool.acquire();
		released.release();
		assert.throws(() => released.resource, { code: ErrorCode.LEASE_INVALID, message: /after the lease ended/ });
		const destroyed = await pool.acquire();
		destroyed.destroy();
		assert.throws(() => destroyed.resource, { code: ErrorCode.LEASE_INVALID });
		const reclaimed = await pool.acquire();
		pool.reclaim(reclaimed);
		assert.throws(() => reclaimed.resource, { code: ErrorCode.LEASE_INVALID });
		await pool.close();
	});
});
