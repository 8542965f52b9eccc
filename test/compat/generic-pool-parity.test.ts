/**
 * generic-pool's own test suite, ported: each behaviour runs against the real generic-pool and
 * against lifeguard's compat layer, and both must pass the same assertions. Differences on
 * purpose are tested in generic-pool-safety.test.ts.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import genericPool from "generic-pool";
import * as compat from "../../src/compat/generic-pool.ts";

interface Res {
	id: number;
}

/** What both implementations offer; generic-pool's typings lack a few options (destroyTimeoutMillis, Promise). */
type AnyPool<T> = compat.Pool<T>;
type CreatePool = <T>(factory: compat.Factory<T>, options?: compat.Options) => AnyPool<T>;

const implementations: [string, CreatePool][] = [
	["generic-pool", genericPool.createPool as unknown as CreatePool],
	["compat", compat.createPool],
];

/** Registers one behaviour for each implementation. */
function both(behaviour: string, test: (createPool: CreatePool) => Promise<void>): void {
	for (const [label, createPool] of implementations) it(`${behaviour} [${label}]`, () => test(createPool));
}

/** generic-pool's test ResourceFactory: ids from 0, counts creates and destroys. */
function resourceFactory() {
	const factory = {
		created: 0,
		destroyed: 0,
		bin: [] as Res[],
		create: (): Promise<Res> => Promise.resolve({ id: factory.created++ }),
		destroy: (resource: Res): Promise<void> => {
			factory.destroyed++;
			factory.bin.push(resource);
			return Promise.resolve();
		},
	};
	return factory;
}

async function stop<T>(pool: AnyPool<T>): Promise<void> {
	await pool.drain();
	await pool.clear();
}

function counters<T>(pool: AnyPool<T>) {
	return { size: pool.size, available: pool.available, borrowed: pool.borrowed, pending: pool.pending, spare: pool.spareResourceCapacity };
}

describe("options and defaults", () => {
	both("max defaults to 1 and min to 0", async (createPool) => {
		const pool = createPool(resourceFactory());
		assert.equal(pool.max, 1);
		assert.equal(pool.min, 0);
		await stop(pool);
	});

	both("malformed min and max fall back to the defaults", async (createPool) => {
		const pool = createPool(resourceFactory(), { min: "asf", max: [] } as unknown as compat.Options);
		assert.equal(pool.max, 1);
		assert.equal(pool.min, 0);
		await stop(pool);
	});

	both("numeric strings are read as numbers", async (createPool) => {
		const pool = createPool(resourceFactory(), { min: "1", max: "4" } as unknown as compat.Options);
		assert.equal(pool.max, 4);
		assert.equal(pool.min, 1);
		await stop(pool);
	});

	both("min above max is lowered to max", async (createPool) => {
		const pool = createPool(resourceFactory(), { min: 5, max: 3 });
		assert.equal(pool.max, 3);
		assert.equal(pool.min, 3);
		await stop(pool);
	});

	both("a factory without create or destroy is a TypeError", async (createPool) => {
		assert.throws(() => createPool({ destroy: () => {} } as unknown as compat.Factory<Res>), {
			name: "TypeError",
			message: "factory.create must be a function",
		});
		assert.throws(() => createPool({ create: () => ({ id: 1 }) } as unknown as compat.Factory<Res>), {
			name: "TypeError",
			message: "factory.destroy must be a function",
		});
	});
});

