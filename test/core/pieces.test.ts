/** The small parts pool.ts is built from, each on its own. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { PooledConnection } from "../../src/core/connection.ts";
import { isThenable, settleBySignal, withDeadline } from "../../src/core/deadline.ts";
import { DecayingCounter, TROUBLE_HALF_LIFE_MS } from "../../src/core/decay.ts";
import { medianLatency, poolHealthScore } from "../../src/core/health-score.ts";
import { Housekeeper, housekeepingPeriod } from "../../src/core/housekeeper.ts";
import { LeaseState } from "../../src/core/lease.ts";
import { LeaseClock } from "../../src/core/lease-clock.ts";
import { PoolCounters, statsSnapshot } from "../../src/core/stats.ts";
import { WatchedEmitter } from "../../src/core/watched-emitter.ts";
import { createPool, type PoolOptions } from "../../src/index.ts";

describe("DecayingCounter", () => {
	it("counts events and halves every half-life", () => {
		const c = new DecayingCounter(1_000);
		assert.equal(c.valueAt(0), 0);
		c.bump(0);
		c.bump(0);
		assert.equal(c.valueAt(0), 2);
		assert.equal(c.valueAt(1_000), 1);
		assert.equal(c.valueAt(2_000), 0.5);
		c.bump(2_000);
		assert.equal(c.valueAt(2_000), 1.5);
	});

	it("connections and pools share one half-life of a minute", () => {
		assert.equal(TROUBLE_HALF_LIFE_MS, 60_000);
		const conn = new PooledConnection(1, {}, 0, 0, 0);
		conn.recordFault(0);
		assert.equal(conn.recentErrors(TROUBLE_HALF_LIFE_MS), 0.5);
	});
});

describe("deadlines", () => {
	it("withDeadline resolves with the work when it finishes in time", async () => {
		assert.equal(
			await withDeadline(
				async () => 7,
				1_000,
				() => new Error("late"),
			),
			7,
		);
	});

	it("withDeadline rejects at the deadline even when the work ignores its signal, and aborts the signal", async () => {
		let aborted: AbortSignal | undefined;
		const started = performance.now();
		await assert.rejects(
			withDeadline(
				(signal) => {
					aborted = signal;
					return new Promise(() => {});
				},
				20,
				() => new Error("too slow"),
			),
			/too slow/,
		);
		assert.ok(performance.now() - started < 1_000);
		assert.equal(aborted?.aborted, true);
	});

	it("settleBySignal hands a value that arrives after the abort to onLate", async () => {
		const controller = new AbortController();
		const late: number[] = [];
		const work = sleep(20).then(() => 5);
		const settled = settleBySignal(work, controller.signal, (v) => late.push(v));
		controller.abort(new Error("gone"));
		await assert.rejects(settled, /gone/);
		await work;
		assert.deepEqual(late, [5]);
	});

	it("isThenable tells a promise from a plain value", () => {
		assert.equal(isThenable(Promise.resolve()), true);
		// biome-ignore lint/suspicious/noThenProperty: a non-promise thenable is what this checks
		assert.equal(isThenable({ then() {} }), true);
		assert.equal(isThenable(undefined), false);
		assert.equal(isThenable({}), false);
	});
});

describe("WatchedEmitter", () => {
	type Events = { ping: [number]; pong: [] };

	it("knows per event whether anyone listens, through on/off/removeAllListeners", () => {
		const changes: string[] = [];
		class Probe extends WatchedEmitter<Events> {
			protected override watchChanged(): void {
				changes.push(`ping=${this.watching.ping}`);
			}
		}
		const e = new Probe(["ping", "pong"], "probe");
		assert.deepEqual(e.watching, { ping: false, pong: false });
		const listener = () => {};
		e.on("ping", listener);
		assert.equal(e.watching.ping, true);
		e.off("ping", listener);
		assert.equal(e.watching.ping, false);
		e.on("ping", listener);
		e.removeAllListeners();
		assert.equal(e.listenerCount("ping"), 0, "every event's listeners are removed, not those of an event named undefined");
		assert.equal(e.watching.ping, false);
		e.on("ping", listener);
		assert.equal(e.watching.ping, true, "still watched after removeAllListeners()");
		assert.ok(changes.length >= 4);
	});

	it("emitSafely turns a listener's throw into a LIFEGUARD_LISTENER_ERROR warning", async () => {
		const e = new WatchedEmitter<Events>(["ping", "pong"], "probe");
		const got: number[] = [];
		e.on("ping", () => {
			throw new Error("listener bug");
		});
		e.on("ping", (n) => got.push(n));
		const warned = new Promise<Error & { code?: string }>((resolve) => process.once("warning", resolve));
		e.emitSafely("ping", 1);
		const warning = await warned;
		assert.equal(warning.code, "LIFEGUARD_LISTENER_ERROR");
		assert.match(warning.message, /probe: a "ping" listener threw: listener bug/);
		assert.deepEqual(got, [], "EventEmitter stops at the throwing listener; the emitter's caller goes on");
	});
});

describe("health score", () => {
	it("the median latency ignores unmeasured connections", () => {
		const conns = [1, 2, 3].map((id) => new PooledConnection(id, {}, 0, 0, 0));
		assert.ok(Number.isNaN(medianLatency(conns)));
		conns[0].recordLatency(10);
		conns[1].recordLatency(30);
		assert.equal(medianLatency(conns), 30);
	});

	it("is 100 with no connection and no trouble, loses 10 per unit of trouble up to 50", () => {
		assert.equal(poolHealthScore([], 0, Number.NaN, 0), 100);
		assert.equal(poolHealthScore([], 0, Number.NaN, 2), 80);
		assert.equal(poolHealthScore([], 0, Number.NaN, 9), 50);
	});

	it("is the mean of the connections' scores", () => {
		const good = new PooledConnection(1, {}, 0, 0, 0);
		const faulty = new PooledConnection(2, {}, 0, 0, 0);
		faulty.uses = 1;
		faulty.recordFault(0);
		const expected = Math.round((good.healthScore(0) + faulty.healthScore(0)) / 2);
		assert.equal(poolHealthScore([good, faulty], 0, Number.NaN, 0), expected);
		assert.ok(expected < 100);
	});
});

describe("LeaseClock", () => {
	it("times every acquire when always is set", () => {
		const clock = new LeaseClock(true);
		for (let i = 0; i < 10; i++) assert.equal(typeof clock.sample(i * 1_000_000), "number");
		assert.equal(clock.every, 1);
	});

	it("times every lease at a low rate", () => {
		const clock = new LeaseClock(false);
		for (let i = 0; i < 10; i++) assert.equal(typeof clock.sample(i), "number");
	});

	it("above 10 000 acquires/s times 1 acquire in N on average (N a power of two), at random gaps of 1 to 2N-1", async () => {
		const clock = new LeaseClock(false);
		const before = performance.now();
		clock.sample(0);
		const afterFirst = performance.now();
		await sleep(110);
		const beforeSecond = performance.now();
		assert.equal(typeof clock.sample(100_000), "number");
		const afterSecond = performance.now();
		const n = clock.every;
		// 100 000 acquires in ~110 ms is ~900 000 a second: N = 128 brings that under 10 000. A loaded machine's sleep can
		// last longer (300 ms makes N = 64), so N is checked against the window the clock itself measured, read around it.
		const expectedN = (elapsedMs: number) => {
			let k = 1;
			while (k < 1024 && 100_000_000 / elapsedMs / k > 10_000) k *= 2;
			return k;
		};
		assert.ok(Number.isInteger(Math.log2(n)) && n > 1, `N = ${n} is a power of two above 1`);
		assert.ok(
			n >= expectedN(afterSecond - before) && n <= expectedN(beforeSecond - afterFirst),
			`N = ${n} for a window of ${Math.round(beforeSecond - afterFirst)}-${Math.round(afterSecond - before)} ms`,
		);
		// The gaps between timed acquires, within the same window (a few milliseconds of calls).
		const gaps: number[] = [];
		let gap = 0;
		while (gaps.length < 2_000) {
			gap++;
			if (clock.sample(100_001) !== undefined) {
				gaps.push(gap);
				gap = 0;
			}
		}
		assert.equal(clock.every, n, "still the same window");
		const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
		assert.ok(Math.abs(mean - n) < n * 0.1, `mean gap ${mean.toFixed(1)} is about N = ${n}`);
		assert.ok(Math.min(...gaps) >= 1 && Math.max(...gaps) <= 2 * n - 1, `gaps within 1..${2 * n - 1}`);
		assert.ok(new Set(gaps).size > n / 2, "the gaps vary: no fixed stride to alias with a periodic workload");
	});
});

describe("lease state", () => {
	it("active, then released by its borrower; reclaimed by the pool, then released silently by the borrower's late release", async () => {
		const pool = createPool({ create: () => ({}) });
		const warnings: string[] = [];
		const onWarning = (w: Error & { code?: string }) => warnings.push(w.code ?? "");
		process.on("warning", onWarning);
		const a = await pool.acquire();
		assert.equal(a.state, LeaseState.active);
		a.release();
		assert.equal(a.state, LeaseState.released);
		const b = await pool.acquire();
		pool.reclaim(b);
		assert.equal(b.state, LeaseState.reclaimed);
		b.release();
		assert.equal(b.state, LeaseState.released);
		await sleep(5);
		process.off("warning", onWarning);
		assert.deepEqual(warnings, [], "the late release of a reclaimed lease is expected");
		await pool.close();
	});
});

describe("Housekeeper", () => {
	it("runs every half of the shortest duration it enforces (30 s when none), between 5 ms and 30 s", () => {
		const resolve = (o: Partial<PoolOptions<unknown>>) => createPool({ create: () => ({}), ...o }).options as never;
		assert.equal(housekeepingPeriod(resolve({ idleTimeoutMs: 0, maxLifetimeMs: 0 })), 15_000, "nothing to enforce: every 15 s (for min)");
		assert.equal(housekeepingPeriod(resolve({ idleTimeoutMs: 1_000 })), 500);
		assert.equal(housekeepingPeriod(resolve({ idleTimeoutMs: 1_000, leakDetectionMs: 40 })), 20);
		assert.equal(housekeepingPeriod(resolve({ leakDetectionMs: 2 })), 5);
	});

	it("starts once, runs its round, and stops", async () => {
		let rounds = 0;
		const options = createPool({ create: () => ({}), idleTimeoutMs: 20 }).options as never;
		const keeper = new Housekeeper(options, () => rounds++);
		keeper.start();
		keeper.start();
		assert.equal(keeper.running, true);
		await sleep(60);
		keeper.stop();
		const seen = rounds;
		assert.ok(seen >= 2, `ran ${seen} rounds in 60 ms at a 10 ms period`);
		await sleep(30);
		assert.equal(rounds, seen, "no round after stop()");
		assert.equal(keeper.running, false);
	});
});

describe("statsSnapshot", () => {
	it("copies the counters (a later change does not alter it) and derives reuseRatio and utilization", () => {
		const c = new PoolCounters();
		c.acquiredOk = 4;
		c.lentFresh = 1;
		const gauges = {
			name: "p",
			state: "open",
			generation: 0,
			min: 0,
			max: 10,
			total: 2,
			active: 2,
			idle: 0,
			creating: 0,
			pending: 0,
			healthScore: 100,
			lastCreateError: undefined,
		} as const;
		const snapshot = statsSnapshot(gauges, c);
		c.destroyedByReason.idle++;
		assert.equal(snapshot.destroyedByReason.idle, 0);
		assert.equal(snapshot.reuseRatio, 0.75);
		assert.equal(snapshot.utilization, 0.2);
		assert.equal(snapshot.acquires.ok, 4);
	});
});
