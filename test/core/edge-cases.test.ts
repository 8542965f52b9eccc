/**
 * Edge cases of the pool core found in review, each once a real bug: bulk-failed waiters whose
 * signals abort later, clear() racing validation and reset, late releases after close, throwing
 * listeners, removeAllListeners, re-entrant close, what maxWaiters counts, options that do
 * nothing, and the sampling of zero waits.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { ConfigError, createKeyedPool, createPool, ErrorCode, type Lease, type Pool, type PoolOptions } from "../../src/index.ts";

interface Res {
	id: number;
	open: boolean;
}

function backend() {
	let next = 0;
	const open = new Set<Res>();
	let destroyed = 0;
	return {
		open,
		get destroyed() {
			return destroyed;
		},
		create: async (): Promise<Res> => {
			const r = { id: ++next, open: true };
			open.add(r);
			return r;
		},
		destroy: (r: Res) => {
			r.open = false;
			open.delete(r);
			destroyed++;
		},
	};
}

function makePool(extra: Partial<PoolOptions<Res>> = {}) {
	const b = backend();
	const pool = createPool<Res>({ create: b.create, destroy: b.destroy, ...extra });
	return { pool, b };
}

/** Settles `p` or reports "pending" after `ms`. */
async function settledWithin<T>(p: Promise<T>, ms: number): Promise<"resolved" | "rejected" | "pending"> {
	return Promise.race([
		p.then(
			() => "resolved" as const,
			() => "rejected" as const,
		),
		sleep(ms).then(() => "pending" as const),
	]);
}

const pools: { close(options?: { timeoutMs?: number }): Promise<void> }[] = [];
const track = <P extends { close(options?: { timeoutMs?: number }): Promise<void> }>(p: P): P => {
	pools.push(p);
	return p;
};

const unhandled: unknown[] = [];
const onUnhandled = (e: unknown) => unhandled.push(e);
const warnings: { code?: string; message: string }[] = [];
const onWarning = (w: Error & { code?: string }) => warnings.push({ code: w.code, message: w.message });
before(() => {
	process.on("unhandledRejection", onUnhandled);
	process.removeAllListeners("warning");
	process.on("warning", onWarning);
});
after(async () => {
	await Promise.allSettled(pools.map((p) => p.close({ timeoutMs: 10 })));
	process.off("unhandledRejection", onUnhandled);
	process.off("warning", onWarning);
	assert.deepEqual(unhandled, [], "no unhandled rejections anywhere in this file");
});

describe("waiters failed in bulk (close, permanent create error) are settled", () => {
	it("a waiter rejected by close() does not count again when its signal aborts later: pending never goes negative", async () => {
		const { pool } = makePool({
			max: 1,
			create: (signal) => new Promise<Res>((_, reject) => signal.addEventListener("abort", () => reject(signal.reason))),
		});
		const failures: string[] = [];
		pool.on("acquireFailed", (e) => failures.push(e.reason));
		const ac = new AbortController();
		const waiting = pool.acquire({ signal: ac.signal });
		const closing = pool.close();
		await assert.rejects(waiting, { code: ErrorCode.POOL_CLOSED });
		await closing;
		ac.abort();
		assert.equal(pool.pendingCount, 0, "pendingCount after a late abort");
		assert.deepEqual(failures, ["poolClosed"], "one acquireFailed per acquire");
		assert.equal(pool.stats().acquires.aborted, 0);
	});

	it("after a permanent create error failed the waiters, a later abort of one of their signals does not stop the pool from serving new callers", async () => {
		let calls = 0;
		const b = backend();
		const pool = track(
			createPool<Res>({
				max: 1,
				createRetryInitialMs: 5,
				createRetryMaxMs: 5,
				create: async () => {
					if (++calls === 1) throw new ConfigError("adapter", [{ path: "host", message: "bad" }]);
					return b.create();
				},
				destroy: b.destroy,
			}),
		);
		const ac = new AbortController();
		await assert.rejects(pool.acquire({ signal: ac.signal }), { code: ErrorCode.CREATE_FAILED });
		ac.abort(); // e.g. AbortSignal.timeout() firing later: very common
		assert.equal(pool.pendingCount, 0, "pendingCount");
		const lease = await pool.acquire({ timeoutMs: 300 });
		lease.release();
	});
});

