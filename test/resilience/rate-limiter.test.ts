/** Rate limits per key: requests and tokens per minute, FIFO queueing within a deadline, settle with actual usage. */
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it, mock } from "node:test";
import fc from "fast-check";
import { Deadline, RateLimitedError, RateLimiter, RequestAbortedError } from "../../src/resilience/index.ts";

async function flush() {
	for (let i = 0; i < 5; i++) await Promise.resolve();
}

describe("rate limiter", () => {
	beforeEach(() => mock.timers.enable({ apis: ["Date", "setTimeout"], now: 0 }));
	afterEach(() => mock.timers.reset());

	it("admits requestsPerMinute at once, then one more per 60000/limit ms", async () => {
		const limiter = new RateLimiter({ requestsPerMinute: 60 });
		for (let i = 0; i < 60; i++) await limiter.reserve("k");
		let admitted = false;
		const next = limiter.reserve("k").then(() => (admitted = true));
		mock.timers.tick(999);
		await flush();
		assert.equal(admitted, false);
		mock.timers.tick(1);
		await next;
		assert.equal(limiter.stats().delayed, 1);
	});

	it("serves waiters first come first served", async () => {
		const limiter = new RateLimiter({ requestsPerMinute: 1 });
		await limiter.reserve("k");
		const order: number[] = [];
		const a = limiter.reserve("k").then(() => order.push(1));
		const b = limiter.reserve("k").then(() => order.push(2));
		mock.timers.tick(120_000);
		await Promise.all([a, b]);
		assert.deepEqual(order, [1, 2]);
	});

	it("refuses at once with RATE_LIMITED when the wait would pass the deadline, and charges nothing", async () => {
		const limiter = new RateLimiter({ requestsPerMinute: 1 });
		await limiter.reserve("k");
		await assert.rejects(
			limiter.reserve("k", { deadline: new Deadline(10_000) }),
			(e) => e instanceof RateLimitedError && (e.code as string) === "RATE_LIMITED" && e.limit === "requests" && Math.round(e.waitMs) === 60_000,
		);
		mock.timers.tick(60_000);
		await limiter.reserve("k", { deadline: new Deadline(1) });
		assert.equal(limiter.stats().rejected, 1);
	});

	it("keys are independent", async () => {
		const limiter = new RateLimiter((key) => (key === "slow" ? { requestsPerMinute: 1 } : undefined));
		await limiter.reserve("slow");
		for (let i = 0; i < 100; i++) await limiter.reserve("fast", { deadline: new Deadline(1) });
		await assert.rejects(limiter.reserve("slow", { deadline: new Deadline(1) }), RateLimitedError);
	});

	it("tokens: reserves the estimate, and settle refunds what was not used", async () => {
		const limiter = new RateLimiter({ tokensPerMinute: 1_000 });
		const r = await limiter.reserve("k", { tokens: 800 });
		await assert.rejects(limiter.reserve("k", { tokens: 500, deadline: new Deadline(100) }), (e) => e instanceof RateLimitedError && e.limit === "tokens");
		r.settle(200);
		await limiter.reserve("k", { tokens: 500, deadline: new Deadline(1) });
		assert.equal(limiter.stats().keys.k.tokens, 300);
	});

	it("tokens: settle charges more when the call used more than estimated", async () => {
		const limiter = new RateLimiter({ tokensPerMinute: 1_000 });
		const r = await limiter.reserve("k", { tokens: 100 });
		r.settle(900);
		r.settle(0);
		assert.equal(limiter.stats().keys.k.tokens, 100, "1000 - 100 reserved - 800 more used");
	});

	it("an aborted waiter gives its reservation back", async () => {
		const limiter = new RateLimiter({ requestsPerMinute: 1 });
		await limiter.reserve("k");
		const controller = new AbortController();
		const waiting = limiter.reserve("k", { signal: controller.signal });
		controller.abort();
		await assert.rejects(waiting, RequestAbortedError);
		mock.timers.tick(60_000);
		await limiter.reserve("k", { deadline: new Deadline(1) });
	});

	it("refuses a token estimate that is not a number >= 0 with CONFIG_INVALID, and the key's limit still holds after", async () => {
		const limiter = new RateLimiter({ tokensPerMinute: 1_000 });
		for (const tokens of [Number.NaN, -500, Number.POSITIVE_INFINITY, "10" as unknown as number]) {
			await assert.rejects(limiter.reserve("k", { tokens }), (e: Error & { code?: string }) => e.code === "CONFIG_INVALID" && /tokens/.test(e.message));
		}
		await limiter.reserve("k", { tokens: 1_000 });
		await assert.rejects(limiter.reserve("k", { tokens: 1, deadline: new Deadline(1) }), RateLimitedError);
		assert.equal(limiter.stats().keys.k.tokens, 0);
	});

	it("settle() ignores a usage that is not a number >= 0 (the estimate stays charged)", async () => {
		const limiter = new RateLimiter({ tokensPerMinute: 1_000 });
		const r = await limiter.reserve("k", { tokens: 100 });
		r.settle(-5_000);
		assert.equal(limiter.stats().keys.k.tokens, 900);
	});

	it("rejects bad limits", () => {
		assert.throws(
			() => new RateLimiter({ requestsPerMinute: 0, tokensPerMinute: Number.NaN }),
			(e: Error & { problems: unknown[] }) => e.problems.length === 2,
		);
	});

	it("never admits more than the burst plus the refill over any schedule of arrivals", async () => {
		await fc.assert(
			fc.asyncProperty(fc.integer({ min: 1, max: 120 }), fc.array(fc.integer({ min: 0, max: 5_000 }), { minLength: 1, maxLength: 60 }), async (rpm, gaps) => {
				mock.timers.reset();
				mock.timers.enable({ apis: ["Date", "setTimeout"], now: 0 });
				const limiter = new RateLimiter({ requestsPerMinute: rpm });
				const admittedAt: number[] = [];
				const pending: Promise<unknown>[] = [];
				for (const gap of gaps) {
					mock.timers.tick(gap);
					await flush();
					pending.push(limiter.reserve("k").then(() => admittedAt.push(Date.now())));
				}
				mock.timers.tick(60_000 * gaps.length);
				await Promise.all(pending);
				for (const t of admittedAt) {
					const upTo = admittedAt.filter((x) => x <= t).length;
					assert.ok(upTo <= rpm + (t * rpm) / 60_000 + 1e-9, `${upTo} admitted by ${t} ms at ${rpm}/min`);
				}
			}),
			{ numRuns: 60 },
		);
	});
});

describe("rate limiter waits beyond Node's timer range", () => {
	it("a wait longer than 2^31-1 ms still waits (Node would fire such a timer after 1 ms)", async () => {
		const limiter = new RateLimiter({ tokensPerMinute: 1 });
		const controller = new AbortController();
		let admitted = false;
		// 100 000 tokens at 1 a minute: about 70 days.
		const waiting = limiter.reserve("k", { tokens: 100_000, signal: controller.signal }).then(() => (admitted = true));
		await new Promise((resolve) => setTimeout(resolve, 30));
		assert.equal(admitted, false);
		controller.abort();
		await assert.rejects(waiting, RequestAbortedError);
	});
});
