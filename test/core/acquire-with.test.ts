/** Pool.acquireWith: acquire() answered through callbacks (the drop-ins' checkout), with acquire()'s rules. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { ErrorCode } from "../../src/core/errors.ts";
import type { Lease } from "../../src/core/lease.ts";
import { createPool } from "../../src/core/pool.ts";

interface Answer {
	lease?: Lease<{ id: number }>;
	error?: Error;
	context?: unknown;
}

/** Calls acquireWith and records its one answer; `answers` counts how many came (must be 1). */
function ask(pool: ReturnType<typeof makePool>, context: unknown, options?: Parameters<ReturnType<typeof makePool>["acquireWith"]>[3]) {
	const got: Answer & { answers: number } = { answers: 0 };
	pool.acquireWith(
		(lease, ctx) => {
			got.answers++;
			got.lease = lease;
			got.context = ctx;
		},
		(error, ctx) => {
			got.answers++;
			got.error = error;
			got.context = ctx;
		},
		context,
		options,
	);
	return got;
}

function makePool(max = 1) {
	let next = 0;
	return createPool({ name: "with", create: () => ({ id: ++next }), max, min: 0 });
}

describe("Pool.acquireWith", () => {
	it("lends an idle connection before it returns, with the context handed back", async () => {
		const pool = makePool();
		(await pool.acquire()).release();
		const ctx = { caller: 1 };
		const got = ask(pool, ctx);
		assert.equal(got.answers, 1);
		assert.equal(got.context, ctx);
		assert.equal(got.lease?.resource.id, 1);
		assert.equal(pool.activeCount, 1);
		got.lease?.release();
		await pool.close();
	});

	it("waits in the same queue as acquire(), first come first served, and is answered inside the release that frees a connection", async () => {
		const pool = makePool();
		const held = await pool.acquire();
		const viaPromise = pool.acquire();
		const got = ask(pool, "second");
		assert.equal(got.answers, 0);
		assert.equal(pool.pendingCount, 2);
		held.release();
		// The promise waiter was first: it has the connection, the callback still waits.
		const first = await viaPromise;
		assert.equal(got.answers, 0);
		first.release();
		// Handed over inside release(), before it returned.
		assert.equal(got.answers, 1);
		assert.equal(got.context, "second");
		assert.equal(got.lease?.resource.id, 1);
		got.lease?.release();
		assert.equal(pool.stats().acquires.ok, 3);
		await pool.close();
	});

	it("fails with acquire()'s errors: POOL_TIMEOUT at the deadline, ACQUIRE_ABORTED, CONFIG_INVALID for bad options, POOL_CLOSED", async () => {
		const pool = makePool();
		const held = await pool.acquire();
		const timedOut = ask(pool, "t", { timeoutMs: 20 });
		const controller = new AbortController();
		const aborted = ask(pool, "a", { signal: controller.signal });
		controller.abort(new Error("caller left"));
		assert.equal(aborted.answers, 1);
		assert.equal((aborted.error as { code?: string }).code, ErrorCode.ACQUIRE_ABORTED);
		const invalid = ask(pool, "i", { timeoutMs: -1 });
		assert.equal(invalid.answers, 1);
		assert.equal((invalid.error as { code?: string }).code, ErrorCode.CONFIG_INVALID);
		await sleep(60);
		assert.equal(timedOut.answers, 1);
		assert.equal((timedOut.error as { code?: string }).code, ErrorCode.POOL_TIMEOUT);
		assert.equal(timedOut.context, "t");
		held.release();
		assert.equal(pool.pendingCount, 0);
		await pool.close();
		const closed = ask(pool, "c");
		assert.equal(closed.answers, 1);
		assert.equal((closed.error as { code?: string }).code, ErrorCode.POOL_CLOSED);
		// Counted like acquire()'s failures.
		const { acquires } = pool.stats();
		assert.equal(acquires.timeouts, 1);
		assert.equal(acquires.aborted, 1);
		assert.equal(acquires.closed, 1);
	});

	it("a waiter still queued when the pool closes fails with POOL_CLOSED, once", async () => {
		const pool = makePool();
		const held = await pool.acquire();
		const got = ask(pool, undefined);
		const closing = pool.close({ timeoutMs: 50 });
		await sleep(0);
		assert.equal(got.answers, 1);
		assert.equal((got.error as { code?: string }).code, ErrorCode.POOL_CLOSED);
		held.release();
		await closing;
		assert.equal(got.answers, 1);
	});
});

const POOL = fileURLToPath(new URL("../../src/core/pool.ts", import.meta.url));

/** Runs `body` in a child process (a handler's throw must escape as uncaught there, which would fail this test); returns what it printed as JSON. */
async function inChild(body: string): Promise<Record<string, unknown>> {
	const script = `
		import { setTimeout as sleep } from "node:timers/promises";
		import { createPool } from ${JSON.stringify(POOL)};
		const escaped = [];
		process.on("uncaughtException", (e) => escaped.push(e.message));
		process.on("unhandledRejection", (e) => escaped.push(e.message));
		const out = { escaped };
		${body}
		await sleep(20);
		console.log(JSON.stringify(out));
		process.exit(0);`;
	const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script], { timeout: 10_000 });
	return JSON.parse(stdout);
}