describe("clear() retires every connection of the old generation", () => {
	it("a connection being validated on borrow when clear() runs is not lent afterwards", async () => {
		const { pool } = makePool({
			max: 2,
			validateAfterIdleMs: 1,
			validate: async () => {
				await sleep(30);
				return true;
			},
		});
		track(pool);
		const first = await pool.acquire();
		const oldId = first.connectionId;
		first.release();
		await sleep(10);
		const next = pool.acquire({ timeoutMs: 500 }); // takes the idle one, starts validation
		await sleep(5);
		pool.clear();
		const lease = await next;
		assert.notEqual(lease.connectionId, oldId, "the pre-clear connection was lent after clear()");
		lease.release();
	});

	it("a connection in an asynchronous reset when clear() runs is not handed to a waiter", async () => {
		const { pool } = makePool({
			max: 1,
			reset: async () => {
				await sleep(30);
			},
		});
		track(pool);
		const held = await pool.acquire();
		const oldId = held.connectionId;
		const waiter = pool.acquire({ timeoutMs: 500 });
		held.release(); // reset starts
		pool.clear();
		const lease = await waiter;
		assert.notEqual(lease.connectionId, oldId, "the pre-clear connection was handed to a waiter after clear()");
		lease.release();
	});
});

describe("release/destroy through the pool are idempotent", () => {
	it("pool.release(lease) after pool.destroy(lease) is a no-op, as after pool.release(lease)", async () => {
		const { pool } = makePool();
		track(pool);
		const a = await pool.acquire();
		pool.release(a);
		assert.doesNotThrow(() => pool.release(a), "second release after release");
		const b = await pool.acquire();
		pool.destroy(b);
		assert.doesNotThrow(() => pool.release(b), "release after destroy");
	});

	it("pool.release(lease) after close()'s deadline destroyed the connection does not throw (docs/design.md: a release after close is quiet)", async () => {
		const { pool } = makePool();
		const lease = await pool.acquire();
		await pool.close({ timeoutMs: 5 });
		assert.equal(lease.active, false);
		assert.doesNotThrow(() => pool.release(lease), "pool.release after close");
	});

	it("lease.release() after close()'s deadline destroyed the connection does not warn LIFEGUARD_DOUBLE_RELEASE", async () => {
		const { pool } = makePool();
		const lease = await pool.acquire();
		await pool.close({ timeoutMs: 5 });
		const before = warnings.length;
		lease.release();
		await sleep(5);
		const fresh = warnings.slice(before).filter((w) => w.code === "LIFEGUARD_DOUBLE_RELEASE");
		assert.deepEqual(fresh, [], "docs/design.md: a release after close destroys the connection quietly");
	});
});

describe("a throwing event listener never corrupts the pool", () => {
	it("a throwing `acquired` listener does not leave a waiter unsettled past its deadline", async () => {
		const { pool } = makePool({ max: 1 });
		track(pool);
		const held = await pool.acquire();
		const waiter = pool.acquire({ timeoutMs: 100 });
		pool.on("acquired", () => {
			throw new Error("listener bug");
		});
		try {
			held.release();
		} catch {}
		pool.removeAllListeners("acquired");
		assert.notEqual(await settledWithin(waiter, 400), "pending", "invariant 2: every acquire settles by its deadline");
	});

	it("a throwing `released` listener does not lose the connection (the pool keeps its capacity)", async () => {
		const { pool } = makePool({ max: 1 });
		track(pool);
		const lease = await pool.acquire();
		pool.on("released", () => {
			throw new Error("listener bug");
		});
		try {
			lease.release();
		} catch {}
		pool.removeAllListeners("released");
		const again = await pool.acquire({ timeoutMs: 200 });
		again.release();
	});

	it("a throwing `connectionClosed` listener does not skip destroying the resource", async () => {
		const { pool, b } = makePool({ max: 1 });
		track(pool);
		const lease = await pool.acquire();
		pool.on("connectionClosed", () => {
			throw new Error("listener bug");
		});
		try {
			lease.destroy();
		} catch {}
		pool.removeAllListeners("connectionClosed");
		await sleep(10);
		assert.equal(b.destroyed, 1, "destroy hook called");
		assert.equal(b.open.size, 0, "no resource left open");
	});

	it("a throwing `connectionClosed` listener on a keyed pool does not leak global budget", async () => {
		const b = backend();
		const keyed = track(createKeyedPool<string, Res>({ maxTotal: 1, maxPerKey: 1, create: () => b.create(), destroy: b.destroy }));
		const lease = await keyed.acquire("a");
		const thrower = () => {
			throw new Error("listener bug");
		};
		keyed.on("connectionClosed", thrower);
		try {
			lease.destroy();
		} catch {}
		keyed.off("connectionClosed", thrower);
		assert.equal(keyed.size, 0, "budget in use after the only connection closed");
		const other = await keyed.acquire("b", { timeoutMs: 200 });
		other.release();
	});
});

