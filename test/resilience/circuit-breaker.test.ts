/** Circuit breakers per key: closed → open → half-open with one probe → closed or open again. */
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it, mock } from "node:test";
import { PoolClosedError } from "../../src/core/errors.ts";
import { CircuitBreakers, CircuitOpenError, Cooldowns, Deadline, RateLimitedError } from "../../src/resilience/index.ts";

const fail = () => Promise.reject(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }));

describe("circuit breaker", () => {
	beforeEach(() => mock.timers.enable({ apis: ["Date", "setTimeout"], now: 1_000_000 }));
	afterEach(() => mock.timers.reset());

	it("opens after failureThreshold consecutive failures and then refuses at once without calling", async () => {
		const breakers = new CircuitBreakers({ failureThreshold: 3, halfOpenAfterMs: 5_000 });
		const b = breakers.get("https://api.example");
		for (let i = 0; i < 3; i++) await assert.rejects(b.execute(fail));
		assert.equal(b.state, "open");
		let called = false;
		await assert.rejects(
			b.execute(async () => {
				called = true;
			}),
			(e) => e instanceof CircuitOpenError && (e.code as string) === "CIRCUIT_OPEN" && e.retryAtMs === 1_005_000 && /ECONNREFUSED/.test(e.message),
		);
		assert.equal(called, false);
		assert.deepEqual(b.view(), { label: "https://api.example", state: "open", retryAtMs: 1_005_000, failures: 3, lastError: "connect ECONNREFUSED" });
	});

	it("a success resets the consecutive count", async () => {
		const b = new CircuitBreakers({ failureThreshold: 2 }).get("k");
		await assert.rejects(b.execute(fail));
		await b.execute(async () => 1);
		await assert.rejects(b.execute(fail));
		assert.equal(b.state, "closed");
	});

	it("after halfOpenAfterMs lets exactly one probe through; the others wait for its verdict", async () => {
		const b = new CircuitBreakers({ failureThreshold: 1, halfOpenAfterMs: 1_000 }).get("k");
		await assert.rejects(b.execute(fail));
		mock.timers.tick(1_000);
		assert.equal(b.state, "halfOpen");
		let running = 0;
		let release!: () => void;
		const gate = new Promise<void>((r) => (release = r));
		const call = () =>
			b.execute(async () => {
				running++;
				await gate;
				running--;
				return "ok";
			});
		const calls = [call(), call(), call()];
		await Promise.resolve();
		assert.equal(running, 1, "one probe in flight");
		release();
		assert.deepEqual(await Promise.all(calls), ["ok", "ok", "ok"]);
		assert.equal(b.state, "closed");
		assert.deepEqual(
			b.stats().history.map((h) => `${h.from}>${h.to}`),
			["closed>open", "open>halfOpen", "halfOpen>closed"],
		);
	});

	it("a failed probe opens it again", async () => {
		const b = new CircuitBreakers({ failureThreshold: 1, halfOpenAfterMs: 1_000 }).get("k");
		await assert.rejects(b.execute(fail));
		mock.timers.tick(1_000);
		await assert.rejects(b.execute(fail));
		assert.equal(b.state, "open");
		assert.equal(b.stats().opened, 2);
		await assert.rejects(
			b.execute(async () => 1),
			CircuitOpenError,
		);
		assert.equal(b.stats().rejected, 1);
	});

	it("counts a returned failure (a 503 response) and still returns it", async () => {
		const b = new CircuitBreakers({ failureThreshold: 2 }).get("k");
		const failed = (r: { status: number }) => (r.status >= 500 ? `HTTP ${r.status}` : undefined);
		assert.deepEqual(await b.execute(async () => ({ status: 503 }), failed), { status: 503 });
		assert.deepEqual(await b.execute(async () => ({ status: 503 }), failed), { status: 503 });
		assert.equal(b.state, "open");
		assert.equal(b.view().lastError, "HTTP 503");
	});

	it("the caller's own errors (rate limits, aborts, its client closed) are not failures", async () => {
		const b = new CircuitBreakers({ failureThreshold: 1 }).get("k");
		await assert.rejects(b.execute(() => Promise.reject(new RateLimitedError("k", "cooldown", 10, 0))));
		await assert.rejects(b.execute(() => Promise.reject(new DOMException("aborted", "AbortError"))));
		await assert.rejects(b.execute(() => Promise.reject(new PoolClosedError("http"))));
		assert.equal(b.state, "closed");
	});

	it("an error the isFailure option excludes is not counted as a failure in its statistics either", async () => {
		const b = new CircuitBreakers({ failureThreshold: 2, isFailure: (e) => !(e instanceof Error && e.message === "HTTP 404") }).get("k");
		for (let i = 0; i < 3; i++) await assert.rejects(b.execute(() => Promise.reject(new Error("HTTP 404"))));
		assert.equal(b.state, "closed");
		const stats = b.stats();
		assert.equal(stats.failures, 0);
		assert.equal(stats.totalFailures, 0);
		assert.equal(stats.lastError, undefined);
		// and a real failure afterwards opens it with its own reason
		for (let i = 0; i < 2; i++) await assert.rejects(b.execute(fail));
		assert.equal(b.state, "open");
		assert.equal(b.stats().history.at(-1)?.reason, "connect ECONNREFUSED");
	});

	it("keeps one breaker per key and lists them as BreakerView", async () => {
		const breakers = new CircuitBreakers({ failureThreshold: 1 });
		await assert.rejects(breakers.get("a").execute(fail));
		await breakers.get("b").execute(async () => 1);
		assert.deepEqual(
			breakers.views().map((v) => [v.label, v.state]),
			[
				["a", "open"],
				["b", "closed"],
			],
		);
	});

	it("rejects bad options", () => {
		assert.throws(() => new CircuitBreakers({ failureThreshold: 0, halfOpenAfterMs: -1 }), { code: "CONFIG_INVALID" });
	});

	it("checks each option's type, not only its range, listing every problem with its path (halfOpenAfterMs: '5000' passed '>= 0')", () => {
		const problems = (options: unknown) => {
			try {
				new CircuitBreakers(options as never);
			} catch (error) {
				const e = error as Error & { code: string; problems: { path: string; message: string }[] };
				assert.equal(e.code, "CONFIG_INVALID");
				return Object.fromEntries(e.problems.map((p) => [p.path, p.message]));
			}
			return assert.fail("expected CONFIG_INVALID");
		};
		const all = problems({ halfOpenAfterMs: "5000", failureThreshold: "5", historySize: 1.5, isFailure: "yes", halfOpenAfter: 1 });
		assert.deepEqual(Object.keys(all).sort(), ["failureThreshold", "halfOpenAfter", "halfOpenAfterMs", "historySize", "isFailure"]);
		assert.match(all.halfOpenAfterMs, /must be a number of milliseconds, got "5000"/);
		assert.match(all.failureThreshold, /must be an integer >= 1, got "5"/);
		assert.match(all.halfOpenAfter, /unknown option \(did you mean "halfOpenAfterMs"\?\)/);
		// A breaker that would never half-open (Infinity) or whose delay Node cannot time (past 2^31-1 ms).
		assert.match(problems({ halfOpenAfterMs: Number.POSITIVE_INFINITY }).halfOpenAfterMs, /must be finite/);
		assert.match(problems({ halfOpenAfterMs: 2 ** 31 }).halfOpenAfterMs, /must be at most 2147483647 ms/);
		assert.match(problems("fast")["(options)"], /must be an object/);
		// Valid ones still build, 0 included.
		new CircuitBreakers({ halfOpenAfterMs: 0, failureThreshold: 1, historySize: 0, isFailure: () => true });
	});
});

