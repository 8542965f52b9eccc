/** Retry: which outcomes and requests are retried, full-jitter backoff, Retry-After, one deadline. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { createRetryPolicy, Deadline, isRepeatableRequest, RETRYABLE_STATUSES, RequestAbortedError, retryAfterMs } from "../../src/resilience/index.ts";

describe("Retry-After", () => {
	it("reads seconds, fractional seconds and the millisecond variant", () => {
		assert.equal(retryAfterMs({ "retry-after": "3" }), 3000);
		assert.equal(retryAfterMs({ "retry-after": "0.5" }), 500);
		assert.equal(retryAfterMs({ "retry-after-ms": "120", "retry-after": "9" }), 120);
		assert.equal(retryAfterMs(new Headers({ "Retry-After": "2" })), 2000);
	});

	it("reads an HTTP-date relative to now, and a past date as 0", () => {
		const now = Date.parse("Wed, 21 Oct 2026 07:28:00 GMT");
		assert.equal(retryAfterMs({ "retry-after": "Wed, 21 Oct 2026 07:28:30 GMT" }, now), 30_000);
		assert.equal(retryAfterMs({ "retry-after": "Wed, 21 Oct 2026 07:27:00 GMT" }, now), 0);
	});

	it("ignores what is neither", () => {
		assert.equal(retryAfterMs({ "retry-after": "soon" }), undefined);
		assert.equal(retryAfterMs({ "retry-after": "-1" }), undefined);
		assert.equal(retryAfterMs({}), undefined);
		assert.equal(retryAfterMs(undefined), undefined);
	});
});

describe("which requests may be sent twice", () => {
	it("idempotent methods yes, POST and PATCH no", () => {
		for (const method of ["GET", "head", "PUT", "DELETE", "OPTIONS"]) assert.equal(isRepeatableRequest({ method }), true, method);
		for (const method of ["POST", "PATCH"]) assert.equal(isRepeatableRequest({ method, body: "{}" }), false, method);
	});

	it("a POST with an idempotency key, or marked retryable, yes", () => {
		assert.equal(isRepeatableRequest({ method: "POST", headers: { "Idempotency-Key": "k1" }, body: "{}" }), true);
		assert.equal(isRepeatableRequest({ method: "POST", headers: ["idempotency-key", "k1"], body: "{}" }), true);
		assert.equal(isRepeatableRequest({ method: "POST", retryable: true, body: Buffer.from("x") }), true);
	});

	it("never when the body is a stream or an iterator, whatever the method", () => {
		async function* body() {
			yield "x";
		}
		assert.equal(isRepeatableRequest({ method: "PUT", body: body() }), false);
		assert.equal(isRepeatableRequest({ method: "POST", retryable: true, body: new ReadableStream() }), false);
	});

	it("a request marked retryable: false is never retried, even a GET", () => {
		assert.equal(isRepeatableRequest({ method: "GET", retryable: false }), false);
	});
});

describe("retry decisions", () => {
	it("retries 408, 429, 500, 502, 503, 504 and nothing else by default", () => {
		const policy = createRetryPolicy({ maxAttempts: 2 });
		for (let status = 200; status < 600; status++) {
			const decision = policy.start({ method: "GET" }).decide({ status });
			assert.equal(decision.retry, RETRYABLE_STATUSES.includes(status), String(status));
		}
	});

	it("retries connection errors (also wrapped as fetch does) but not DNS failures or other errors", () => {
		const policy = createRetryPolicy();
		const reset = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
		assert.equal(policy.start({ method: "GET" }).decide({ error: reset }).retry, true);
		assert.equal(policy.start({ method: "GET" }).decide({ error: new TypeError("fetch failed", { cause: reset }) }).retry, true);
		const dns = Object.assign(new Error("getaddrinfo ENOTFOUND"), { code: "ENOTFOUND" });
		assert.deepEqual(policy.start({ method: "GET" }).decide({ error: dns }), { retry: false, reason: "notRetryable" });
		assert.deepEqual(policy.start({ method: "GET" }).decide({ error: new Error("boom") }), { retry: false, reason: "notRetryable" });
	});

	it("statuses and errors are configurable", () => {
		const policy = createRetryPolicy({ statuses: [409], retryOnError: (e) => (e as Error).message === "again" });
		assert.equal(policy.start().decide({ status: 409 }).retry, true);
		assert.equal(policy.start().decide({ status: 503 }).retry, false);
		assert.equal(policy.start().decide({ error: new Error("again") }).retry, true);
	});

	it("does not retry a POST without an idempotency key", () => {
		const state = createRetryPolicy().start({ method: "POST", body: "{}" });
		assert.deepEqual(state.decide({ status: 503 }), { retry: false, reason: "requestNotRepeatable" });
	});

	it("stops after maxAttempts", () => {
		const state = createRetryPolicy({ maxAttempts: 3, initialDelayMs: 0, maxDelayMs: 0 }).start({ method: "GET" });
		assert.equal(state.decide({ status: 503 }).retry, true);
		assert.equal(state.decide({ status: 503 }).retry, true);
		assert.deepEqual(state.decide({ status: 503 }), { retry: false, reason: "attempts" });
	});

	it("full jitter: the n-th delay is drawn from [0, min(maxDelay, initial * 2^n))", () => {
		fc.assert(
			fc.property(fc.integer({ min: 1, max: 500 }), fc.integer({ min: 1, max: 20_000 }), fc.integer({ min: 1, max: 8 }), (initial, maxExtra, retries) => {
				const max = initial + maxExtra;
				const state = createRetryPolicy({ maxAttempts: retries + 1, initialDelayMs: initial, maxDelayMs: max }).start({ method: "GET" });
				for (let n = 0; n < retries; n++) {
					const d = state.decide({ status: 503 });
					assert.equal(d.retry, true);
					if (d.retry) {
						assert.ok(d.delayMs >= 0 && d.delayMs < Math.max(1, Math.min(max, initial * 2 ** n)), `retry ${n}: ${d.delayMs}`);
					}
				}
			}),
			{ numRuns: 200 },
		);
	});

	it("waits what Retry-After asks instead of the backoff, up to maxRetryAfterMs", () => {
		const policy = createRetryPolicy({ maxRetryAfterMs: 5_000 });
		assert.deepEqual(policy.start({ method: "GET" }).decide({ status: 429, headers: { "retry-after": "2" } }), { retry: true, delayMs: 2000 });
		assert.deepEqual(policy.start({ method: "GET" }).decide({ status: 503, headers: { "retry-after": "10" } }), { retry: false, reason: "retryAfterTooLong" });
	});

	it("does not retry when the wait would pass the overall deadline", () => {
		const state = createRetryPolicy().start({ method: "GET" }, new Deadline(1_000));
		assert.deepEqual(state.decide({ status: 429, headers: { "retry-after": "2" } }), { retry: false, reason: "deadline" });
	});

	it("rejects bad options, listing every problem", () => {
		assert.throws(
			() => createRetryPolicy({ maxAttempts: 0, initialDelayMs: -1, statuses: [42], bogus: 1 } as never),
			(e: Error & { code: string; problems: { path: string }[] }) =>
				e.code === "CONFIG_INVALID" && ["bogus", "maxAttempts", "initialDelayMs", "statuses"].every((p) => e.problems.some((x) => x.path === p)),
		);
		// Delays are slept with timers: past 2^31-1 ms Node fires them after 1 ms, i.e. retries at once.
		assert.throws(
			() => createRetryPolicy({ maxDelayMs: 2 ** 31, maxRetryAfterMs: Number.POSITIVE_INFINITY, initialDelayMs: "250", maxAttempt: 2 } as never),
			(e: Error & { code: string; problems: { path: string; message: string }[] }) => {
				assert.deepEqual(e.problems.map((p) => p.path).sort(), ["initialDelayMs", "maxAttempt", "maxDelayMs", "maxRetryAfterMs"]);
				assert.match(e.problems.find((p) => p.path === "maxAttempt")?.message ?? "", /did you mean "maxAttempts"/);
				assert.match(e.problems.find((p) => p.path === "maxDelayMs")?.message ?? "", /at most 2147483647 ms/);
				return true;
			},
		);
	});
});

describe("RetryPolicy.run", () => {
	it("retries a failing attempt and returns the first success", async () => {
		let calls = 0;
		const result = await createRetryPolicy({ initialDelayMs: 1, maxDelayMs: 2 }).run(async () => {
			if (++calls < 3) throw Object.assign(new Error("reset"), { code: "ECONNRESET" });
			return "ok";
		});
		assert.equal(result, "ok");
		assert.equal(calls, 3);
	});

	it("returns the last retryable response when attempts run out, discarding the earlier ones", async () => {
		const discarded: number[] = [];
		let n = 0;
		const value = await createRetryPolicy({ maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 1 }).run(async () => ({ status: 503, n: ++n }), {
			request: { method: "GET" },
			inspect: (r) => ({ status: r.status }),
			discard: (r) => discarded.push(r.n),
		});
		assert.deepEqual(value, { status: 503, n: 3 });
		assert.deepEqual(discarded, [1, 2]);
	});

	it("throws the last error as it is when it is not retryable", async () => {
		const boom = new Error("boom");
		let calls = 0;
		await assert.rejects(
			createRetryPolicy().run(async () => {
				calls++;
				throw boom;
			}),
			(e) => e === boom,
		);
		assert.equal(calls, 1);
	});

	it("an abort during the backoff ends the call with REQUEST_ABORTED", async () => {
		const controller = new AbortController();
		const run = createRetryPolicy({ initialDelayMs: 5_000, maxDelayMs: 5_000, maxAttempts: 5 }).run(
			async () => {
				setTimeout(() => controller.abort(), 5);
				return { status: 503 };
			},
			{ signal: controller.signal, inspect: (r) => r, request: { method: "GET" } },
		);
		await assert.rejects(run, (e) => e instanceof RequestAbortedError && ((e as RequestAbortedError).code as string) === "REQUEST_ABORTED");
	});
});