describe("acquire and release", () => {
	both("size, available, borrowed, pending and spareResourceCapacity follow each step", async (createPool) => {
		const pool = createPool(resourceFactory(), { max: 2 });
		const trace = [counters(pool)];
		const a = pool.acquire();
		trace.push(counters(pool));
		const first = await a;
		trace.push(counters(pool));
		const second = await pool.acquire();
		trace.push(counters(pool));
		const third = pool.acquire();
		trace.push(counters(pool));
		await pool.release(first);
		const reused = await third;
		trace.push(counters(pool));
		await pool.release(second);
		trace.push(counters(pool));
		await pool.release(reused);
		trace.push(counters(pool));
		assert.equal(reused, first);
		assert.deepEqual(trace, [
			{ size: 0, available: 0, borrowed: 0, pending: 0, spare: 2 },
			{ size: 1, available: 0, borrowed: 0, pending: 1, spare: 1 },
			{ size: 1, available: 0, borrowed: 1, pending: 0, spare: 1 },
			{ size: 2, available: 0, borrowed: 2, pending: 0, spare: 0 },
			{ size: 2, available: 0, borrowed: 2, pending: 1, spare: 0 },
			{ size: 2, available: 0, borrowed: 2, pending: 0, spare: 0 },
			{ size: 2, available: 1, borrowed: 1, pending: 0, spare: 0 },
			{ size: 2, available: 2, borrowed: 0, pending: 0, spare: 0 },
		]);
		await stop(pool);
	});

	both("a released resource goes to the next waiting caller", async (createPool) => {
		const pool = createPool(resourceFactory(), { max: 1 });
		const seen: number[] = [];
		const first = pool.acquire().then((r) => {
			seen.push(pool.pending);
			return pool.release(r);
		});
		const second = pool.acquire().then((r) => {
			seen.push(pool.pending, pool.borrowed);
			return pool.release(r);
		});
		await Promise.all([first, second]);
		assert.deepEqual(seen, [1, 0, 1]);
		await stop(pool);
	});

	both("destroying a resource makes room for the next waiting caller", async (createPool) => {
		const factory = resourceFactory();
		const pool = createPool(factory, { max: 1 });
		const first = pool.acquire().then((r) => pool.destroy(r));
		const second = pool.acquire();
		await first;
		const next = await second;
		assert.equal(next.id, 1);
		assert.equal(pool.borrowed, 1);
		await pool.release(next);
		await stop(pool);
		assert.deepEqual(
			factory.bin.map((r) => r.id),
			[0, 1],
		);
	});

	both("releasing an object that is not borrowed rejects and changes nothing", async (createPool) => {
		const pool = createPool(resourceFactory(), { max: 1 });
		const resource = await pool.acquire();
		await assert.rejects(pool.release({ id: 99 }), { message: "Resource not currently part of this pool" });
		await assert.rejects(pool.destroy({ id: 99 }), { message: "Resource not currently part of this pool" });
		assert.deepEqual(counters(pool), { size: 1, available: 0, borrowed: 1, pending: 0, spare: 0 });
		await pool.release(resource);
		assert.deepEqual(counters(pool), { size: 1, available: 1, borrowed: 0, pending: 0, spare: 0 });
		await stop(pool);
	});

	both("a second release of the same resource rejects and changes nothing", async (createPool) => {
		const pool = createPool(resourceFactory(), { max: 2 });
		const resource = await pool.acquire();
		await pool.release(resource);
		await assert.rejects(pool.release(resource), { message: "Resource not currently part of this pool" });
		assert.deepEqual(counters(pool), { size: 1, available: 1, borrowed: 0, pending: 0, spare: 1 });
		const again = await pool.acquire();
		assert.equal(again, resource);
		await pool.release(again);
		await stop(pool);
	});

	both("isBorrowedResource is true while borrowed and false after release", async (createPool) => {
		const pool = createPool(resourceFactory(), { max: 1 });
		const resource = await pool.acquire();
		assert.equal(pool.isBorrowedResource(resource), true);
		await pool.release(resource);
		assert.equal(pool.isBorrowedResource(resource), false);
		assert.equal(pool.isBorrowedResource({ id: 5 }), false);
		await stop(pool);
	});
});

