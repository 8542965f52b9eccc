/** withLease: acquire, run, destroy on a connection fault, else release. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createPool, ErrorCode, withLease } from "../../src/index.ts";

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