describe("acquireWith: a handler that throws costs no other waiter its answer", () => {
	it("close() fails every queued waiter and reaches closed, even when the first one's onError throws", async () => {
		const out = await inChild(`
			const pool = createPool({ name: "c", create: () => ({}), max: 1, min: 0 });
			const held = await pool.acquire();
			out.second = 0;
			pool.acquireWith(() => {}, () => { throw new Error("first caller's bug"); }, undefined);
			pool.acquireWith(() => {}, () => { out.second++; }, undefined);
			const closing = pool.close({ timeoutMs: 50 });
			await sleep(5);
			held.release();
			await closing;
			out.state = pool.stats().state;`);
		assert.deepEqual(out, { escaped: ["first caller's bug"], second: 1, state: "closed" });
	});

	it("every expired waiter times out, even when the first one's onError throws", async () => {
		const out = await inChild(`
			const pool = createPool({ name: "d", create: () => ({}), max: 1, min: 0 });
			await pool.acquire();
			out.second = 0;
			pool.acquireWith(() => {}, () => { throw new Error("first caller's bug"); }, undefined, { timeoutMs: 20 });
			pool.acquireWith(() => {}, () => { out.second++; }, undefined, { timeoutMs: 20 });
			await sleep(60);`);
		assert.deepEqual(out, { escaped: ["first caller's bug"], second: 1 });
	});

	it("a waiter's throwing onLease does not surface from another caller's release()", async () => {
		const out = await inChild(`
			const pool = createPool({ name: "r", create: () => ({}), max: 1, min: 0 });
			const held = await pool.acquire();
			pool.acquireWith((lease) => { lease.release(); throw new Error("waiter's bug"); }, () => {}, undefined);
			try { held.release(); out.releaseThrew = false; } catch { out.releaseThrew = true; }
			out.idle = pool.idleCount;`);
		assert.deepEqual(out, { escaped: ["waiter's bug"], releaseThrew: false, idle: 1 });
	});
});

describe("Pool.tryAcquire: an idle connection now, or nothing", () => {
	it("lends an idle connection, and gives nothing (no wait, no create, no queue) when none is idle", async () => {
		let created = 0;
		const pool = createPool({ name: "try", create: () => ({ id: ++created }), max: 2, min: 0 });
		assert.equal(pool.tryAcquire(), undefined);
		assert.equal(created, 0);
		assert.equal(pool.pendingCount, 0);
		(await pool.acquire()).release();
		const lease = pool.tryAcquire();
		assert.equal(lease?.resource.id, 1);
		assert.equal(pool.activeCount, 1);
		assert.equal(pool.tryAcquire(), undefined, "the only idle connection is lent");
		assert.equal(created, 1);
		lease?.release();
		await pool.close();
		assert.equal(pool.tryAcquire(), undefined, "a closed pool lends nothing");
	});

	it("does not jump the queue: with callers waiting it gives nothing", async () => {
		const pool = makePool(1);
		const held = await pool.acquire();
		const waiting = pool.acquire();
		// The release hands the connection to the waiter; in the same turn nothing is idle for tryAcquire.
		held.release();
		assert.equal(pool.tryAcquire(), undefined);
		(await waiting).release();
		await pool.close();
	});

	it("an idle connection due for validation is validated, not lent: tryAcquire gives nothing, acquire() gets it after", async () => {
		let created = 0;
		let validations = 0;
		const pool = createPool({
			name: "validate",
			create: () => ({ id: ++created }),
			max: 1,
			min: 0,
			validateAfterIdleMs: 20,
			validate: async () => {
				validations++;
				await sleep(30);
				return true;
			},
		});
		(await pool.acquire()).release();
		await sleep(40);
		assert.equal(pool.tryAcquire(), undefined);
		assert.equal(validations, 1, "the take sent it to validation");
		const lease = await pool.acquire();
		assert.equal(lease.resource.id, 1, "the validated connection, not a new one");
		lease.release();
		await pool.close();
	});
});

describe("Pool.failOldestWaiter", () => {
	it("fails the caller that has waited longest with the given error, counted as a create error; the others keep waiting", async () => {
		const pool = makePool();
		const held = await pool.acquire();
		const failures: string[] = [];
		pool.on("acquireFailed", (e) => failures.push(e.reason));
		const first = ask(pool, "first");
		const second = pool.acquire();
		const third = ask(pool, "third");
		const cause = new Error("connect ECONNREFUSED");
		assert.equal(pool.failOldestWaiter(cause), true);
		assert.equal(first.error, cause, "the oldest gets the driver's own error, at once");
		assert.equal(first.context, "first");
		assert.equal(pool.pendingCount, 2);
		assert.deepEqual(failures, ["createError"]);
		// The next oldest is the promise caller, then the callback one.
		assert.equal(pool.failOldestWaiter(cause), true);
		await assert.rejects(second, (e) => e === cause);
		held.release();
		assert.equal(third.answers, 1);
		assert.equal(third.lease?.resource.id, 1, "the last one is served by the release");
		assert.equal(pool.failOldestWaiter(cause), false, "nobody waits");
		assert.equal(first.answers, 1, "answered exactly once");
		third.lease?.release();
		await pool.close();
	});
});