describe("429 cooldown", () => {
	beforeEach(() => mock.timers.enable({ apis: ["Date", "setTimeout"], now: 0 }));
	afterEach(() => mock.timers.reset());

	it("holds calls to the key until the cooldown ends, when their deadline allows", async () => {
		const cooldowns = new Cooldowns();
		cooldowns.start("k", 2_000);
		let done = false;
		const waiting = cooldowns.wait("k", { deadline: new Deadline(5_000) }).then(() => (done = true));
		mock.timers.tick(1_999);
		await Promise.resolve();
		assert.equal(done, false);
		mock.timers.tick(1);
		await waiting;
		assert.equal(done, true);
		await cooldowns.wait("other");
	});

	it("refuses at once with RATE_LIMITED when the cooldown outlasts the deadline", async () => {
		const cooldowns = new Cooldowns();
		cooldowns.start("k", 2_000);
		await assert.rejects(
			cooldowns.wait("k", { deadline: new Deadline(500) }),
			(e) => e instanceof RateLimitedError && e.limit === "cooldown" && e.waitMs === 2_000,
		);
	});

	it("a shorter cooldown does not cut a longer one", () => {
		const cooldowns = new Cooldowns();
		cooldowns.start("k", 5_000);
		cooldowns.start("k", 1_000);
		assert.equal(cooldowns.remainingMs("k"), 5_000);
	});
});
