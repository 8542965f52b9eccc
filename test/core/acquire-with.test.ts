/** Pool.acquireWith: acquire() answered through callbacks (the drop-ins' checkout), with acquire()'s rules. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
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
