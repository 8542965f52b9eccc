/** withLease: acquire, run, destroy on a connection fault, else release. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createPool, ErrorCode, runOnLease, withLease } from "../../src/index.ts";

function pool(classifyError?: (error: unknown) => "connection" | "caller") {
	const closed: string[] = [];
	const p = createPool<{ id: number }>({ create: () => ({ id: 1 }), classifyError, max: 1 });
	p.on("connectionClosed", (e) => closed.push(e.reason));
	return { p, closed };
}

describe("withLease", () => {
	it("returns the work's result and gives the connection back", async () => {
		const { p, closed } = pool();
		assert.equal(await withLease(p, (r) => r.id + 1), 2);
		assert.equal(p.idleCount, 1);
		assert.deepEqual(closed, []);
		await p.close();
	});

	it("passes the lease too, so the work can report errors it handles", async () => {
		const { p } = pool();
		await withLease(p, (_r, lease) => assert.equal(lease.active, true));
		await p.close();
	});

	it("rethrows a caller error and keeps the connection (default classification: the pool's classifyError)", async () => {
		const { p, closed } = pool(() => "caller");
		await assert.rejects(
			withLease(p, () => {
				throw new Error("syntax error");
			}),
			/syntax error/,
		);
		assert.equal(p.idleCount, 1);
		assert.deepEqual(closed, []);
		await p.close();
	});

	it("destroys the connection on a connection fault and rethrows", async () => {
		const { p, closed } = pool(() => "connection");
		await assert.rejects(
			withLease(p, () => Promise.reject(new Error("ECONNRESET"))),
			/ECONNRESET/,
		);
		assert.equal(p.size, 0);
		assert.deepEqual(closed, ["error"]);
		await p.close();
	});

	it("isConnectionFault overrides the classification and may be async", async () => {
		const { p, closed } = pool(() => "caller");
		await assert.rejects(
			withLease(p, () => Promise.reject(new Error("broken")), { isConnectionFault: async (_e, r) => r.id === 1 }),
			/broken/,
		);
		assert.deepEqual(closed, ["error"]);
		await p.close();
	});

	it("a lease the pool ended during the work keeps the caller's error (no LEASE_INVALID)", async () => {
		const { p } = pool(() => "connection");
		await assert.rejects(
			withLease(p, (_r, lease) => {
				p.reclaim(lease);
				throw new Error("the caller's own error");
			}),
			/the caller's own error/,
		);
		await p.close();
	});

	it("passes acquire options through (a bad timeout is refused)", async () => {
		const { p } = pool();
		await assert.rejects(
			withLease(p, () => 1, { timeoutMs: -1 }),
			{ code: ErrorCode.CONFIG_INVALID },
		);
		await p.close();
	});
});

/** A failure whose work still runs on the connection (an aborted statement being cancelled). */
class StillRunning extends Error {
	readonly outcome: Promise<unknown>;
	constructor(outcome: Promise<unknown>) {
		super("aborted by the caller");
		this.outcome = outcome;
	}
}

describe("runOnLease", () => {
	const options = {
		isConnectionFault: (error: unknown) => error instanceof Error && error.message === "ECONNRESET",
		stillRunning: (error: unknown) => (error instanceof StillRunning ? error.outcome : undefined),
	};

	it("runs on a lease the caller holds, releases it after, and destroys it on a fault", async () => {
		const { p, closed } = pool();
		const lease = await p.acquire();
		assert.equal(await runOnLease(lease, (r) => r.id, options), 1);
		assert.equal(lease.active, false);
		assert.equal(p.idleCount, 1);
		await assert.rejects(
			runOnLease(await p.acquire(), () => Promise.reject(new Error("ECONNRESET")), options),
			/ECONNRESET/,
		);
		assert.deepEqual(closed, ["error"]);
		await p.close();
	});

	it("stillRunning: the caller is answered at once, the lease is kept until the work stops, then released", async () => {
		const { p, closed } = pool();
		const lease = await p.acquire();
		let finish: (error: unknown) => void = () => {};
		const outcome = new Promise<unknown>((resolve) => (finish = resolve));
		await assert.rejects(
			runOnLease(lease, () => Promise.reject(new StillRunning(outcome)), options),
			/aborted by the caller/,
		);
		assert.equal(lease.active, true, "nothing else may run on the connection yet");
		assert.equal(p.activeCount, 1);
		finish(undefined);
		await outcome;
		await new Promise((resolve) => setImmediate(resolve));
		assert.equal(lease.active, false);
		assert.equal(p.idleCount, 1);
		assert.deepEqual(closed, []);
		await p.close();
	});

	it("stillRunning: a late error that broke the connection destroys it", async () => {
		const { p, closed } = pool();
		const lease = await p.acquire();
		let finish: (error: unknown) => void = () => {};
		const outcome = new Promise<unknown>((resolve) => (finish = resolve));
		await assert.rejects(
			runOnLease(lease, () => Promise.reject(new StillRunning(outcome)), options),
			StillRunning,
		);
		finish(new Error("ECONNRESET"));
		await outcome;
		await new Promise((resolve) => setImmediate(resolve));
		assert.equal(p.size, 0);
		assert.deepEqual(closed, ["error"]);
		await p.close();
	});

	it("a classifier that throws or rejects destroys the connection and the caller still gets its own error", async () => {
		for (const isConnectionFault of [
			() => {
				throw new Error("classifier bug");
			},
			() => Promise.reject(new Error("classifier bug")),
		]) {
			const { p, closed } = pool();
			await assert.rejects(
				withLease(p, () => Promise.reject(new Error("the caller's error")), { isConnectionFault }),
				/the caller's error/,
			);
			assert.equal(p.activeCount, 0, "the lease ended");
			assert.deepEqual(closed, ["error"]);
			// max is 1: a lease left active would make this acquire time out.
			assert.equal(await withLease(p, (r) => r.id, { timeoutMs: 1_000 }), 1);
			await p.close();
		}
	});

	it("a stillRunning hook that throws destroys the connection and the caller still gets its own error", async () => {
		const { p, closed } = pool();
		await assert.rejects(
			runOnLease(await p.acquire(), () => Promise.reject(new Error("the caller's error")), {
				stillRunning: () => {
					throw new Error("hook bug");
				},
			}),
			/the caller's error/,
		);
		assert.equal(p.activeCount, 0);
		assert.deepEqual(closed, ["error"]);
		await p.close();
	});
});
