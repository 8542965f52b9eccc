/**
 * docs/design.md's invariants under random sequences of acquire / release / destroy / double release /
 * create failure / create hang / timeout / abort / clear / close, checked after every step and
 * on every event the pool emits.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { createKeyedPool, createPool, type Lease, PoolEvent } from "../../src/index.ts";

// Double releases are part of the scenario; their one-per-pool warnings would flood the output.
process.removeAllListeners("warning");

type Op =
	| { kind: "acquire"; timeoutMs: number; abortAfterMs: number | undefined; key: number }
	| { kind: "release"; index: number; twice: boolean }
	| { kind: "destroy"; index: number }
	| { kind: "createMode"; mode: "ok" | "fail" | "hang" | "hangIgnoringSignal" | "slow" }
	| { kind: "sleep"; ms: number }
	| { kind: "clear" }
	| { kind: "close"; timeoutMs: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
	{
		weight: 5,
		arbitrary: fc.record({
			kind: fc.constant("acquire" as const),
			timeoutMs: fc.integer({ min: 1, max: 40 }),
			abortAfterMs: fc.option(fc.integer({ min: 0, max: 30 }), { nil: undefined }),
			key: fc.integer({ min: 0, max: 2 }),
		}),
	},
	{ weight: 4, arbitrary: fc.record({ kind: fc.constant("release" as const), index: fc.nat(), twice: fc.boolean() }) },
	{ weight: 1, arbitrary: fc.record({ kind: fc.constant("destroy" as const), index: fc.nat() }) },
	{
		weight: 1,
		arbitrary: fc.record({
			kind: fc.constant("createMode" as const),
			mode: fc.constantFrom("ok" as const, "fail" as const, "hang" as const, "hangIgnoringSignal" as const, "slow" as const),
		}),
	},
	{ weight: 2, arbitrary: fc.record({ kind: fc.constant("sleep" as const), ms: fc.integer({ min: 0, max: 15 }) }) },
	{ weight: 1, arbitrary: fc.record({ kind: fc.constant("clear" as const) }) },
	{ weight: 1, arbitrary: fc.record({ kind: fc.constant("close" as const), timeoutMs: fc.integer({ min: 0, max: 20 }) }) },
);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// Timers fire late under load (two cores, other tests): the slack every deadline is allowed.
const TIMER_SLACK_MS = 60;

interface Res {
	id: number;
	open: boolean;
	key: number;
}

/** A factory whose behaviour the test switches, and a ledger of what it has open. */
function backend() {
	let mode: "ok" | "fail" | "hang" | "hangIgnoringSignal" | "slow" = "ok";
	let next = 0;
	const open = new Set<Res>();
	return {
		open,
		setMode: (m: typeof mode) => {
			mode = m;
		},
		create: (key: number, signal: AbortSignal): Promise<Res> => {
			const m = mode;
			if (m === "fail") return Promise.reject(new Error("backend down"));
			if (m === "hangIgnoringSignal") return new Promise(() => {});
			return new Promise((resolve, reject) => {
				const make = () => {
					const r = { id: ++next, open: true, key };
					open.add(r);
					resolve(r);
				};
				if (m === "ok") return make();
				const t = setTimeout(make, m === "slow" ? 5 : 1_000_000);
				signal.addEventListener("abort", () => {
					clearTimeout(t);
					reject(signal.reason);
				});
			});
		},
		destroy: (r: Res) => {
			assert.ok(r.open, "a resource is destroyed once");
			r.open = false;
			open.delete(r);
		},
	};
}