describe("events keep working", () => {
	it("listeners added after removeAllListeners() still receive events", async () => {
		const { pool } = makePool();
		track(pool);
		pool.on("released", () => {});
		pool.removeAllListeners();
		const seen: string[] = [];
		pool.on("released", () => seen.push("released"));
		pool.on("connectionClosed", (e) => seen.push(e.reason));
		const lease = await pool.acquire();
		lease.release();
		const other = await pool.acquire();
		other.destroy();
		assert.deepEqual(seen, ["released", "released", "destroyed"]);
	});

	it("close() called from a connectionClosed listener during close() runs the close once (poolClosed emitted once)", async () => {
		const { pool } = makePool();
		(await pool.acquire()).release();
		let closedEvents = 0;
		pool.on("poolClosed", () => closedEvents++);
		pool.on("connectionClosed", () => {
			void pool.close();
		});
		await pool.close();
		await sleep(5);
		assert.equal(closedEvents, 1);
	});
});

describe("maxWaiters bounds the queue of callers the pool cannot serve, not callers it is opening a connection for", () => {
	it("with maxWaiters 0 a cold pool with room still opens a connection for the caller", async () => {
		const { pool } = makePool({ max: 5, maxWaiters: 0 });
		track(pool);
		const lease = await pool.acquire({ timeoutMs: 200 });
		lease.release();
	});

	it("with maxWaiters 1, three concurrent callers on a cold pool of max 5 are all served", async () => {
		const { pool } = makePool({ max: 5, maxWaiters: 1 });
		track(pool);
		const leases = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
		for (const l of leases) l.release();
	});

	it("a keyed pool with maxWaiters 0 still serves a key with room", async () => {
		const b = backend();
		const keyed = track(createKeyedPool<string, Res>({ maxTotal: 5, maxWaiters: 0, create: () => b.create(), destroy: b.destroy }));
		const lease = await keyed.acquire("a", { timeoutMs: 200 });
		lease.release();
	});
});

describe("options that silently do nothing are rejected (LESSONS: generic-pool #178)", () => {
	it("healthCheckIntervalMs without validate is a CONFIG_INVALID, not a keepalive that never runs", () => {
		assert.throws(() => createPool<Res>({ create: async () => ({ id: 1, open: true }), healthCheckIntervalMs: 1_000 }), { code: ErrorCode.CONFIG_INVALID });
	});
});

describe("sampled timing keeps percentiles representative (docs/core.md, Statistics)", () => {
	it("above 10 000 acquires/s the wait histogram does not over-count zero waits: 3 of 4 acquires wait, so p50 > 0", () => {
		// Run in a fresh process: the test runner's async bookkeeping slows awaits below the sampling threshold.
		const script = `
			import { createPool } from ${JSON.stringify(new URL("../../src/index.ts", import.meta.url).href)};
			const pool = createPool({ create: async () => ({}), max: 1 });
			(await pool.acquire()).release();
			// Each round: the first acquire takes the idle connection at once (wait 0), the other three queue behind it.
			const round = async () => {
				const queued = [pool.acquire(), pool.acquire(), pool.acquire(), pool.acquire()];
				for (const p of queued) (await p).release();
			};
			pool.resetStats();
			const started = performance.now();
			let acquires = 0;
			while (performance.now() - started < 500) { await round(); acquires += 4; }
			const rate = acquires / ((performance.now() - started) / 1000);
			console.log(JSON.stringify({ rate, acquires, wait: pool.stats().waitMs }));
			await pool.close();
		`;
		const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 15_000 });
		assert.equal(child.status, 0, child.stderr);
		const { rate, acquires, wait } = JSON.parse(child.stdout.trim().split("\n").at(-1) as string);
		assert.ok(rate > 400_000, `precondition: sampling starts above 10 000/s, got ${Math.round(rate)}/s`);
		assert.ok(
			wait.p50 > 0,
			`75 % of acquires waited, yet p50 is ${wait.p50} (timed ${wait.count} of ${acquires}): zero waits are always recorded, real waits 1 in N`,
		);
	});
});

// Keep the type import used for readers of the file.
export type { Lease, Pool };

describe("invalidate() during setup", () => {
	it("a connection invalidated while its afterCreate runs is never lent", async () => {
		let pool: Pool<Res> | undefined;
		const b = backend();
		pool = createPool<Res>({
			create: b.create,
			destroy: b.destroy,
			afterCreate: async (r) => {
				pool?.invalidate(r, new Error("socket closed during setup"));
				await sleep(1);
			},
			createRetryInitialMs: 1,
		});
		const reasons: string[] = [];
		pool.on("connectionClosed", (e) => reasons.push(e.reason));
		const p = pool;
		const lease = await p.acquire({ timeoutMs: 50 }).catch((e: Error & { code?: string }) => e.code);
		assert.equal(lease, "POOL_TIMEOUT", "every new connection died during setup, so none was lent");
		assert.ok(reasons.length >= 1 && reasons.every((r) => r === "error"));
		await p.close();
	});
});
