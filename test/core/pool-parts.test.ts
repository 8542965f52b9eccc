/** The pieces pool.ts was split into, each on its own (the pool's own behaviour is in pool.test.ts and edge-cases.test.ts). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { type CheckHost, ConnectionChecks } from "../../src/core/checks.ts";
import { ConnState, PooledConnection } from "../../src/core/connection.ts";
import { Connector, type ConnectorHost } from "../../src/core/connector.ts";
import { boundedSettle } from "../../src/core/deadline.ts";
import { Deque } from "../../src/core/deque.ts";
import { ErrorCode } from "../../src/core/errors.ts";
import { CloseReason } from "../../src/core/events.ts";
import { connectionHealth } from "../../src/core/health-score.ts";
import { sweepIdle } from "../../src/core/housekeeper.ts";
import { LeakWatch } from "../../src/core/leaks.ts";
import { Lease, LeaseState, MisuseGuard } from "../../src/core/lease.ts";
import { DrainLatch, Once, PendingWork, StartLatch } from "../../src/core/lifecycle.ts";
import { classifyWith, type PoolOptions, type ResolvedPoolOptions, resolvePoolOptions } from "../../src/core/options.ts";
import { acquireOptionsError, closeTimeout, fastPathAllowed, isPermanentCreateError, resizeTarget } from "../../src/core/pool-types.ts";
import { Retirement } from "../../src/core/retirement.ts";
import { PoolCounters } from "../../src/core/stats.ts";
import { Waiter } from "../../src/core/waiters.ts";
import { LifeguardError } from "../../src/index.ts";

type R = { id: number };
const options = (o: Partial<PoolOptions<R>> = {}): ResolvedPoolOptions<R> => resolvePoolOptions<R>({ create: () => ({ id: 0 }), ...o });
const conn = (id = 1, generation = 0, now = 0, lifetimeMs = 0) => new PooledConnection<R>(id, { id }, generation, now, lifetimeMs);

describe("Retirement: the one decision", () => {
	it("keeps a healthy connection of the current generation", () => {
		assert.equal(new Retirement(30).reason(conn(), 0), undefined);
	});

	it("answers in one order: dead, pool closed, stale, lifetime, unhealthy", () => {
		const r = new Retirement(30);
		const c = conn(1, 0, 0, 1_000);
		for (let i = 0; i < 5; i++) c.recordFault(0);
		c.dead = true;
		r.poolClosed = true;
		r.generation = 1;
		assert.equal(r.reason(c, 2_000), CloseReason.error);
		c.dead = false;
		assert.equal(r.reason(c, 2_000), CloseReason.poolClosed);
		r.poolClosed = false;
		assert.equal(r.reason(c, 2_000), CloseReason.stale);
		r.generation = 0;
		assert.equal(r.reason(c, 2_000), CloseReason.lifetime);
		assert.equal(r.reason(c, 10), CloseReason.unhealthy, "within its lifetime, five recent faults score below 30");
	});

	it("an untimed check (now undefined) skips the lifetime unless the housekeeper marked the connection expired", () => {
		const r = new Retirement(30);
		const c = conn(1, 0, 0, 1_000);
		assert.equal(r.reason(c, undefined), undefined);
		c.expired = true;
		assert.equal(r.reason(c, undefined), CloseReason.lifetime);
	});

	it("a faultless connection is never unhealthy under a threshold at or below FAULTLESS_MIN_SCORE", () => {
		const c = conn();
		c.latencyMs = 500;
		assert.equal(new Retirement(55).reason(c, 0, 1), undefined);
		assert.equal(new Retirement(80).reason(c, 0, 1), CloseReason.unhealthy, "a threshold above 55 scores every connection");
	});
});

function checkHost(): CheckHost<R> & { log: string[] } {
	const log: string[] = [];
	return {
		log,
		returnToService: (c) => log.push(`back ${c.id}`),
		offer: (c, now) => log.push(`offer ${c.id} ${now}`),
		retire: (c, reason, error) => log.push(`retire ${c.id} ${reason} ${(error as Error | undefined)?.message ?? ""}`.trim()),
		settled: () => log.push("settled"),
		track: () => {},
		validationFailed: () => log.push("counted"),
	};
}

describe("ConnectionChecks: validation and reset", () => {
	it("a passing validation marks the connection busy meanwhile, records its latency, and returns it to service", async () => {
		const host = checkHost();
		const checks = new ConnectionChecks<R>(options({ validate: async () => true }), host);
		const c = conn();
		checks.validate(c);
		assert.equal(c.state, ConnState.busy);
		assert.equal(checks.inFlight, 1);
		await sleep(5);
		assert.equal(checks.inFlight, 0);
		assert.ok(!Number.isNaN(c.latencyMs));
		assert.deepEqual(host.log, ["back 1"]);
	});

	it("a validation that says false or times out counts, records a fault and retires the connection", async () => {
		const host = checkHost();
		const checks = new ConnectionChecks<R>(
			options({ validate: async (r) => (r.id === 1 ? false : new Promise<boolean>(() => {})), validateTimeoutMs: 10 }),
			host,
		);
		const a = conn(1);
		const b = conn(2);
		checks.validate(a);
		checks.validate(b);
		await sleep(40);
		assert.equal(a.faults, 1);
		assert.equal(b.faults, 1);
		assert.equal(host.log.filter((l) => l === "counted").length, 2);
		assert.ok(host.log.some((l) => l.startsWith("retire 2 error") && l.includes("validateTimeoutMs")));
		assert.equal(checks.inFlight, 0);
	});

	it("a synchronous reset offers at once, with no work in flight; a throwing one retires without settling", () => {
		const host = checkHost();
		const checks = new ConnectionChecks<R>(options(), host);
		checks.resetThenOffer(conn(1), 7, () => {});
		checks.resetThenOffer(conn(2), 7, () => {
			throw new Error("dirty");
		});
		assert.deepEqual(host.log, ["offer 1 7", "retire 2 error dirty"]);
		assert.equal(checks.inFlight, 0);
	});

	it("an asynchronous reset is bounded by validateTimeoutMs", async () => {
		const host = checkHost();
		const checks = new ConnectionChecks<R>(options({ validateTimeoutMs: 10 }), host);
		checks.resetThenOffer(conn(1), 0, async () => {});
		checks.resetThenOffer(conn(2), 0, () => new Promise<void>(() => {}));
		assert.equal(checks.inFlight, 2);
		await sleep(40);
		assert.deepEqual(host.log.slice(0, 1), ["back 1"]);
		assert.ok(host.log[1].startsWith("retire 2 error reset took longer"));
		assert.equal(host.log[2], "settled");
	});
});

function connectorHost(): ConnectorHost<R> & { log: string[]; work: Promise<unknown>[] } {
	const log: string[] = [];
	const work: Promise<unknown>[] = [];
	return {
		log,
		work,
		opening: (id) => log.push(`opening ${id}`),
		created: (id, resource, generation) => log.push(`created ${id} ${resource.id} g${generation}`),
		createFailed: (id, error) => log.push(`failed ${id} ${(error as LifeguardError).code ?? (error as Error).message}`),
		destroyResource: (resource) => log.push(`destroy ${resource.id}`),
		track: (w) => work.push(w),
		retry: () => log.push("retry"),
		starting: () => false,
	};
}

describe("Connector: opening connections", () => {
	it("counts a create from before its factory runs until its end, and reports it", async () => {
		const host = connectorHost();
		const connector = new Connector<R>(options({ create: async () => ({ id: 42 }) }), host);
		connector.start(1, 3);
		assert.equal(connector.creating, 1);
		assert.deepEqual(host.log, ["opening 1"]);
		await Promise.all(host.work);
		assert.equal(connector.creating, 0);
		assert.deepEqual(host.log, ["opening 1", "created 1 42 g3"]);
	});

	it("a factory that ignores its signal fails at createTimeoutMs; its late resource is destroyed", async () => {
		const host = connectorHost();
		const connector = new Connector<R>(options({ create: () => sleep(40).then(() => ({ id: 9 })), createTimeoutMs: 10 }), host);
		connector.start(1, 0);
		await Promise.all(host.work);
		assert.deepEqual(host.log, ["opening 1", `failed 1 ${ErrorCode.CREATE_TIMEOUT}`]);
		await sleep(60);
		assert.deepEqual(host.log.at(-1), "destroy 9");
	});

	it("an afterCreate that throws destroys the resource and fails the create", async () => {
		const host = connectorHost();
		const connector = new Connector<R>(
			options({
				create: async () => ({ id: 5 }),
				afterCreate: async () => {
					throw new Error("setup failed");
				},
			}),
			host,
		);
		connector.start(1, 0);
		await Promise.all(host.work);
		assert.deepEqual(host.log, ["opening 1", "destroy 5", "failed 1 setup failed"]);
	});

	it("backs off after a failure (one retry timer), until a success starts over", async () => {
		const host = connectorHost();
		const connector = new Connector<R>(options({ createRetryInitialMs: 20, createRetryMaxMs: 20 }), host);
		assert.equal(connector.backingOff(performance.now()), false);
		connector.failed(performance.now(), new Error("refused"));
		assert.equal(connector.failing, true);
		assert.equal(connector.backingOff(performance.now()), true);
		assert.equal(connector.backingOff(performance.now()), true);
		await sleep(60);
		assert.deepEqual(host.log, ["retry"], "one timer however often asked");
		connector.succeeded();
		assert.equal(connector.failing, false);
		assert.equal((connector.lastError as Error).message, "refused", "stats keep the last create error");
		assert.equal(connector.backingOff(performance.now()), false);
	});

	it("stop() aborts the creates in flight with the reason", async () => {
		const host = connectorHost();
		const connector = new Connector<R>(
			options({ create: (signal) => new Promise<R>((_, reject) => signal.addEventListener("abort", () => reject(signal.reason))) }),
			host,
		);
		connector.start(1, 0);
		connector.stop(new Error("pool closing"));
		await Promise.all(host.work);
		assert.deepEqual(host.log, ["opening 1", "failed 1 pool closing"]);
	});
});

describe("LeakWatch", () => {
	const leased = (id: number, acquiredAt: number) => {
		const c = conn(id);
		const lease = new Lease<R>({ release() {}, destroy() {}, reportError: () => "caller", misuse() {} }, c, acquiredAt, {});
		lease.stack = `stack ${id}`;
		c.lease = lease;
		return c;
	};

	it("reports a lease held past leakDetectionMs once, reclaims past reclaimAfterMs, and counts each lease once", () => {
		const counters = new PoolCounters();
		const watch = new LeakWatch("p", { leakDetectionMs: 100, reclaimAfterMs: 200 }, counters);
		const conns = [leased(1, 0), leased(2, 150), conn(3)];
		const reports: unknown[] = [];
		const reclaimed: number[] = [];
		watch.check(
			conns,
			160,
			(leak) => reports.push(leak),
			(c) => reclaimed.push(c.id),
		);
		watch.check(
			conns,
			210,
			(leak) => reports.push(leak),
			(c) => reclaimed.push(c.id),
		);
		assert.deepEqual(reports, [{ connectionId: 1, heldMs: 160, stack: "stack 1" }]);
		assert.deepEqual(reclaimed, [1]);
		assert.equal(counters.leaks, 1, "reported then reclaimed: one leak");
		assert.equal(watch.enabled, true);
		assert.equal(new LeakWatch("p", { leakDetectionMs: 0, reclaimAfterMs: 0 }, counters).enabled, false);
	});

	it("warns (LIFEGUARD_LEAK) when nobody listens", async () => {
		const warnings: Error[] = [];
		const onWarning = (w: Error) => warnings.push(w);
		process.on("warning", onWarning);
		new LeakWatch("p", { leakDetectionMs: 10, reclaimAfterMs: 0 }, new PoolCounters()).check([leased(1, 0)], 20, undefined, () => {});
		await sleep(5);
		process.off("warning", onWarning);
		assert.equal((warnings[0] as NodeJS.ErrnoException | undefined)?.code, "LIFEGUARD_LEAK");
		assert.match(warnings[0].message, /stack 1/);
	});
});

describe("lifecycle latches", () => {
	it("PendingWork settles once nothing is pending, including work added meanwhile, and swallows failures", async () => {
		const work = new PendingWork();
		const order: string[] = [];
		work.track(
			sleep(10).then(() => {
				order.push("first");
				work.track(sleep(10).then(() => order.push("second")));
			}),
		);
		work.track(Promise.reject(new Error("reported elsewhere")));
		await work.settle();
		assert.deepEqual(order, ["first", "second"]);
		assert.equal(work.size, 0);
	});

	it("DrainLatch wakes at notify(), not before, or at its deadline", async () => {
		const latch = new DrainLatch();
		latch.notify();
		let woke = false;
		const waiting = latch.wait(Number.POSITIVE_INFINITY).then(() => (woke = true));
		await sleep(5);
		assert.equal(woke, false, "a notify before the wait does not count for it");
		latch.notify();
		await waiting;
		const started = performance.now();
		await latch.wait(20);
		assert.ok(performance.now() - started >= 15);
	});

	it("Once runs the sequence once and gives every caller its promise, a re-entrant one too", async () => {
		const once = new Once();
		let runs = 0;
		let inner: Promise<void> | undefined;
		const outer = once.run(async () => {
			runs++;
			inner = once.run(async () => {
				runs++;
			});
			await sleep(5);
		});
		assert.equal(inner, outer);
		assert.equal(
			once.run(async () => {}),
			outer,
		);
		await outer;
		assert.equal(runs, 1);
	});

	it("StartLatch settles every waiter at once", async () => {
		const latch = new StartLatch();
		const a = latch.wait();
		const b = latch.wait();
		assert.equal(latch.pending, true);
		latch.resolve();
		await Promise.all([a, b]);
		const c = latch.wait();
		latch.reject(new Error("closed"));
		await assert.rejects(c, /closed/);
		assert.equal(latch.pending, false);
	});
});

describe("sweepIdle", () => {
	it("takes out what retires, what idled past idleTimeoutMs (above min only) and what is due for keepalive; keeps the rest in order", () => {
		const idle = new Deque<PooledConnection<R>>();
		const [dead, old1, old2, due, fresh] = [conn(1), conn(2), conn(3), conn(4), conn(5)];
		dead.dead = true;
		for (const c of [old1, old2]) c.idleSince = 0;
		for (const c of [due, fresh]) c.idleSince = 900;
		due.checkedAt = 0;
		fresh.checkedAt = 950;
		old2.checkedAt = 950;
		for (const c of [dead, old1, old2, due, fresh]) idle.push(c);
		const o = options({ idleTimeoutMs: 500, healthCheckIntervalMs: 100, validate: () => true });
		const r = new Retirement(30);
		const sweep = sweepIdle(idle, 1_000, o, 1, (c) => r.reason(c, 1_000));
		assert.deepEqual(
			sweep.retired.map(([c, reason]) => [c.id, reason]),
			[
				[1, CloseReason.error],
				[2, CloseReason.idle],
			],
		);
		assert.deepEqual(
			sweep.due.map((c) => c.id),
			[4],
		);
		assert.deepEqual([idle.shift()?.id, idle.shift()?.id, idle.shift()], [3, 5, undefined], "one excess connection: the second long-idle one stays");
	});
});

describe("small helpers", () => {
	it("boundedSettle resolves when the work settles or at its bound, and never rejects", async () => {
		await boundedSettle(() => Promise.reject(new Error("ignored")), 1_000);
		const started = performance.now();
		await boundedSettle(() => new Promise(() => {}), 20);
		assert.ok(performance.now() - started >= 15);
	});

	it("classifyWith: the caller's without a classifier, the connection's when it throws", () => {
		assert.equal(classifyWith(undefined, new Error("x")), "caller");
		assert.equal(
			classifyWith(() => "connection", new Error("x")),
			"connection",
		);
		assert.equal(
			classifyWith(() => {
				throw new Error("bug");
			}, new Error("x")),
			"connection",
		);
	});

	it("MisuseGuard: a reclaimed lease's first release is silent; a double release warns once", async () => {
		const warnings: Error[] = [];
		const onWarning = (w: Error) => warnings.push(w);
		process.on("warning", onWarning);
		const guard = new MisuseGuard("p");
		const lease = new Lease<R>({ release() {}, destroy() {}, reportError: () => "caller", misuse() {} }, conn(), undefined, {});
		lease.state = LeaseState.reclaimed;
		guard.ended(lease, "release");
		assert.equal(lease.state, LeaseState.released);
		guard.ended(lease, "release");
		guard.ended(lease, "destroy");
		await sleep(5);
		process.off("warning", onWarning);
		assert.deepEqual(
			warnings.map((w) => (w as NodeJS.ErrnoException).code),
			["LIFEGUARD_DOUBLE_RELEASE"],
		);
	});

	it("Waiter.watch: the abort runs once, and not after the waiter settled", () => {
		const controller = new AbortController();
		let aborted = 0;
		const w = new Waiter<number>(
			() => {},
			() => {},
			undefined,
			0,
			1,
		);
		w.watch(controller.signal, () => aborted++);
		w.settle();
		controller.abort();
		assert.equal(aborted, 0);
		const other = new AbortController();
		const w2 = new Waiter<number>(
			() => {},
			() => {},
			undefined,
			0,
			1,
		);
		w2.watch(other.signal, () => aborted++);
		other.abort();
		other.abort();
		assert.equal(aborted, 1);
	});

	it("per-call checks: acquire options, resize sizes, close timeouts, permanent create errors", () => {
		assert.equal(fastPathAllowed({}), true);
		assert.equal(fastPathAllowed({ priority: 0 }), false, "a priority is checked on the slow path");
		assert.equal(fastPathAllowed({ timeoutMs: -1 }), false);
		assert.equal(acquireOptionsError("p", { timeoutMs: 100, priority: 0 }, 1), undefined);
		assert.match(acquireOptionsError("p", { priority: 1 }, 1)?.message ?? "", /priority/);
		assert.match(acquireOptionsError("p", { timeoutMs: Number.NaN }, 1)?.message ?? "", /timeoutMs/);
		assert.deepEqual(resizeTarget("p", { max: 4 }, { min: 1, max: 2 }), { min: 1, max: 4 });
		assert.throws(
			() => resizeTarget("p", { min: -1, max: 0, reason: 3 as never }, { min: 1, max: 2 }),
			(e: LifeguardError & { problems: { path: string }[] }) =>
				e.code === ErrorCode.CONFIG_INVALID && e.problems.map((p) => p.path).join() === "min,max,reason",
		);
		assert.equal(closeTimeout("p", undefined), 30_000);
		assert.equal(closeTimeout("p", { timeoutMs: 0 }), 0);
		assert.throws(() => closeTimeout("p", { timeoutMs: -5 }), { code: ErrorCode.CONFIG_INVALID });
		assert.equal(isPermanentCreateError(new LifeguardError(ErrorCode.DRIVER_MISSING, "no pg")), true);
		assert.equal(isPermanentCreateError(new Error("ECONNREFUSED")), false);
	});

	it("connectionHealth describes one connection for pool.health()", () => {
		const c = conn(7, 0, 0);
		c.state = ConnState.leased;
		c.uses = 3;
		assert.deepEqual(connectionHealth(c, 50, Number.NaN), {
			connectionId: 7,
			state: "active",
			score: 100,
			latencyMs: Number.NaN,
			ageMs: 50,
			uses: 3,
			faults: 0,
		});
	});
});