async function runScenario(ops: Op[], keyed: boolean): Promise<void> {
	const max = 3;
	const maxTotal = 4;
	const b = backend();
	const common = { min: 1, createTimeoutMs: 20, createRetryInitialMs: 1, createRetryMaxMs: 5, validateAfterIdleMs: 5, idleTimeoutMs: 30 };
	const validate = (r: Res) => r.open;
	const keyedPool = keyed
		? createKeyedPool<number, Res>({
				...common,
				maxPerKey: max,
				maxTotal,
				create: (key, signal) => b.create(key, signal),
				destroy: (r) => b.destroy(r),
				validate,
			})
		: undefined;
	const pool = keyed ? undefined : createPool<Res>({ ...common, max, create: (signal) => b.create(0, signal), destroy: (r) => b.destroy(r), validate });
	const borrowed = new Set<Res>();
	// The resource is kept beside its lease: a lease the pool ended (close, reclaim) no longer hands it out.
	const held: { lease: Lease<Res>; resource: Res }[] = [];
	const settles: Promise<void>[] = [];
	const violations: string[] = [];
	const closing: (Promise<void> | undefined)[] = [];

	const check = () => {
		if (pool !== undefined) {
			if (pool.activeCount + pool.idleCount + pool.creatingCount > max) violations.push(`size ${pool.size} > max ${max}`);
		} else if (keyedPool !== undefined) {
			if (keyedPool.size > maxTotal) violations.push(`budget ${keyedPool.size} > ${maxTotal}`);
			for (const k of keyedPool.keys()) {
				const p = keyedPool.pool(k);
				if (p.activeCount + p.idleCount + p.creatingCount > max) violations.push(`key ${k}: size > ${max}`);
			}
		}
	};
	const target = pool ?? keyedPool;
	for (const event of Object.values(PoolEvent)) target?.on(event, check);
	if (pool !== undefined) void pool.start().catch(() => {});

	for (const op of ops) {
		switch (op.kind) {
			case "acquire": {
				const started = performance.now();
				const controller = op.abortAfterMs === undefined ? undefined : new AbortController();
				const abortTimer = controller && setTimeout(() => controller.abort(), op.abortAfterMs);
				const options = { timeoutMs: op.timeoutMs, signal: controller?.signal };
				const p = keyedPool ? keyedPool.acquire(op.key, options) : (pool as NonNullable<typeof pool>).acquire(options);
				settles.push(
					p.then(
						(lease) => {
							clearTimeout(abortTimer);
							const waited = performance.now() - started;
							if (waited > op.timeoutMs + TIMER_SLACK_MS) violations.push(`resolved after ${waited} ms, deadline ${op.timeoutMs}`);
							if (borrowed.has(lease.resource)) violations.push(`resource ${lease.resource.id} leased twice`);
							if (!lease.resource.open) violations.push(`resource ${lease.resource.id} leased after destroy`);
							borrowed.add(lease.resource);
							held.push({ lease, resource: lease.resource });
						},
						(error: Error & { code?: string }) => {
							clearTimeout(abortTimer);
							const waited = performance.now() - started;
							if (waited > op.timeoutMs + TIMER_SLACK_MS) violations.push(`rejected after ${waited} ms, deadline ${op.timeoutMs}`);
							if (!["POOL_TIMEOUT", "ACQUIRE_ABORTED", "POOL_CLOSED"].includes(error.code ?? "")) violations.push(`untyped rejection: ${error.message}`);
						},
					),
				);
				break;
			}
			case "release":
			case "destroy": {
				if (held.length === 0) break;
				const { lease, resource } = held.splice(op.index % held.length, 1)[0];
				borrowed.delete(resource);
				if (op.kind === "destroy") lease.destroy(new Error("broken"));
				else {
					lease.release();
					if (op.twice) lease.release();
				}
				break;
			}
			case "createMode":
				b.setMode(op.mode);
				break;
			case "sleep":
				await sleep(op.ms);
				break;
			case "clear":
				if (keyedPool) keyedPool.clear();
				else pool?.clear();
				break;
			case "close":
				// Not awaited: work goes on against a closing pool, as in a real shutdown.
				closing.push((keyedPool ?? pool)?.close({ timeoutMs: op.timeoutMs }));
				break;
		}
		check();
	}
	// Every acquire settles by its deadline, whatever the backend does.
	const allSettled = Promise.all(settles);
	const guard = sleep(40 + TIMER_SLACK_MS * 2).then(() => "hung");
	assert.notEqual(await Promise.race([allSettled.then(() => "ok"), guard]), "hung", "an acquire did not settle by its deadline");
	for (const { lease } of held) lease.release();
	b.setMode("ok");
	await (keyedPool ?? pool)?.close({ timeoutMs: 100 });
	await Promise.all(closing);
	assert.deepEqual(violations, []);
	assert.equal(b.open.size, 0, "nothing is left open after close");
}

describe("invariants under random operation sequences (fast-check)", () => {
	it("single pool: never more than max, no double lease, every acquire settles by its deadline, close mid-sequence is safe, nothing open after close", async () => {
		await fc.assert(
			fc.asyncProperty(fc.array(opArb, { minLength: 5, maxLength: 40 }), (ops) => runScenario(ops, false)),
			{ numRuns: 60 },
		);
	});

	it("keyed pool: the same, and the global budget is never exceeded", async () => {
		await fc.assert(
			fc.asyncProperty(fc.array(opArb, { minLength: 5, maxLength: 40 }), (ops) => runScenario(ops, true)),
			{ numRuns: 60 },
		);
	});
});