describe("queueing", () => {
	both("higher priority callers are served before lower priority ones", async (createPool) => {
		const pool = createPool(resourceFactory(), { max: 1, priorityRange: 2 });
		const order: string[] = [];
		const serve = (label: string) => (r: Res) => {
			order.push(label);
			return pool.release(r);
		};
		const ops = [];
		for (let i = 0; i < 3; i++) ops.push(pool.acquire(1).then(serve(`low${i}`)));
		for (let i = 0; i < 3; i++) ops.push(pool.acquire(0).then(serve(`high${i}`)));
		await Promise.all(ops);
		assert.deepEqual(order, ["high0", "high1", "high2", "low0", "low1", "low2"]);
		await stop(pool);
	});

	both("a priority outside priorityRange goes to the least urgent level", async (createPool) => {
		const pool = createPool(resourceFactory(), { max: 1, priorityRange: 3 });
		const held = await pool.acquire();
		const order: string[] = [];
		const serve = (label: string) => (r: Res) => {
			order.push(label);
			return pool.release(r);
		};
		const ops = [
			pool.acquire(7).then(serve("seven")),
			pool.acquire(2).then(serve("two")),
			pool.acquire(-1).then(serve("minus")),
			pool.acquire(1).then(serve("one")),
		];
		await pool.release(held);
		await Promise.all(ops);
		assert.deepEqual(order, ["one", "seven", "two", "minus"]);
		await stop(pool);
	});

	both("maxWaitingClients 0 rejects only when the pool is full", async (createPool) => {
		const pool = createPool(resourceFactory(), { max: 2, maxWaitingClients: 0 });
		const a = await pool.acquire();
		const b = await pool.acquire();
		await assert.rejects(pool.acquire(), { message: "max waitingClients count exceeded" });
		await pool.release(a);
		const c = await pool.acquire();
		await pool.release(b);
		await pool.release(c);
		await stop(pool);
	});

	both("fifo (the default) lends the longest idle resource first", async (createPool) => {
		const pool = createPool(resourceFactory(), { max: 2 });
		const [a, b] = await Promise.all([pool.acquire(), pool.acquire()]);
		await pool.release(a);
		await pool.release(b);
		const next = await pool.acquire();
		assert.equal(next, a);
		await pool.release(next);
		await stop(pool);
	});

	both("fifo false lends the most recently released resource first", async (createPool) => {
		const pool = createPool(resourceFactory(), { max: 2, fifo: false });
		const [a, b] = await Promise.all([pool.acquire(), pool.acquire()]);
		await pool.release(a);
		await pool.release(b);
		const next = await pool.acquire();
		assert.equal(next, b);
		await pool.release(next);
		await stop(pool);
	});
});

describe("timeouts", () => {
	both("acquireTimeoutMillis rejects a caller still waiting with TimeoutError", async (createPool) => {
		const slowFactory = { create: () => sleep(200, { id: 1 }), destroy: () => {} };
		const pool = createPool<Res>(slowFactory, { acquireTimeoutMillis: 20 });
		const started = performance.now();
		await assert.rejects(pool.acquire(), (err: Error) => {
			assert.ok(err instanceof Error);
			assert.equal(err.name, "TimeoutError");
			assert.equal(err.message, "ResourceRequest timed out");
			return true;
		});
		assert.ok(performance.now() - started < 150);
		await stop(pool);
	});

	both("an acquire served before acquireTimeoutMillis resolves", async (createPool) => {
		const mine = { id: 7 };
		const pool = createPool<Res>({ create: () => sleep(10, mine), destroy: () => {} }, { acquireTimeoutMillis: 400 });
		const resource = await pool.acquire();
		assert.equal(resource, mine);
		await pool.release(resource);
		await stop(pool);
	});

	both("destroyTimeoutMillis reports a slow destroy as factoryDestroyError 'destroy timed out'", async (createPool) => {
		const pool = createPool<Res>({ create: () => ({ id: 1 }), destroy: () => sleep(100) }, { destroyTimeoutMillis: 20 });
		const errors: unknown[] = [];
		pool.on("factoryDestroyError", (err) => errors.push(err));
		const resource = await pool.acquire();
		await pool.destroy(resource);
		await sleep(60);
		assert.equal(errors.length, 1);
		assert.match(String(errors[0]), /destroy timed out/);
		await stop(pool);
	});

	both("a destroy within destroyTimeoutMillis reports nothing", async (createPool) => {
		const pool = createPool<Res>({ create: () => ({ id: 1 }), destroy: () => sleep(10) }, { destroyTimeoutMillis: 400 });
		const errors: unknown[] = [];
		pool.on("factoryDestroyError", (err) => errors.push(err));
		await pool.destroy(await pool.acquire());
		await sleep(30);
		assert.deepEqual(errors, []);
		await stop(pool);
	});
});

describe("factory errors", () => {
	both("each failed create emits factoryCreateError and the caller is served once create succeeds", async (createPool) => {
		let attempts = 0;
		const factory = {
			create: () => (++attempts <= 3 ? Promise.reject(new Error("Error occurred.")) : Promise.resolve({ id: attempts })),
			destroy: () => Promise.resolve(),
		};
		const pool = createPool<Res>(factory, { max: 1 });
		const errors: unknown[] = [];
		pool.on("factoryCreateError", (err) => errors.push(err));
		const resource = await pool.acquire();
		assert.equal(resource.id, 4);
		assert.equal(errors.length, 3);
		assert.ok(errors.every((e) => e instanceof Error && e.message === "Error occurred."));
		assert.equal(pool.pending, 0);
		await pool.release(resource);
		await stop(pool);
	});

	both("a rejected destroy emits factoryDestroyError", async (createPool) => {
		const pool = createPool<Res>({ create: () => ({ id: 1 }), destroy: () => Promise.reject(new Error("close failed")) });
		const errors: unknown[] = [];
		pool.on("factoryDestroyError", (err) => errors.push(err));
		await pool.destroy(await pool.acquire());
		await sleep(5);
		assert.equal(errors.length, 1);
		assert.equal((errors[0] as Error).message, "close failed");
		await stop(pool);
	});
});

