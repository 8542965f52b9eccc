/**
 * The core's safety invariants hold under the generic-pool API: random sequences of acquire
 * (with priorities), release, destroy, double and foreign releases and clear never lend one
 * resource to two borrowers, never exceed max, never lend a destroyed resource, and leave
 * nothing open after drain + clear.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { createPool, NotBorrowedError } from "../../src/compat/generic-pool.ts";

interface Res {
	id: number;
}

type Op =
	| { kind: "acquire"; priority: number | undefined }
	| { kind: "release"; pick: number }
	| { kind: "destroy"; pick: number }
	| { kind: "releaseAgain"; pick: number }
	| { kind: "releaseForeign" }
	| { kind: "invalidate"; pick: number }
	| { kind: "clear" };

const opArb: fc.Arbitrary<Op> = fc.oneof(
	{ weight: 4, arbitrary: fc.record({ kind: fc.constant("acquire" as const), priority: fc.option(fc.integer({ min: -1, max: 3 }), { nil: undefined }) }) },
	{ weight: 3, arbitrary: fc.record({ kind: fc.constant("release" as const), pick: fc.nat() }) },
	{ weight: 1, arbitrary: fc.record({ kind: fc.constant("destroy" as const), pick: fc.nat() }) },
	{ weight: 1, arbitrary: fc.record({ kind: fc.constant("releaseAgain" as const), pick: fc.nat() }) },
	{ weight: 1, arbitrary: fc.constant({ kind: "releaseForeign" as const }) },
	{ weight: 1, arbitrary: fc.record({ kind: fc.constant("invalidate" as const), pick: fc.nat() }) },
	{ weight: 1, arbitrary: fc.constant({ kind: "clear" as const }) },
);

const configArb = fc.record({
	max: fc.integer({ min: 1, max: 4 }),
	min: fc.integer({ min: 0, max: 4 }),
	fifo: fc.boolean(),
	testOnBorrow: fc.boolean(),
	testOnReturn: fc.boolean(),
	priorityRange: fc.integer({ min: 1, max: 3 }),
});

/** Lets every settled acquire run its continuation, so the model and the pool agree before the next step. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

const unhandled: unknown[] = [];
const onUnhandled = (e: unknown) => unhandled.push(e);
before(() => process.on("unhandledRejection", onUnhandled));
after(() => {
	process.off("unhandledRejection", onUnhandled);
	assert.deepEqual(unhandled, []);
});

describe("generic-pool API over the lifeguard core", () => {
	it("random sequences never lend a resource twice, never exceed max and close everything they created", async () => {
		await fc.assert(
			fc.asyncProperty(configArb, fc.array(opArb, { maxLength: 50 }), async (config, ops) => {
				let nextId = 0;
				const live = new Set<Res>();
				const destroyed = new Set<Res>();
				const invalid = new Set<Res>();
				const pool = createPool<Res>(
					{
						create: async () => {
							const r = { id: nextId++ };
							live.add(r);
							return r;
						},
						destroy: async (r) => {
							assert.ok(live.delete(r), `resource ${r.id} destroyed twice or never created`);
							destroyed.add(r);
						},
						validate: (r) => !invalid.has(r),
					},
					config,
				);
				const held: Res[] = [];
				const returned = new Set<Res>();
				let waiting = 0;
				const grant = (r: Res) => {
					waiting--;
					assert.ok(!held.includes(r), `resource ${r.id} lent to two borrowers`);
					assert.ok(!destroyed.has(r), `destroyed resource ${r.id} lent`);
					held.push(r);
					returned.delete(r);
				};
				const check = () => {
					assert.ok(pool.size <= pool.max, `size ${pool.size} > max ${pool.max}`);
					assert.equal(pool.borrowed, held.length);
					assert.equal(pool.pending, waiting);
					assert.ok(pool.borrowed + pool.available <= pool.size);
					assert.equal(pool.spareResourceCapacity, pool.max - pool.size);
				};
				const take = (pick: number): Res | undefined => (held.length === 0 ? undefined : held.splice(pick % held.length, 1)[0]);

				for (const op of ops) {
					switch (op.kind) {
						case "acquire":
							waiting++;
							void pool.acquire(op.priority).then(grant);
							break;
						case "release": {
							const r = take(op.pick);
							if (r === undefined) break;
							returned.add(r);
							await pool.release(r);
							break;
						}
						case "destroy": {
							const r = take(op.pick);
							if (r !== undefined) await pool.destroy(r);
							break;
						}
						case "releaseAgain": {
							const again = [...returned];
							if (again.length === 0) break;
							const before = { size: pool.size, available: pool.available, borrowed: pool.borrowed };
							await assert.rejects(pool.release(again[op.pick % again.length]), NotBorrowedError);
							assert.deepEqual({ size: pool.size, available: pool.available, borrowed: pool.borrowed }, before);
							break;
						}
						case "releaseForeign":
							await assert.rejects(pool.release({ id: -1 }), NotBorrowedError);
							break;
						case "invalidate":
							if (held.length > 0) invalid.add(held[op.pick % held.length]);
							break;
						case "clear":
							await pool.clear();
							break;
					}
					await settle();
					check();
				}

				while (held.length > 0 || waiting > 0) {
					for (const r of held.splice(0)) await pool.release(r);
					await settle();
				}
				await pool.drain();
				await pool.clear();
				assert.equal(live.size, 0, `${live.size} resources left open`);
				assert.equal(pool.size, 0);
			}),
			{ numRuns: 150 },
		);
	});
});
