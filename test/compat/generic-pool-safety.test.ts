/**
 * Where the compat layer keeps the lifeguard core's safety instead of generic-pool's defects
 * (docs/compat-generic-pool.md, "Differences"), and what it adds on top of generic-pool's API.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import genericPool from "generic-pool";
import {
	createPool,
	type Factory,
	GenericPoolMessage,
	NotBorrowedError,
	type Options,
	type Pool,
	PoolDrainingError,
	TimeoutError,
	WaitingClientsExceededError,
} from "../../src/compat/generic-pool.ts";
import { ErrorCode, LifeguardError } from "../../src/core/errors.ts";

interface Res {
	id: number;
}

function counting(extra: Partial<Factory<Res>> = {}) {
	const state = { created: 0, destroyed: [] as Res[] };
	const factory: Factory<Res> = {
		create: () => ({ id: state.created++ }),
		destroy: (r) => {
			state.destroyed.push(r);
		},
		...extra,
	};
	return { factory, state };
}

const open: Pool<unknown>[] = [];
function track<T>(pool: Pool<T>): Pool<T> {
	open.push(pool as Pool<unknown>);
	return pool;
}

const unhandled: unknown[] = [];
const onUnhandled = (e: unknown) => unhandled.push(e);
before(() => process.on("unhandledRejection", onUnhandled));
after(async () => {
	process.off("unhandledRejection", onUnhandled);
	for (const pool of open) await pool.core.close({ timeoutMs: 100 });
	assert.deepEqual(unhandled, []);
});

describe("a failing factory.create", () => {
	it("is retried with backoff, not in a busy loop, and the caller fails at acquireTimeoutMillis with the create error as cause", async () => {
		let attempts = 0;
		const refused = new Error("connect ECONNREFUSED 127.0.0.1:1");
		const pool = track(
			createPool<Res>(
				{
					create: () => {
						attempts++;
						return Promise.reject(refused);
					},
					destroy: () => {},
				},
				{ acquireTimeoutMillis: 300 },
			),
		);
		const errors: unknown[] = [];
		pool.on("factoryCreateError", (e) => errors.push(e));
		const started = performance.now();
		await assert.rejects(pool.acquire(), (err: TimeoutError) => {
			assert.ok(err instanceof TimeoutError);
			assert.equal(err.message, GenericPoolMessage.timeout);
			assert.equal(err.cause, refused);
			assert.match(err.state.lastCreateError ?? "", /ECONNREFUSED/);
			return true;
		});
		const waited = performance.now() - started;
		assert.ok(waited >= 290 && waited < 600, `rejected after ${waited} ms`);
		assert.ok(attempts >= 2 && attempts <= 6, `${attempts} create attempts in 300 ms`);
		assert.equal(errors.length, attempts);
	});

	it("leaves a caller without acquireTimeoutMillis waiting, and serves it once create recovers", async () => {
		let failing = true;
		const pool = track(
			createPool<Res>({
				create: () => (failing ? Promise.reject(new Error("down")) : Promise.resolve({ id: 1 })),
				destroy: () => {},
			}),
		);
		let settled = false;
		const acquiring = pool.acquire().finally(() => (settled = true));
		await sleep(250);
		assert.equal(settled, false);
		failing = false;
		const resource = await acquiring;
		assert.equal(resource.id, 1);
		await pool.release(resource);
	});

	it("loads with require() as well as import", () => {
		const compat = fileURLToPath(new URL("../../src/compat/generic-pool.ts", import.meta.url));
		const script = `const gp = require(${JSON.stringify(compat)}); console.log(typeof gp.createPool, typeof gp.default.createPool);`;
		const child = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", timeout: 10_000 });
		assert.equal(child.status, 0, child.stderr);
		assert.equal(child.stdout.trim(), "function function");
	});

	it("keeps the process alive while a caller waits, so a top-level await gets its TimeoutError", () => {
		const compat = new URL("../../src/compat/generic-pool.ts", import.meta.url).href;
		const script = `
			import { createPool } from ${JSON.stringify(compat)};
			const pool = createPool({ create: () => Promise.reject(new Error("down")), destroy: () => {} }, { acquireTimeoutMillis: 300 });
			try { await pool.acquire(); } catch (err) { console.log(err.name, err.cause.message); }
		`;
		const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 10_000 });
		assert.equal(child.status, 0, child.stderr);
		assert.equal(child.stdout.trim(), "TimeoutError down");
	});

	it("abandons a create that hangs past createTimeoutMillis, reports it as factoryCreateError and retries", async () => {
		let attempts = 0;
		const pool = track(
			createPool<Res>(
				{
					create: () => (++attempts === 1 ? new Promise<Res>(() => {}) : { id: attempts }),
					destroy: () => {},
				},
				{ createTimeoutMillis: 50 },
			),
		);
		const errors: LifeguardError[] = [];
		pool.on("factoryCreateError", (e) => errors.push(e as LifeguardError));
		const resource = await pool.acquire();
		assert.equal(resource.id, 2);
		assert.deepEqual(
			errors.map((e) => e.code),
			[ErrorCode.CREATE_TIMEOUT],
		);
		await pool.release(resource);
	});

	it("reports a synchronous throw as factoryCreateError instead of throwing from acquire", async () => {
		let attempts = 0;
		const pool = track(
			createPool<Res>({
				create: () => {
					if (attempts++ === 0) throw new Error("sync failure");
					return { id: attempts };
				},
				destroy: () => {},
			}),
		);
		const errors: unknown[] = [];
		pool.on("factoryCreateError", (e) => errors.push(e));
		const resource = await pool.acquire();
		assert.equal((errors[0] as Error).message, "sync failure");
		await pool.release(resource);
	});
});

describe("clear() without drain()", () => {
	it("never lends a destroyed resource again", async () => {
		const { factory, state } = counting();
		const pool = track(createPool(factory, { max: 2 }));
		const [a, b] = await Promise.all([pool.acquire(), pool.acquire()]);
		await pool.release(a);
		await pool.release(b);
		await pool.clear();
		const fresh = await pool.acquire();
		assert.ok(!state.destroyed.includes(fresh));
		assert.equal(fresh.id, 2);
		await pool.release(fresh);
	});

	it("is needed because generic-pool 3.9 lends the destroyed resource", async () => {
		const { factory, state } = counting();
		const pool = genericPool.createPool(factory as genericPool.Factory<Res>, { max: 1 });
		await pool.release(await pool.acquire());
		await pool.clear();
		const reused = await pool.acquire();
		assert.ok(state.destroyed.includes(reused), "generic-pool no longer lends destroyed resources: update docs/compat-generic-pool.md");
		await pool.release(reused);
		await pool.drain();
	});

	it("retires resources borrowed during clear when they come back", async () => {
		const { factory, state } = counting();
		const pool = track(createPool(factory, { max: 1 }));
		const held = await pool.acquire();
		await pool.clear();
		assert.deepEqual(state.destroyed, []);
		await pool.release(held);
		assert.deepEqual(state.destroyed, [held]);
		const fresh = await pool.acquire();
		assert.notEqual(fresh, held);
		await pool.release(fresh);
	});

	it("refills min afterwards", async () => {
		const { factory } = counting();
		const pool = track(createPool(factory, { min: 2, max: 4 }));
		await pool.ready();
		await pool.clear();
		await pool.ready();
		assert.equal(pool.available, 2);
	});
});

describe("options generic-pool would ignore or trip over", () => {
	it("testOnBorrow without factory.validate is a CONFIG_INVALID error at construction", () => {
		assert.throws(
			() => createPool(counting().factory, { testOnBorrow: true }),
			(err: LifeguardError) => {
				assert.equal(err.code, ErrorCode.CONFIG_INVALID);
				assert.match(err.message, /testOnBorrow: needs factory.validate/);
				return true;
			},
		);
	});

	it("acquireTimeoutMillis that is negative or not a number is a CONFIG_INVALID error at construction", () => {
		for (const bad of [-5, "soon"]) {
			assert.throws(() => createPool(counting().factory, { acquireTimeoutMillis: bad } as unknown as Options), { code: ErrorCode.CONFIG_INVALID });
		}
	});

	it("an unknown option is reported with a warning naming it", async () => {
		const warned = new Promise<Error>((resolve) => process.once("warning", resolve));
		track(createPool(counting().factory, { idletimeoutMillis: 100 } as unknown as Options));
		const warning = (await warned) as Error & { code: string };
		assert.equal(warning.code, "LIFEGUARD_UNKNOWN_OPTION");
		assert.match(warning.message, /idletimeoutMillis/);
	});

	it("testOnBorrow treats a rejected validate as invalid", async () => {
		const { factory, state } = counting({ validate: (r) => (r.id === 0 ? Promise.reject(new Error("ping failed")) : true) });
		const pool = track(createPool(factory, { max: 2, testOnBorrow: true }));
		const first = await pool.acquire();
		await pool.release(first);
		await sleep(2);
		const next = await pool.acquire();
		assert.equal(next.id, 1);
		assert.deepEqual(state.destroyed, [first]);
		await pool.release(next);
	});
});

describe("use()", () => {
	it("accepts a function that returns a plain value", async () => {
		const pool = track(createPool(counting().factory));
		assert.equal(await pool.use((r) => r.id + 1), 1);
		assert.equal(pool.available, 1);
	});

	it("destroys the resource when the function throws synchronously", async () => {
		const { factory, state } = counting();
		const pool = track(createPool(factory));
		await assert.rejects(
			pool.use(() => {
				throw new Error("sync");
			}),
			{ message: "sync" },
		);
		assert.equal(state.destroyed.length, 1);
		assert.equal(pool.borrowed, 0);
	});

	it("tolerates a function that released the resource itself", async () => {
		const warnings: Error[] = [];
		const onWarning = (w: Error) => warnings.push(w);
		process.on("warning", onWarning);
		const pool = track(createPool(counting().factory));
		await pool.use((r) => pool.release(r));
		await sleep(5);
		process.off("warning", onWarning);
		assert.deepEqual(warnings, []);
		assert.equal(pool.available, 1);
	});
});

describe("errors", () => {
	it("keep generic-pool's messages and carry lifeguard codes", async () => {
		const pool = track(createPool(counting().factory, { max: 1, maxWaitingClients: 0, acquireTimeoutMillis: 10 }));
		const held = await pool.acquire();
		const queueFull = await pool.acquire().catch((e: unknown) => e);
		assert.ok(queueFull instanceof WaitingClientsExceededError);
		assert.equal(queueFull.code, ErrorCode.POOL_QUEUE_FULL);
		assert.equal(queueFull.message, GenericPoolMessage.queueFull);
		const foreign = await pool.release({ id: 42 }).catch((e: unknown) => e);
		assert.ok(foreign instanceof NotBorrowedError);
		assert.equal(foreign.code, ErrorCode.LEASE_INVALID);
		await pool.release(held);
		await pool.drain();
		const draining = await pool.acquire().catch((e: unknown) => e);
		assert.ok(draining instanceof PoolDrainingError);
		assert.equal(draining.code, ErrorCode.POOL_CLOSED);
		assert.ok(draining instanceof LifeguardError);
		await pool.clear();
	});

	it("a timed-out acquire says how the pool looked", async () => {
		const pool = track(createPool(counting().factory, { max: 1, acquireTimeoutMillis: 20 }));
		const held = await pool.acquire();
		const err = await pool.acquire().catch((e: unknown) => e);
		assert.ok(err instanceof TimeoutError);
		assert.equal(err.code, ErrorCode.POOL_TIMEOUT);
		assert.equal(err.cause, undefined);
		assert.deepEqual({ inUse: err.state.inUse, max: err.state.max, waiters: err.state.waiters }, { inUse: 1, max: 1, waiters: 1 });
		await pool.release(held);
	});
});

describe("ready() and the lifeguard pool underneath", () => {
	it("ready() rejects once the pool is draining instead of waiting forever", async () => {
		const pool = track(createPool<Res>({ create: () => new Promise<Res>(() => {}), destroy: () => {} }, { min: 1, autostart: false }));
		const ready = pool.ready();
		void pool.drain();
		await assert.rejects(ready, PoolDrainingError);
	});

	it("drain() resolves when the core is closed by someone else and takes back a borrowed resource at its deadline", async () => {
		const { factory, state } = counting();
		const pool = track(createPool(factory, { max: 2 }));
		const borrowed = await pool.acquire();
		await pool.release(await pool.acquire()); // one idle, one borrowed
		const drained = pool.drain();
		// The manager closing the core: poolClosed fires with the borrowed one still out, then close() reclaims it.
		await pool.core.close({ timeoutMs: 20 });
		const outcome = await Promise.race([drained.then(() => "drained"), sleep(1_000).then(() => "still waiting")]);
		assert.equal(outcome, "drained");
		assert.ok(state.destroyed.includes(borrowed));
	});

	it("pool.core is the lifeguard pool, named by the name option", async () => {
		const pool = track(createPool(counting().factory, { name: "legacy", max: 3 }));
		await pool.release(await pool.acquire());
		const stats = pool.core.stats();
		assert.equal(stats.name, "legacy");
		assert.equal(stats.max, 3);
		assert.equal(stats.acquires.ok, 1);
		assert.equal(stats.idle, 1);
	});
});