describe("validation", () => {
	both("testOnBorrow destroys an idle resource that fails validation and lends another", async (createPool) => {
		const factory = resourceFactory();
		const invalid = new Set<number>();
		const pool = createPool<Res>({ ...factory, validate: (r) => Promise.resolve(!invalid.has(r.id)) }, { max: 2, testOnBorrow: true });
		const first = await pool.acquire();
		await pool.release(first);
		invalid.add(first.id);
		await sleep(2);
		const next = await pool.acquire();
		assert.notEqual(next, first);
		assert.deepEqual(factory.bin, [first]);
		await pool.release(next);
		await stop(pool);
	});
});

describe("use", () => {
	both("use resolves with fn's value and releases the resource", async (createPool) => {
		const pool = createPool(resourceFactory());
		let done = false;
		const value = await pool.use(
			(resource) =>
				new Promise<string>((resolve) =>
					setImmediate(() => {
						done = true;
						resolve(`value ${resource.id}`);
					}),
				),
		);
		assert.equal(done, true);
		assert.equal(value, "value 0");
		assert.equal(pool.borrowed, 0);
		assert.equal(pool.available, 1);
		await stop(pool);
	});

	both("use destroys the resource when fn rejects", async (createPool) => {
		const factory = resourceFactory();
		const pool = createPool(factory);
		await assert.rejects(
			pool.use(() => Promise.reject(new Error("boom"))),
			{ message: "boom" },
		);
		assert.equal(pool.borrowed, 0);
		assert.equal(pool.available, 0);
		await sleep(1);
		assert.equal(factory.destroyed, 1);
		await stop(pool);
	});

	both("use honours priority", async (createPool) => {
		const pool = createPool(resourceFactory(), { priorityRange: 2 });
		const held = await pool.acquire();
		const order: string[] = [];
		const low = pool.use(async () => order.push("low"), 1);
		const high = pool.use(async () => order.push("high"), 0);
		await pool.release(held);
		await Promise.all([low, high]);
		assert.deepEqual(order, ["high", "low"]);
		await stop(pool);
	});
});

describe("start, ready, eviction", () => {
	both("autostart false creates nothing until start(), which fills min", async (createPool) => {
		const factory = resourceFactory();
		const pool = createPool(factory, { min: 2, max: 3, autostart: false });
		await sleep(10);
		assert.equal(factory.created, 0);
		pool.start();
		await pool.ready();
		assert.equal(pool.available, 2);
		assert.equal(factory.created, 2);
		await stop(pool);
	});

	both("autostart false starts on the first acquire", async (createPool) => {
		const factory = resourceFactory();
		const pool = createPool(factory, { min: 2, max: 3, autostart: false });
		const resource = await pool.acquire();
		await sleep(10);
		assert.ok(pool.size >= 2);
		await pool.release(resource);
		await stop(pool);
	});

	both("ready resolves once min resources are available", async (createPool) => {
		const pool = createPool<Res>({ create: () => sleep(20, { id: 1 }), destroy: () => {} }, { min: 2, max: 4 });
		assert.equal(pool.available, 0);
		await pool.ready();
		assert.ok(pool.available >= 2);
		await stop(pool);
	});

	both("the evictor destroys resources idle longer than idleTimeoutMillis", async (createPool) => {
		const factory = resourceFactory();
		const pool = createPool(factory, { max: 2, idleTimeoutMillis: 30, evictionRunIntervalMillis: 10 });
		const [a, b] = await Promise.all([pool.acquire(), pool.acquire()]);
		await pool.release(a);
		await pool.release(b);
		await sleep(120);
		assert.equal(factory.destroyed, 2);
		assert.equal(pool.size, 0);
		const fresh = await pool.acquire();
		assert.equal(fresh.id, 2);
		await pool.release(fresh);
		await stop(pool);
	});

	both("nothing is evicted while evictionRunIntervalMillis is 0", async (createPool) => {
		const factory = resourceFactory();
		const pool = createPool(factory, { idleTimeoutMillis: 10 });
		await pool.release(await pool.acquire());
		await sleep(60);
		assert.equal(factory.destroyed, 0);
		assert.equal(pool.available, 1);
		await stop(pool);
	});

	both("the default softIdleTimeoutMillis (-1) and idleTimeoutMillis (30 s) evict nothing soon", async (createPool) => {
		const factory = resourceFactory();
		const pool = createPool(factory, { evictionRunIntervalMillis: 10 });
		await pool.release(await pool.acquire());
		await sleep(40);
		assert.equal(factory.destroyed, 0);
		await stop(pool);
	});
});

describe("the evictor, as generic-pool 3.9 runs it", () => {
	both("idleTimeoutMillis evicts even below min, and the pool recreates up to min", async (createPool) => {
		const factory = resourceFactory();
		const pool = createPool(factory, { min: 1, max: 3, idleTimeoutMillis: 20, evictionRunIntervalMillis: 10 });
		const all = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
		for (const r of all) await pool.release(r);
		await sleep(200);
		assert.ok(factory.destroyed > 3, `the min resource was evicted too (${factory.destroyed} destroyed)`);
		assert.equal(factory.created, factory.destroyed + pool.size, "each eviction below min was replaced");
		assert.equal(pool.size, 1);
		await stop(pool);
	});

	both("softIdleTimeoutMillis evicts only while more than min are idle; the min resource stays", async (createPool) => {
		const factory = resourceFactory();
		const pool = createPool(factory, { min: 1, max: 3, softIdleTimeoutMillis: 20, idleTimeoutMillis: 10_000, evictionRunIntervalMillis: 10 });
		const all = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
		for (const r of all) await pool.release(r);
		await sleep(200);
		assert.equal(factory.destroyed, 2);
		assert.equal(factory.created, 3, "nothing recreated");
		assert.equal(pool.available, 1);
		await stop(pool);
	});

	both("softIdleTimeoutMillis counts idle resources, not all: with min 1 and two borrowed, the only idle one stays", async (createPool) => {
		const factory = resourceFactory();
		const pool = createPool(factory, { min: 1, max: 3, softIdleTimeoutMillis: 20, idleTimeoutMillis: 10_000, evictionRunIntervalMillis: 10 });
		const [a, b, c] = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
		await pool.release(a);
		await sleep(150);
		assert.equal(factory.destroyed, 0);
		await pool.release(b);
		await pool.release(c);
		await stop(pool);
	});

	both("numTestsPerEvictionRun bounds the evictions of one run", async (createPool) => {
		const factory = resourceFactory();
		const pool = createPool(factory, { max: 6, idleTimeoutMillis: 1, evictionRunIntervalMillis: 250, numTestsPerEvictionRun: 2 });
		const all = await Promise.all(Array.from({ length: 6 }, () => pool.acquire()));
		for (const r of all) await pool.release(r);
		await sleep(375);
		assert.equal(factory.destroyed, 2, "one run, two tests");
		await sleep(250);
		assert.equal(factory.destroyed, 4, "two runs");
		await stop(pool);
	});

	both("each run continues where the last one stopped, wrapping around, rather than starting from the oldest", async (createPool) => {
		// Runs at 200, 400, 600 ms test a, b, c (none idle for 500 ms yet); the run at 800 ms wraps to a, now idle 800 ms.
		// An evictor that always started from the oldest would have evicted a at 600 ms.
		const factory = resourceFactory();
		const pool = createPool(factory, { max: 3, idleTimeoutMillis: 500, evictionRunIntervalMillis: 200, numTestsPerEvictionRun: 1 });
		const [a, b, c] = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
		await pool.release(a);
		await sleep(300);
		await pool.release(b);
		await pool.release(c);
		await sleep(400);
		assert.equal(factory.destroyed, 0, "at 700 ms nothing is evicted yet");
		await sleep(200);
		assert.equal(factory.destroyed, 1, "at 900 ms the wrapped-around run evicted one");
		await stop(pool);
	});

	both("with autostart false the evictor starts with the first acquire", async (createPool) => {
		const factory = resourceFactory();
		const pool = createPool(factory, { autostart: false, idleTimeoutMillis: 20, evictionRunIntervalMillis: 10 });
		await pool.release(await pool.acquire());
		await sleep(120);
		assert.equal(factory.destroyed, 1);
		await stop(pool);
	});

	both("the evictor stops once drain() has finished: idle resources stay until clear()", async (createPool) => {
		const factory = resourceFactory();
		const pool = createPool(factory, { max: 2, idleTimeoutMillis: 20, evictionRunIntervalMillis: 10 });
		await pool.release(await pool.acquire());
		await pool.drain();
		await sleep(120);
		assert.equal(factory.destroyed, 0);
		assert.equal(pool.available, 1);
		await pool.clear();
		assert.equal(factory.destroyed, 1);
	});
});

describe("testOnReturn, as generic-pool 3.9 implements it", () => {
	both("a released resource is kept even when factory.validate would say it is invalid (the option is accepted and ignored)", async (createPool) => {
		const factory = resourceFactory();
		let validations = 0;
		const pool = createPool(
			{
				...factory,
				validate: () => {
					validations++;
					return Promise.resolve(false);
				},
			},
			{ max: 1, testOnReturn: true },
		);
		const resource = await pool.acquire();
		await pool.release(resource);
		await sleep(10);
		assert.equal(factory.destroyed, 0);
		assert.equal(pool.available, 1);
		assert.equal(validations, 0);
		assert.equal(await pool.acquire(), resource);
		await pool.release(resource);
		await stop(pool);
	});

	both("testOnReturn without factory.validate is accepted", async (createPool) => {
		const pool = createPool(resourceFactory(), { testOnReturn: true });
		await pool.release(await pool.acquire());
		await stop(pool);
	});
});

describe("drain and clear", () => {
	both("drain serves the callers already waiting, then acquire rejects", async (createPool) => {
		const factory = resourceFactory();
		const pool = createPool(factory, { max: 2 });
		let acquired = 0;
		const ops = Array.from({ length: 5 }, () =>
			pool.acquire().then(async (r) => {
				acquired++;
				await sleep(20);
				await pool.release(r);
			}),
		);
		const drained = pool.drain();
		await assert.rejects(pool.acquire(), { message: "pool is draining and cannot accept work" });
		await drained;
		assert.equal(acquired, 5);
		assert.equal(pool.borrowed, 0);
		await Promise.all(ops);
		await pool.clear();
		assert.equal(factory.created, factory.destroyed);
		await assert.rejects(pool.acquire(), (err: Error) => err instanceof Error && err.message === "pool is draining and cannot accept work");
	});

	both("drain waits for borrowed resources to come back", async (createPool) => {
		const pool = createPool(resourceFactory(), { max: 1 });
		const resource = await pool.acquire();
		let drained = false;
		const draining = pool.drain().then(() => (drained = true));
		await sleep(20);
		assert.equal(drained, false);
		await pool.release(resource);
		await draining;
		assert.equal(drained, true);
		await pool.clear();
	});

	both("drain then clear with min > 0 and testOnBorrow destroys everything created", async (createPool) => {
		const factory = resourceFactory();
		const pool = createPool({ ...factory, validate: () => Promise.resolve(true) }, { max: 10, min: 1, testOnBorrow: true, evictionRunIntervalMillis: 500 });
		await pool.drain();
		await pool.clear();
		assert.equal(factory.created, factory.destroyed);
	});

	both("clear without drain destroys the idle resources", async (createPool) => {
		const factory = resourceFactory();
		const pool = createPool(factory, { max: 2 });
		const [a, b] = await Promise.all([pool.acquire(), pool.acquire()]);
		await pool.release(a);
		await pool.release(b);
		await pool.clear();
		assert.deepEqual(factory.bin, [a, b]);
		assert.equal(pool.size, 0);
		await stop(pool);
	});
});

describe("Promise option", () => {
	both("returned promises use the configured Promise implementation", async (createPool) => {
		class TracedPromise<T> extends Promise<T> {}
		const pool = createPool(resourceFactory(), { Promise: TracedPromise });
		const acquiring = pool.acquire();
		assert.ok(acquiring instanceof TracedPromise);
		const resource = await acquiring;
		const releasing = pool.release(resource);
		assert.ok(releasing instanceof TracedPromise);
		await releasing;
		const draining = pool.drain();
		assert.ok(draining instanceof TracedPromise);
		await draining;
		await pool.clear();
	});
});
